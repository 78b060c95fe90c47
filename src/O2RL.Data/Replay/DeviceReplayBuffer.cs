using O2RL.Engine;

namespace O2RL.Data.Replay;

/// <summary>
/// Column layout of one packed transition row: [ s (obsDim) | a (actDim) | r | s' (obsDim) | m ]. Storing a
/// transition as one contiguous row makes a sample one gather of adjacent bytes per row instead of five scattered
/// ones: measured 4× faster for batch 256 from 1M rows of (17, 6) on the CPU backend (49 µs against 189 µs).
/// </summary>
/// <param name="ObservationDim">obs_dim.</param>
/// <param name="ActionDim">act_dim.</param>
public readonly record struct TransitionLayout(int ObservationDim, int ActionDim)
{
    /// <summary>First column of s.</summary>
    public int ObservationColumn => 0;

    /// <summary>First column of a.</summary>
    public int ActionColumn => ObservationDim;

    /// <summary>Column of r.</summary>
    public int RewardColumn => ObservationDim + ActionDim;

    /// <summary>First column of s'.</summary>
    public int NextObservationColumn => ObservationDim + ActionDim + 1;

    /// <summary>Column of m.</summary>
    public int TerminalColumn => 2 * ObservationDim + ActionDim + 1;

    /// <summary>Floats per packed row.</summary>
    public int Width => 2 * ObservationDim + ActionDim + 2;

    /// <summary>Writes one transition into a packed row.</summary>
    public void Pack(Span<float> row, ReadOnlySpan<float> observation, ReadOnlySpan<float> action, float reward, ReadOnlySpan<float> nextObservation, float terminal)
    {
        observation.CopyTo(row.Slice(ObservationColumn, ObservationDim));
        action.CopyTo(row.Slice(ActionColumn, ActionDim));
        row[RewardColumn] = reward;
        nextObservation.CopyTo(row.Slice(NextObservationColumn, ObservationDim));
        row[TerminalColumn] = terminal;
    }
}

/// <summary>
/// A minibatch of transitions on the device, allocated once and refilled by every sample: the gathered packed rows
/// and, split from them, one tensor per field. Shapes: Packed [B, layout width]; Observations, NextObservations
/// [B, obsDim]; Actions [B, actDim]; Rewards, Terminals [B, 1].
/// </summary>
public sealed class TransitionBatch
{
    /// <summary>Allocates a batch of <paramref name="batchSize"/> rows on <paramref name="backend"/>.</summary>
    public TransitionBatch(Backend backend, int batchSize, int observationDim, int actionDim)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be at least 1");
        Backend = backend;
        Layout = new TransitionLayout(observationDim, actionDim);
        Packed = backend.Allocate(batchSize, Layout.Width);
        Observations = backend.Allocate(batchSize, observationDim);
        Actions = backend.Allocate(batchSize, actionDim);
        Rewards = backend.Allocate(batchSize, 1);
        NextObservations = backend.Allocate(batchSize, observationDim);
        Terminals = backend.Allocate(batchSize, 1);
    }

    /// <summary>The backend holding the batch.</summary>
    public Backend Backend { get; }

    /// <summary>Column layout of <see cref="Packed"/>.</summary>
    public TransitionLayout Layout { get; }

    /// <summary>Gathered packed rows: [B, Layout.Width].</summary>
    public Tensor Packed { get; }

    /// <summary>s: [B, obsDim].</summary>
    public Tensor Observations { get; }

    /// <summary>a: [B, actDim].</summary>
    public Tensor Actions { get; }

    /// <summary>r: [B, 1].</summary>
    public Tensor Rewards { get; }

    /// <summary>s': [B, obsDim].</summary>
    public Tensor NextObservations { get; }

    /// <summary>m (1 = true terminal): [B, 1].</summary>
    public Tensor Terminals { get; }

    /// <summary>B.</summary>
    public int Size => Rewards.Rows;

    /// <summary>Splits <see cref="Packed"/> into the field tensors (five column copies on the device).</summary>
    public void Unpack()
    {
        var l = Layout;
        Backend.CopyColumns(Packed, l.ObservationColumn, Observations, 0, l.ObservationDim);
        Backend.CopyColumns(Packed, l.ActionColumn, Actions, 0, l.ActionDim);
        Backend.CopyColumns(Packed, l.RewardColumn, Rewards, 0, 1);
        Backend.CopyColumns(Packed, l.NextObservationColumn, NextObservations, 0, l.ObservationDim);
        Backend.CopyColumns(Packed, l.TerminalColumn, Terminals, 0, 1);
    }

    internal void Dispose()
    {
        foreach (var t in new[] { Packed, Observations, Actions, Rewards, NextObservations, Terminals }) t.Storage.Dispose();
    }
}

