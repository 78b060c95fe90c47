using System.Globalization;
using O2RL.Algorithms.Runs;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;

namespace O2RL.Algorithms.Training;

/// <summary>
/// A learner whose complete training state (networks, targets, optimiser moments and step counts, temperatures,
/// random-stream counters, update counters) can be saved and restored, so that a resumed run continues exactly
/// as an uninterrupted one would (bit-identical on the CPU backend).
/// </summary>
public interface IResumableAgent
{
    /// <summary>Adds every piece of state to <paramref name="state"/> (tensor names and counters under the agent's own keys).</summary>
    void SaveState(TrainingState state);

    /// <summary>Restores what <see cref="SaveState"/> wrote into an agent built with the same config, dimensions and seed.</summary>
    void RestoreState(TrainingState state);
}

/// <summary>
/// The full state of a training run at one environment step as named host tensors plus named integer and
/// floating-point counters; stored as one safetensors file (counters in its metadata, written exactly with
/// round-trip formatting) and written atomically.
/// </summary>
public sealed class TrainingState
{
    const string CounterPrefix = "counter.", RealPrefix = "real.", TextPrefix = "text.";
    readonly Dictionary<string, NamedTensor> tensors = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> metadata = new(StringComparer.Ordinal);

    /// <summary>An empty state.</summary>
    public TrainingState() { }

    TrainingState(Checkpoint checkpoint, string source)
    {
        Source = source;
        foreach (var (name, tensor) in checkpoint.Tensors) tensors[name] = tensor;
        foreach (var (key, value) in checkpoint.Metadata) metadata[key] = value;
    }

    /// <summary>Where the state was read from (for error messages); null for a state built in memory.</summary>
    public string? Source { get; }

    /// <summary>Names of every tensor held.</summary>
    public IEnumerable<string> TensorNames => tensors.Keys;

    /// <summary>Stores a host copy of a device tensor (any shape, kept as given).</summary>
    public void SetTensor(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        SetTensor(name, tensor.Shape, tensor.ToArray());
    }

    /// <summary>Stores host values with a shape.</summary>
    public void SetTensor(string name, int[] shape, float[] values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        tensors[name] = new NamedTensor(name, (int[])shape.Clone(), values);
    }

    /// <summary>The host values of a stored tensor.</summary>
    public NamedTensor GetTensor(string name) =>
        tensors.TryGetValue(name, out var tensor) ? tensor
        : throw new InvalidDataException($"{Describe()} has no tensor '{name}' (it has {tensors.Count} tensors); was it written by another algorithm or config?");

    /// <summary>Uploads a stored tensor into a device tensor of the same number of elements.</summary>
    public void RestoreTensor(string name, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var stored = GetTensor(name);
        if (stored.Data.Length != destination.Length)
            throw new InvalidDataException($"{Describe()}: tensor '{name}' has {stored.Data.Length} values ({stored.ShapeText}) but the run expects {destination.Length} ([{destination.ShapeText}]); the config or architecture differs");
        destination.Backend.Upload(stored.Data, destination);
    }

    /// <summary>Stores an integer counter.</summary>
    public void SetCounter(string name, long value) => metadata[CounterPrefix + name] = value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Stores an unsigned counter (random-stream positions).</summary>
    public void SetCounter(string name, ulong value) => metadata[CounterPrefix + name] = value.ToString(CultureInfo.InvariantCulture);

    /// <summary>An integer counter.</summary>
    public long GetCounter(string name) =>
        long.Parse(Get(CounterPrefix + name), NumberStyles.Integer, CultureInfo.InvariantCulture);

    /// <summary>An unsigned counter.</summary>
    public ulong GetUnsignedCounter(string name) =>
        ulong.Parse(Get(CounterPrefix + name), NumberStyles.Integer, CultureInfo.InvariantCulture);

