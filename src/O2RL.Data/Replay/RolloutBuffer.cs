using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Data.Replay;

/// <summary>Generalised advantage estimation as O2PPO computes it (ALGORITHMS §5.5, §10 item 12).</summary>
public static class Gae
{
    /// <summary>
    /// Backwards over t = T−1 … 0, with A_T = 0:
    /// δ_t = r_t + γ·(1 − dw_t)·V(s'_t) − V(s_t);  A_t = δ_t + γ·λ·(1 − done_t)·A_{t+1};  Vtarg_t = A_t + V(s_t).
    /// dw (true terminal) stops bootstrapping from V(s'); done (any episode end, time limits included) cuts the
    /// recursion so advantages never leak across episodes. All spans have length T.
    /// </summary>
    public static void Compute(ReadOnlySpan<float> rewards, ReadOnlySpan<float> values, ReadOnlySpan<float> nextValues,
        ReadOnlySpan<float> dw, ReadOnlySpan<float> done, double gamma, double lambda, Span<float> advantages, Span<float> valueTargets)
    {
        int t = rewards.Length;
        if (values.Length != t || nextValues.Length != t || dw.Length != t || done.Length != t || advantages.Length != t || valueTargets.Length != t)
            throw new ArgumentException($"GAE inputs must all have {t} entries: values {values.Length}, next values {nextValues.Length}, dw {dw.Length}, done {done.Length}, advantages {advantages.Length}, targets {valueTargets.Length}");
        double next = 0;
        for (int i = t - 1; i >= 0; i--)
        {
            double delta = rewards[i] + gamma * (1.0 - dw[i]) * nextValues[i] - values[i];
            next = delta + gamma * lambda * (1.0 - done[i]) * next;
            advantages[i] = (float)next;
            valueTargets[i] = (float)(next + values[i]);
        }
    }
}

/// <summary>
/// A PPO minibatch on the device: Observations [M, obsDim], Actions and LogProbs [M, actDim] (per-coordinate
/// log π_old), Advantages and ValueTargets [M, 1].
/// </summary>
public sealed class RolloutBatch
{
    internal RolloutBatch(Backend backend, int size, int observationDim, int actionDim)
    {
        Observations = backend.Allocate(size, observationDim);
        Actions = backend.Allocate(size, actionDim);
        LogProbs = backend.Allocate(size, actionDim);
        Advantages = backend.Allocate(size, 1);
        ValueTargets = backend.Allocate(size, 1);
    }

    /// <summary>s: [M, obsDim].</summary>
    public Tensor Observations { get; }

    /// <summary>a (clamped): [M, actDim].</summary>
    public Tensor Actions { get; }

    /// <summary>log π_old(a_j|s) per coordinate: [M, actDim].</summary>
    public Tensor LogProbs { get; }

    /// <summary>Raw GAE advantages A: [M, 1].</summary>
    public Tensor Advantages { get; }

    /// <summary>Value targets A + V(s): [M, 1].</summary>
    public Tensor ValueTargets { get; }

    /// <summary>M.</summary>
    public int Size => Advantages.Rows;

    internal void Dispose()
    {
        foreach (var t in new[] { Observations, Actions, LogProbs, Advantages, ValueTargets }) t.Storage.Dispose();
    }
}

/// <summary>
/// O2PPO's rollout storage (ALGORITHMS §5.4): T transitions (s, a, log π_old per coordinate, r, s', dw, done)
/// staged on the host as the environment produces them and uploaded to the device in one transfer per field when
/// the rollout is complete. GAE's recursion is sequential, so it runs on the host once per rollout from V(s) and
/// V(s') downloaded once (2·T floats) and its results are uploaded back; minibatches are then gathered on the
/// device from a per-epoch random permutation (drawn on the host from Philox and uploaded as indices).
/// Everything is preallocated; nothing is allocated per step, per update or per minibatch.
/// </summary>
public sealed class RolloutBuffer : IDisposable
{
    readonly Backend backend;
    readonly float[] hostObservations, hostActions, hostLogProbs, hostRewards, hostNextObservations, hostDw, hostDone;
    readonly float[] hostValues, hostNextValues, hostAdvantages, hostTargets;
    readonly int[] permutation;
    readonly IndexTensor[] minibatchIndices;

