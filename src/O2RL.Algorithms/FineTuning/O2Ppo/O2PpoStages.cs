using System.Globalization;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Data;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Kernels;

namespace O2RL.Algorithms.FineTuning.O2Ppo;

/// <summary>
/// The offline data as O2PPO prepares it (ALGORITHMS.md §5.2): optional dynamic reward scaling of the raw rewards in
/// dataset order, the PPO conversion (timeouts ignored, actions clipped to ±(1 − 1e-5), Monte-Carlo returns that run
/// across time-limit boundaries and stop only at true terminals), and fixed normalisation constants (mean and
/// population std + 1e-10 of the N − 1 stored states) applied to s and s'.
/// </summary>
/// <param name="Transitions">The normalised PPO transitions with their Monte-Carlo returns.</param>
/// <param name="Normalizer">The constants that also normalise every online and evaluation observation.</param>
/// <param name="RewardScaler">The running scaler (dynamic scaling only) that continues on the online rewards.</param>
public sealed record PpoOfflineData(Transitions Transitions, StateNormalizer Normalizer, RunningRewardScaler? RewardScaler)
{
    /// <summary>Prepares <paramref name="dataset"/> (its rewards are scaled in place when scaling is dynamic).</summary>
    public static PpoOfflineData Prepare(TransitionDataset dataset, double gamma, RewardScaling scaling, bool normalizeStates)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        RunningRewardScaler? scaler = null;
        if (scaling == RewardScaling.Dynamic)
        {
            scaler = new RunningRewardScaler(gamma);
            scaler.ScaleDatasetRewards(dataset);
        }
        var transitions = dataset.ToPpo(gamma);
        if (transitions.Count < 2) throw new ArgumentException($"the dataset yields {transitions.Count} PPO transitions; value pre-training needs at least 2");
        var normalizer = normalizeStates ? StateNormalizer.ForPpo(transitions) : StateNormalizer.Identity(transitions.ObservationDim);
        normalizer.NormalizeInPlace(transitions);
        return new PpoOfflineData(transitions, normalizer, scaler);
    }
}

/// <summary>
/// Stage A of O2PPO (ALGORITHMS.md §5.3): a value network with the PPO critic's architecture (tanh hidden layers,
/// PyTorch default init) regressed on the dataset's Monte-Carlo returns, L = MSE(V(s), G) on uniform minibatches,
/// Adam (lr 1e-4, default ε); its weights then initialise the PPO critic. Its full state (network, Adam moments and
/// step count, sampler counter, steps done) is saved to and restored from a stage file.
/// </summary>
public sealed class ValuePretrainer : IDisposable
{
    const string ValuePrefix = "value", FirstMomentName = "value_optimizer.exp_avg", SecondMomentName = "value_optimizer.exp_avg_sq";
    readonly Backend backend;
    readonly Tensor gradient;
    readonly IndexTensor indices;
    Tensor? observations, returns;
    int count;