    /// <summary>Stores a real number exactly (round-trip text; NaN and infinities included).</summary>
    public void SetReal(string name, double value) => metadata[RealPrefix + name] = value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A real number stored with <see cref="SetReal"/>.</summary>
    public double GetReal(string name) => double.Parse(Get(RealPrefix + name), NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Stores a short text (e.g. the algorithm name, checked on restore).</summary>
    public void SetText(string name, string value) => metadata[TextPrefix + name] = value;

    /// <summary>A stored text, or null.</summary>
    public string? GetTextOrNull(string name) => metadata.TryGetValue(TextPrefix + name, out var value) ? value : null;

    /// <summary>Whether a counter is present.</summary>
    public bool HasCounter(string name) => metadata.ContainsKey(CounterPrefix + name);

    /// <summary>Stores a parameter set's flat values.</summary>
    public void SetParameters(string name, ParameterSet parameters) => SetTensor(name, parameters.Values);

    /// <summary>Restores a parameter set's flat values.</summary>
    public void RestoreParameters(string name, ParameterSet parameters) => RestoreTensor(name, parameters.Values);

    /// <summary>Stores an Adam optimiser's moments, step count and current learning rate.</summary>
    public void SetAdam(string name, Adam optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        SetTensor(name + ".exp_avg", optimizer.FirstMoment);
        SetTensor(name + ".exp_avg_sq", optimizer.SecondMoment);
        SetCounter(name + ".step", optimizer.StepCount);
        SetReal(name + ".lr", optimizer.LearningRate);
    }

    /// <summary>Restores what <see cref="SetAdam"/> stored.</summary>
    public void RestoreAdam(string name, Adam optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        RestoreTensor(name + ".exp_avg", optimizer.FirstMoment);
        RestoreTensor(name + ".exp_avg_sq", optimizer.SecondMoment);
        optimizer.StepCount = GetCounter(name + ".step");
        optimizer.LearningRate = (float)GetReal(name + ".lr");
    }

    /// <summary>Stores a device random stream's position (its seed is checked on restore).</summary>
    public void SetRandom(string name, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        SetCounter(name + ".seed", random.Seed);
        SetCounter(name + ".counter", random.Counter);
    }

    /// <summary>Restores a device random stream's position.</summary>
    public void RestoreRandom(string name, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckSeed(name, random.Seed);
        random.Counter = GetUnsignedCounter(name + ".counter");
    }

    /// <summary>Stores a host random stream's position.</summary>
    public void SetRandom(string name, HostRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        SetCounter(name + ".seed", random.Seed);
        SetCounter(name + ".counter", random.Counter);
    }

    /// <summary>Restores a host random stream's position.</summary>
    public void RestoreRandom(string name, HostRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckSeed(name, random.Seed);
        random.Counter = GetUnsignedCounter(name + ".counter");
    }

    void CheckSeed(string name, ulong seed)
    {
        ulong stored = GetUnsignedCounter(name + ".seed");
        if (stored != seed)
            throw new InvalidDataException($"{Describe()}: random stream '{name}' was seeded with {stored} but this run seeds it with {seed}; resume with the run's own seed");
    }

    /// <summary>
    /// Stores a replay buffer's held rows and its ring position. Rows beyond <see cref="DeviceReplayBuffer.Count"/>
    /// are never sampled and are not stored.
    /// </summary>
    public void SetReplayBuffer(string name, DeviceReplayBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        float[] rows = buffer.Count == 0 ? [] : buffer.Rows.SliceRows(0, buffer.Count).ToArray();
        SetTensor(name + ".rows", [buffer.Count, buffer.Layout.Width], rows);
        SetCounter(name + ".count", buffer.Count);
        SetCounter(name + ".write_position", buffer.WritePosition);
        SetCounter(name + ".capacity", buffer.Capacity);
    }

    /// <summary>
    /// Brings a freshly built replay buffer (empty, or holding the offline rows its sampler copies in at
    /// construction) to the stored state: every slot, the count and the write position equal the stored ones, so
    /// index draws pick the same transitions as before.
    /// </summary>
    public void RestoreReplayBuffer(string name, DeviceReplayBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        long count = GetCounter(name + ".count"), position = GetCounter(name + ".write_position"), capacity = GetCounter(name + ".capacity");
        if (capacity != buffer.Capacity)
            throw new InvalidDataException($"{Describe()}: replay buffer '{name}' had capacity {capacity} but this run's has {buffer.Capacity}; the config differs");
        var layout = buffer.Layout;
        int width = layout.Width, c = (int)count, p = (int)position, held = buffer.Count;
        var stored = GetTensor(name + ".rows");
        if (stored.Data.Length != count * width)
            throw new InvalidDataException($"{Describe()}: replay buffer '{name}' rows {stored.ShapeText} do not match {count} transitions of width {width}");
        if (count < capacity && position != count)
            throw new InvalidDataException($"{Describe()}: replay buffer '{name}' is partly filled ({count}) but its write position is {position}");
        if (c < buffer.Capacity)
        {
            // Not yet wrapped: the rows already held (copied offline data) must be the stored prefix; add the rest.
            if (held > c || buffer.WritePosition != held)
                throw new InvalidDataException($"{Describe()}: replay buffer '{name}' held {c} transitions but this run starts with {held}; the dataset or mixing mode differs");
            if (held > 0 && !buffer.Rows.SliceRows(0, held).ToArray().AsSpan().SequenceEqual(stored.Data.AsSpan(0, held * width)))
                throw new InvalidDataException($"{Describe()}: the offline rows in replay buffer '{name}' differ from this run's; the dataset differs");
            AddRows(buffer, stored.Data, firstSlot: held, rows: c - held, skipped: 0, wrapAt: c);
        }
        else
        {
            // Full ring: AddRange advances over rows beyond the capacity without writing them, then writes the last
            // `capacity` rows in ring order. Skipping (p − q) mod capacity rows from the current position q makes the
            // writes start at slot p and end with the write position back at p.
            int skipped = (int)(((p - buffer.WritePosition) % c + c) % c);
            AddRows(buffer, stored.Data, firstSlot: p, rows: c, skipped, wrapAt: c);
        }
        if (buffer.Count != c || buffer.WritePosition != p % buffer.Capacity)
            throw new InvalidOperationException($"replay buffer '{name}' restored to count {buffer.Count} / position {buffer.WritePosition}, expected {c} / {p}");
    }

    /// <summary>Adds stored slots firstSlot, firstSlot + 1, … (mod wrapAt) after <paramref name="skipped"/> placeholder rows.</summary>
    static void AddRows(DeviceReplayBuffer buffer, float[] stored, int firstSlot, int rows, int skipped, int wrapAt)
    {
        if (rows == 0) return;
        var layout = buffer.Layout;
        int total = skipped + rows, od = layout.ObservationDim, ad = layout.ActionDim, width = layout.Width;
        var observations = new float[total * od];
        var actions = new float[total * ad];
        var rewards = new float[total];
        var nextObservations = new float[total * od];
        var terminals = new float[total];
        for (int k = 0; k < rows; k++)
        {
            int slot = (firstSlot + k) % wrapAt, target = skipped + k;
            var row = stored.AsSpan(slot * width, width);
            row.Slice(layout.ObservationColumn, od).CopyTo(observations.AsSpan(target * od, od));
            row.Slice(layout.ActionColumn, ad).CopyTo(actions.AsSpan(target * ad, ad));
            rewards[target] = row[layout.RewardColumn];
            row.Slice(layout.NextObservationColumn, od).CopyTo(nextObservations.AsSpan(target * od, od));
            terminals[target] = row[layout.TerminalColumn];
        }
        buffer.AddRange(new Transitions(od, ad, observations, actions, rewards, nextObservations, terminals));
    }

    /// <summary>The first tensor holding a NaN or infinity, or null when every value is finite.</summary>
    public string? FirstNonFiniteTensor()
    {
        foreach (var (name, tensor) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
            foreach (float value in tensor.Data)
                if (!float.IsFinite(value)) return name;
        return null;
    }

    /// <summary>Writes the state to <paramref name="path"/> atomically (a crash leaves the previous file or none).</summary>
    public void Write(string path)
    {
        var list = tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        AtomicFile.Write(path, stream => SafetensorsFile.Write(stream, list, metadata));
    }

    /// <summary>Reads a state written by <see cref="Write"/>.</summary>
    public static TrainingState Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"training state '{path}' does not exist", path);
        return new TrainingState(SafetensorsFile.Read(path), path);
    }

    /// <summary>
    /// When <paramref name="metadata"/> is a run's step checkpoint (a state written by the loops), the one-line reason it
    /// is not a policy and what to use instead; null otherwise. Eval, <c>--from</c> and Inference say the same.
    /// </summary>
    public static string? NotAPolicy(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(TextPrefix + "algorithm", out var algorithm) || !metadata.TryGetValue(CounterPrefix + "trainer.step", out var step))
            return null;
        return $"this is the {algorithm} training state of step {step}, kept for resuming the run (--resume), not a policy; " +
            "use the policy_<step>.safetensors written beside it, or the run's final checkpoint";
    }

    string Get(string key) =>
        metadata.TryGetValue(key, out var value) ? value
        : throw new InvalidDataException($"{Describe()} has no entry '{key}'; was it written by another algorithm or version?");

    string Describe() => Source is null ? "training state" : $"training state '{Source}'";
}