    /// <summary>Allocates a rollout of <paramref name="capacity"/> steps cut into minibatches of <paramref name="minibatchSize"/>.</summary>
    public RolloutBuffer(Backend backend, int capacity, int observationDim, int actionDim, int minibatchSize)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be at least 1");
        if (minibatchSize < 1 || capacity % minibatchSize != 0)
            throw new ArgumentException($"a rollout of {capacity} steps does not split into minibatches of {minibatchSize}");
        this.backend = backend;
        Capacity = capacity;
        ObservationDim = observationDim;
        ActionDim = actionDim;
        MinibatchSize = minibatchSize;
        hostObservations = new float[capacity * observationDim];
        hostNextObservations = new float[capacity * observationDim];
        hostActions = new float[capacity * actionDim];
        hostLogProbs = new float[capacity * actionDim];
        hostRewards = new float[capacity];
        hostDw = new float[capacity];
        hostDone = new float[capacity];
        hostValues = new float[capacity];
        hostNextValues = new float[capacity];
        hostAdvantages = new float[capacity];
        hostTargets = new float[capacity];
        permutation = new int[capacity];
        Observations = backend.Allocate(capacity, observationDim);
        NextObservations = backend.Allocate(capacity, observationDim);
        Actions = backend.Allocate(capacity, actionDim);
        LogProbs = backend.Allocate(capacity, actionDim);
        Rewards = backend.Allocate(capacity, 1);
        Dw = backend.Allocate(capacity, 1);
        Done = backend.Allocate(capacity, 1);
        Advantages = backend.Allocate(capacity, 1);
        ValueTargets = backend.Allocate(capacity, 1);
        minibatchIndices = new IndexTensor[capacity / minibatchSize];
        for (int m = 0; m < minibatchIndices.Length; m++) minibatchIndices[m] = backend.AllocateIndices(minibatchSize);
        Minibatch = new RolloutBatch(backend, minibatchSize, observationDim, actionDim);
    }

    /// <summary>T, the rollout length (2,048 in O2PPO).</summary>
    public int Capacity { get; }

    /// <summary>obs_dim.</summary>
    public int ObservationDim { get; }

    /// <summary>act_dim.</summary>
    public int ActionDim { get; }

    /// <summary>Minibatch size (128 in O2PPO).</summary>
    public int MinibatchSize { get; }

    /// <summary>Minibatches per epoch.</summary>
    public int MinibatchCount => minibatchIndices.Length;

    /// <summary>Steps stored so far in this rollout.</summary>
    public int Count { get; private set; }

    /// <summary>True when T steps are stored (and uploaded).</summary>
    public bool IsFull => Count == Capacity;

    /// <summary>s: [T, obsDim] (valid once full).</summary>
    public Tensor Observations { get; }

    /// <summary>s': [T, obsDim] (valid once full).</summary>
    public Tensor NextObservations { get; }

    /// <summary>a: [T, actDim].</summary>
    public Tensor Actions { get; }

    /// <summary>log π_old per coordinate: [T, actDim].</summary>
    public Tensor LogProbs { get; }

    /// <summary>r: [T, 1].</summary>
    public Tensor Rewards { get; }

    /// <summary>dw (true terminal): [T, 1].</summary>
    public Tensor Dw { get; }

    /// <summary>done (any episode end): [T, 1].</summary>
    public Tensor Done { get; }

    /// <summary>Raw GAE advantages: [T, 1] (after <see cref="ComputeAdvantages"/>).</summary>
    public Tensor Advantages { get; }

    /// <summary>Value targets: [T, 1] (after <see cref="ComputeAdvantages"/>).</summary>
    public Tensor ValueTargets { get; }

    /// <summary>The minibatch that <see cref="GatherMinibatch"/> fills.</summary>
    public RolloutBatch Minibatch { get; }

    /// <summary>Host copy of the advantages of the last <see cref="ComputeAdvantages"/> call.</summary>
    public ReadOnlySpan<float> HostAdvantages => hostAdvantages;

    /// <summary>Stores one step. <paramref name="dw"/>: the episode ended and not by the time limit; <paramref name="done"/>: it ended for any reason.</summary>
    public void Add(ReadOnlySpan<float> observation, ReadOnlySpan<float> action, ReadOnlySpan<float> logProbs, float reward,
        ReadOnlySpan<float> nextObservation, bool dw, bool done)
    {
        if (IsFull) throw new InvalidOperationException($"the rollout already holds {Capacity} steps; run the update and Clear it");
        if (observation.Length != ObservationDim || nextObservation.Length != ObservationDim)
            throw new ArgumentException($"observation has {observation.Length} and next observation {nextObservation.Length} values but the rollout has {ObservationDim} observation dimensions");
        if (action.Length != ActionDim || logProbs.Length != ActionDim)
            throw new ArgumentException($"action has {action.Length} and log-probs {logProbs.Length} values but the rollout has {ActionDim} action dimensions");
        if (dw && !done) throw new ArgumentException("a true terminal (dw) must also be an episode end (done)");
        int t = Count;
        observation.CopyTo(hostObservations.AsSpan(t * ObservationDim));
        nextObservation.CopyTo(hostNextObservations.AsSpan(t * ObservationDim));
        action.CopyTo(hostActions.AsSpan(t * ActionDim));
        logProbs.CopyTo(hostLogProbs.AsSpan(t * ActionDim));
        hostRewards[t] = reward;
        hostDw[t] = dw ? 1f : 0f;
        hostDone[t] = done ? 1f : 0f;
        Count++;
        if (IsFull)
        {
            backend.Upload(hostObservations, Observations);
            backend.Upload(hostNextObservations, NextObservations);
            backend.Upload(hostActions, Actions);
            backend.Upload(hostLogProbs, LogProbs);
            backend.Upload(hostRewards, Rewards);
            backend.Upload(hostDw, Dw);
            backend.Upload(hostDone, Done);
        }
    }

    /// <summary>
    /// Runs GAE from the critic's values V(s) and V(s') of the stored steps (device tensors of T elements, e.g.
    /// the [T, 1] outputs of one critic forward pass over <see cref="Observations"/> and <see cref="NextObservations"/>),
    /// and uploads the advantages and value targets.
    /// </summary>
    public void ComputeAdvantages(Tensor values, Tensor nextValues, double gamma = 0.99, double lambda = 0.95)
    {
        if (!IsFull) throw new InvalidOperationException($"the rollout holds {Count} of {Capacity} steps; GAE runs on a full rollout");
        backend.Download(values, hostValues);
        backend.Download(nextValues, hostNextValues);
        Gae.Compute(hostRewards, hostValues, hostNextValues, hostDw, hostDone, gamma, lambda, hostAdvantages, hostTargets);
        backend.Upload(hostAdvantages, Advantages);
        backend.Upload(hostTargets, ValueTargets);
    }

    /// <summary>
    /// Draws a random permutation of the T indices for one epoch (Fisher–Yates with one Philox draw of
    /// <paramref name="random"/> per swap, T − 1 in all) and uploads it cut into <see cref="MinibatchCount"/> minibatches.
    /// </summary>
    public void ShuffleEpoch(HostRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        for (int i = 0; i < Capacity; i++) permutation[i] = i;
        for (int i = Capacity - 1; i > 0; i--)
        {
            int j = Philox.Index(random.Seed, random.Counter++, i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
        for (int m = 0; m < minibatchIndices.Length; m++)
            backend.UploadIndices(permutation.AsSpan(m * MinibatchSize, MinibatchSize), minibatchIndices[m]);
    }

    /// <summary>The permutation of the last <see cref="ShuffleEpoch"/> call.</summary>
    public ReadOnlySpan<int> Permutation => permutation;

    /// <summary>Gathers minibatch <paramref name="index"/> of the current epoch into <see cref="Minibatch"/> on the device.</summary>
    public RolloutBatch GatherMinibatch(int index)
    {
        if ((uint)index >= (uint)minibatchIndices.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"an epoch has {minibatchIndices.Length} minibatches");
        var idx = minibatchIndices[index];
        backend.GatherRows(Observations, idx, Minibatch.Observations);
        backend.GatherRows(Actions, idx, Minibatch.Actions);
        backend.GatherRows(LogProbs, idx, Minibatch.LogProbs);
        backend.GatherRows(Advantages, idx, Minibatch.Advantages);
        backend.GatherRows(ValueTargets, idx, Minibatch.ValueTargets);
        return Minibatch;
    }

    /// <summary>Empties the rollout (episodes continue across updates; only storage is reset).</summary>
    public void Clear() => Count = 0;

    /// <summary>Releases the device storage.</summary>
    public void Dispose()
    {
        foreach (var t in new[] { Observations, NextObservations, Actions, LogProbs, Rewards, Dw, Done, Advantages, ValueTargets })
            t.Storage.Dispose();
        foreach (var i in minibatchIndices) i.Storage.Dispose();
        Minibatch.Dispose();
    }
}