    /// <summary>A fresh value network and its optimiser.</summary>
    /// <param name="backend">Device.</param>
    /// <param name="obsDim">State features.</param>
    /// <param name="hidden">Hidden widths (3 × 256).</param>
    /// <param name="seed">Seed of the init and of the minibatch sampler.</param>
    /// <param name="learningRate">Adam learning rate (1e-4).</param>
    /// <param name="batchSize">Minibatch size (512).</param>
    public ValuePretrainer(Backend backend, int obsDim, int[] hidden, ulong seed, float learningRate, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(hidden);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be positive");
        if (!(learningRate >= 0f)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be ≥ 0");
        this.backend = backend;
        BatchSize = batchSize;
        Value = CreateValueNetwork(backend, obsDim, hidden, seed + 5);
        Optimizer = new Adam(Value.Parameters, learningRate);
        Sampler = new DeviceRandom(seed + 6);
        gradient = backend.Allocate(batchSize, 1);
        Loss = backend.Allocate(1);
        indices = backend.AllocateIndices(batchSize);
        BatchObservations = backend.Allocate(batchSize, obsDim);
        BatchReturns = backend.Allocate(batchSize, 1);
    }

    /// <summary>The PPO value network: s → tanh hidden layers → 1, PyTorch default init, parameters named <c>net.{i}</c>.</summary>
    public static Mlp CreateValueNetwork(Backend backend, int obsDim, int[] hidden, ulong seed) =>
        new(backend, new MlpSpec(obsDim, hidden, 1) { HiddenActivation = Activation.Tanh, NamePrefix = "net" }, seed);

    /// <summary>V: [B, 1].</summary>
    public Mlp Value { get; }
    /// <summary>Adam (lr 1e-4, ε 1e-8).</summary>
    public Adam Optimizer { get; }
    /// <summary>Minibatch index stream.</summary>
    public DeviceRandom Sampler { get; }
    /// <summary>Minibatch size.</summary>
    public int BatchSize { get; }
    /// <summary>Steps taken.</summary>
    public long Steps { get; private set; }
    /// <summary>L of the latest step (device scalar).</summary>
    public Tensor Loss { get; }
    /// <summary>s of the latest minibatch: [B, obsDim].</summary>
    public Tensor BatchObservations { get; }
    /// <summary>G of the latest minibatch: [B, 1].</summary>
    public Tensor BatchReturns { get; }

    /// <summary>Uploads the (normalised) states and their Monte-Carlo returns.</summary>
    public void Load(Transitions transitions)
    {
        ArgumentNullException.ThrowIfNull(transitions);
        var mc = transitions.MonteCarloReturns ?? throw new ArgumentException("value pre-training needs Monte-Carlo returns (the PPO conversion)");
        ReleaseData();
        count = transitions.Count;
        observations = backend.FromArray(transitions.Observations, count, transitions.ObservationDim);
        returns = backend.FromArray(mc, count, 1);
    }

    /// <summary>One step: B indices uniformly from the data, L = MSE(V(s), G), Adam.</summary>
    public void Step()
    {
        if (observations is null || returns is null) throw new InvalidOperationException("load the offline data first");
        Sampler.Indices(indices, count);
        backend.GatherRows(observations, indices, BatchObservations);
        backend.GatherRows(returns, indices, BatchReturns);
        TrainOn(BatchObservations, BatchReturns);
    }

    /// <summary>One Adam step of L = MSE(V(s), G) on a given minibatch (B rows).</summary>
    public void TrainOn(Tensor states, Tensor targets)
    {
        var value = Value.Forward(states, 0);
        backend.MseLoss(value, targets, gradient, Loss);
        Value.ZeroGradients();
        Value.Backward(gradient, 0);
        Optimizer.Step();
        Steps++;
    }

    /// <summary>Writes the stage file: value network, Adam moments and step, sampler counter, steps, plus extra metadata.</summary>
    public void Save(string path, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var tensors = Value.Parameters.ToNamedTensors(ValuePrefix).ToList();
        tensors.Add(new NamedTensor(FirstMomentName, [Optimizer.FirstMoment.Length], Optimizer.FirstMoment.ToArray()));
        tensors.Add(new NamedTensor(SecondMomentName, [Optimizer.SecondMoment.Length], Optimizer.SecondMoment.ToArray()));
        var all = new Dictionary<string, string>(metadata)
        {
            ["stage"] = "a",
            ["value_steps"] = Steps.ToString(CultureInfo.InvariantCulture),
            ["value_optimizer_step"] = Optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
            ["value_sampler_counter"] = Sampler.Counter.ToString(CultureInfo.InvariantCulture),
        };
        string temporary = path + ".tmp";
        SafetensorsFile.Write(temporary, tensors, all);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Restores what <see cref="Save"/> wrote; returns the file's metadata.</summary>
    public IReadOnlyDictionary<string, string> Restore(string path)
    {
        var checkpoint = SafetensorsFile.Read(path);
        Value.Parameters.LoadFrom(checkpoint, ValuePrefix);
        backend.Upload(checkpoint.GetTensor(FirstMomentName, Optimizer.FirstMoment.Length).Data, Optimizer.FirstMoment);
        backend.Upload(checkpoint.GetTensor(SecondMomentName, Optimizer.SecondMoment.Length).Data, Optimizer.SecondMoment);
        Optimizer.StepCount = ReadLong(checkpoint, path, "value_optimizer_step");
        Sampler.Counter = (ulong)ReadLong(checkpoint, path, "value_sampler_counter");
        Steps = ReadLong(checkpoint, path, "value_steps");
        return checkpoint.Metadata;
    }

    static long ReadLong(Checkpoint checkpoint, string path, string key) =>
        checkpoint.Metadata.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw CheckpointFormatException.Content(path, $"metadata '{key}' is missing or not an integer");

    void ReleaseData()
    {
        observations?.Storage.Dispose();
        returns?.Storage.Dispose();
        observations = returns = null;
    }

    /// <summary>Releases the uploaded data.</summary>
    public void Dispose() => ReleaseData();
}

/// <summary>Actor adjustments applied after loading (ALGORITHMS.md §5.1).</summary>
public static class StdCap
{
    /// <summary>
    /// Caps σ at <paramref name="maxStd"/>: every coordinate of ψ larger than ln(maxStd) is set to ln(maxStd)
    /// (0.05 on hopper-expert and hopper-medium-expert, for the actor and the reference). Returns how many were capped.
    /// </summary>
    public static int Apply(GaussianActor actor, float maxStd)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (!(maxStd > 0f)) throw new ArgumentOutOfRangeException(nameof(maxStd), maxStd, "the std cap must be positive");
        float cap = MathF.Log(maxStd);
        var logStd = actor.Parameters.Read("log_std");
        int capped = 0;
        for (int j = 0; j < logStd.Length; j++)
            if (logStd[j] > cap) { logStd[j] = cap; capped++; }
        actor.Parameters.Write("log_std", logStd);
        return capped;
    }
}