/// <summary>
/// A ring buffer of (s, a, r, s', m) transitions resident on the compute device, stored as packed rows
/// (<see cref="TransitionLayout"/>), filled through uploads and sampled uniformly with replacement by on-device
/// Philox indices and one row gather. When full, new transitions overwrite the oldest.
/// </summary>
public sealed class DeviceReplayBuffer : IDisposable
{
    const int UploadBlockRows = 8192;
    readonly float[] staging;

    /// <summary>Allocates an empty buffer of <paramref name="capacity"/> rows on <paramref name="backend"/>.</summary>
    public DeviceReplayBuffer(Backend backend, int capacity, int observationDim, int actionDim)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be at least 1");
        if (observationDim < 1 || actionDim < 1)
            throw new ArgumentOutOfRangeException(nameof(observationDim), $"dimensions must be positive: obs {observationDim}, action {actionDim}");
        Backend = backend;
        Capacity = capacity;
        Layout = new TransitionLayout(observationDim, actionDim);
        Rows = backend.Allocate(capacity, Layout.Width);
        staging = new float[Math.Min(capacity, UploadBlockRows) * Layout.Width];
    }

    /// <summary>The backend holding the storage.</summary>
    public Backend Backend { get; }

    /// <summary>Maximum number of transitions held.</summary>
    public int Capacity { get; }

    /// <summary>Column layout of <see cref="Rows"/>.</summary>
    public TransitionLayout Layout { get; }

    /// <summary>obs_dim.</summary>
    public int ObservationDim => Layout.ObservationDim;

    /// <summary>act_dim.</summary>
    public int ActionDim => Layout.ActionDim;

    /// <summary>Transitions currently held (≤ Capacity).</summary>
    public int Count { get; private set; }

    /// <summary>Row the next transition is written to.</summary>
    public int WritePosition { get; private set; }

    /// <summary>Transitions ever added (including overwritten ones).</summary>
    public long TotalAdded { get; private set; }

    /// <summary>Packed transitions: [Capacity, Layout.Width].</summary>
    public Tensor Rows { get; }

    /// <summary>Adds one transition (one row upload).</summary>
    public void Add(ReadOnlySpan<float> observation, ReadOnlySpan<float> action, float reward, ReadOnlySpan<float> nextObservation, bool terminal)
    {
        if (observation.Length != ObservationDim || nextObservation.Length != ObservationDim)
            throw new ArgumentException($"observation has {observation.Length} and next observation {nextObservation.Length} values but the buffer has {ObservationDim} observation dimensions");
        if (action.Length != ActionDim)
            throw new ArgumentException($"action has {action.Length} values but the buffer has {ActionDim} action dimensions");
        var row = staging.AsSpan(0, Layout.Width);
        Layout.Pack(row, observation, action, reward, nextObservation, terminal ? 1f : 0f);
        Backend.Upload(row, Rows.SliceRows(WritePosition, 1));
        Advance(1);
    }

    /// <summary>Adds transitions [first, first + count) of <paramref name="transitions"/> in bulk, wrapping around the ring.</summary>
    public void AddRange(Transitions transitions, int first = 0, int? count = null)
    {
        ArgumentNullException.ThrowIfNull(transitions);
        if (transitions.ObservationDim != ObservationDim || transitions.ActionDim != ActionDim)
            throw new ArgumentException($"transitions have obs {transitions.ObservationDim} / action {transitions.ActionDim} dimensions but the buffer has {ObservationDim} / {ActionDim}");
        int n = count ?? transitions.Count - first;
        // long: first + n near int.MaxValue would wrap negative and pass, and the buffer would advance before the copy failed.
        if (first < 0 || n < 0 || (long)first + n > transitions.Count)
            throw new ArgumentOutOfRangeException(nameof(first), $"range [{first}, {(long)first + n}) is outside {transitions.Count} transitions");
        // When more than the capacity is added only the newest Capacity rows survive; skip the rest.
        if (n > Capacity)
        {
            Advance(n - Capacity);
            first += n - Capacity;
            n = Capacity;
        }
        int od = ObservationDim, ad = ActionDim, width = Layout.Width, blockRows = staging.Length / width;
        while (n > 0)
        {
            int segment = Math.Min(Math.Min(n, Capacity - WritePosition), blockRows);
            for (int k = 0; k < segment; k++)
            {
                int i = first + k;
                Layout.Pack(staging.AsSpan(k * width, width), transitions.Observations.AsSpan(i * od, od), transitions.Actions.AsSpan(i * ad, ad),
                    transitions.Rewards[i], transitions.NextObservations.AsSpan(i * od, od), transitions.Terminals[i]);
            }
            Backend.Upload(staging.AsSpan(0, segment * width), Rows.SliceRows(WritePosition, segment));
            Advance(segment);
            first += segment;
            n -= segment;
        }
    }

    void Advance(int rows)
    {
        WritePosition = (int)((WritePosition + (long)rows) % Capacity);
        Count = (int)Math.Min(Capacity, Count + (long)rows);
        TotalAdded += rows;
    }

    /// <summary>
    /// Fills <paramref name="batch"/> with rows drawn uniformly with replacement from the held transitions:
    /// indices drawn on the device from the Philox stream <paramref name="random"/> (which advances by
    /// indices.Length), one gather of packed rows, then the split into fields. Allocates nothing and never touches
    /// host memory.
    /// </summary>
    public void SampleInto(IndexTensor indices, TransitionBatch batch, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(batch);
        // The packed width alone does not tell layouts apart: (obs 3, act 2) and (obs 2, act 4) are both 10 wide.
        if (batch.Layout != Layout)
            throw new ArgumentException($"batch layout (obs {batch.Layout.ObservationDim}, action {batch.Layout.ActionDim}) differs from the buffer's (obs {ObservationDim}, action {ActionDim})", nameof(batch));
        SamplePackedInto(indices, batch.Packed, random);
        batch.Unpack();
    }

    /// <summary>
    /// Draws indices.Length packed rows uniformly into <paramref name="packedDestination"/> [indices.Length, Width]
    /// (e.g. a row range of a batch's <see cref="TransitionBatch.Packed"/>), without splitting them into fields.
    /// </summary>
    public void SamplePackedInto(IndexTensor indices, Tensor packedDestination, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(packedDestination);
        if (Count == 0) throw new InvalidOperationException("cannot sample from an empty replay buffer");
        if (packedDestination.Rows != indices.Length || packedDestination.Cols != Layout.Width)
            throw new ArgumentException($"destination [{packedDestination.ShapeText}] must be [{indices.Length}, {Layout.Width}] for {indices.Length} indices");
        random.Indices(indices, Count);
        Backend.GatherRows(Rows, indices, packedDestination);
    }

    /// <summary>Copies one field of every held row to the host (tests and inspection, not hot loops): [Capacity, columns].</summary>
    public float[] DownloadColumns(int firstColumn, int columns)
    {
        var all = Rows.ToArray();
        var result = new float[Capacity * columns];
        for (int i = 0; i < Capacity; i++)
            Array.Copy(all, i * Layout.Width + firstColumn, result, i * columns, columns);
        return result;
    }

    /// <summary>Releases the device storage.</summary>
    public void Dispose() => Rows.Storage.Dispose();
}
