using O2RL.Engine;

namespace O2RL.Data.Replay;

/// <summary>
/// A minibatch of transitions on the device, allocated once and refilled by every sample.
/// Shapes: Observations, NextObservations [B, obsDim]; Actions [B, actDim]; Rewards, Terminals [B, 1].
/// </summary>
public sealed class TransitionBatch
{
    internal TransitionBatch(Tensor observations, Tensor actions, Tensor rewards, Tensor nextObservations, Tensor terminals)
    {
        Observations = observations;
        Actions = actions;
        Rewards = rewards;
        NextObservations = nextObservations;
        Terminals = terminals;
    }

    /// <summary>Allocates a batch of <paramref name="batchSize"/> rows on <paramref name="backend"/>.</summary>
    public static TransitionBatch Allocate(Backend backend, int batchSize, int observationDim, int actionDim)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be at least 1");
        return new TransitionBatch(backend.Allocate(batchSize, observationDim), backend.Allocate(batchSize, actionDim),
            backend.Allocate(batchSize, 1), backend.Allocate(batchSize, observationDim), backend.Allocate(batchSize, 1));
    }

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

    /// <summary>A view of rows [first, first + count) of this batch (shares memory).</summary>
    public TransitionBatch Rows(int first, int count) => new(Observations.SliceRows(first, count), Actions.SliceRows(first, count),
        Rewards.SliceRows(first, count), NextObservations.SliceRows(first, count), Terminals.SliceRows(first, count));
}

/// <summary>
/// A ring buffer of (s, a, r, s', m) transitions resident on the compute device, one tensor per field, filled through
/// uploads and sampled uniformly with replacement by on-device Philox indices and row gathers. When full, new
/// transitions overwrite the oldest.
/// </summary>
public sealed class DeviceReplayBuffer : IDisposable
{
    /// <summary>Allocates an empty buffer of <paramref name="capacity"/> rows on <paramref name="backend"/>.</summary>
    public DeviceReplayBuffer(Backend backend, int capacity, int observationDim, int actionDim)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be at least 1");
        if (observationDim < 1 || actionDim < 1)
            throw new ArgumentOutOfRangeException(nameof(observationDim), $"dimensions must be positive: obs {observationDim}, action {actionDim}");
        Backend = backend;
        Capacity = capacity;
        ObservationDim = observationDim;
        ActionDim = actionDim;
        Observations = backend.Allocate(capacity, observationDim);
        Actions = backend.Allocate(capacity, actionDim);
        Rewards = backend.Allocate(capacity, 1);
        NextObservations = backend.Allocate(capacity, observationDim);
        Terminals = backend.Allocate(capacity, 1);
    }

    /// <summary>The backend holding the storage.</summary>
    public Backend Backend { get; }

    /// <summary>Maximum number of transitions held.</summary>
    public int Capacity { get; }

    /// <summary>obs_dim.</summary>
    public int ObservationDim { get; }

    /// <summary>act_dim.</summary>
    public int ActionDim { get; }

    /// <summary>Transitions currently held (≤ Capacity).</summary>
    public int Count { get; private set; }

    /// <summary>Row the next transition is written to.</summary>
    public int WritePosition { get; private set; }

    /// <summary>Transitions ever added (including overwritten ones).</summary>
    public long TotalAdded { get; private set; }

    /// <summary>s: [Capacity, obsDim].</summary>
    public Tensor Observations { get; }

    /// <summary>a: [Capacity, actDim].</summary>
    public Tensor Actions { get; }

    /// <summary>r: [Capacity, 1].</summary>
    public Tensor Rewards { get; }

    /// <summary>s': [Capacity, obsDim].</summary>
    public Tensor NextObservations { get; }

    /// <summary>m: [Capacity, 1].</summary>
    public Tensor Terminals { get; }

    /// <summary>Adds one transition (five small uploads).</summary>
    public void Add(ReadOnlySpan<float> observation, ReadOnlySpan<float> action, float reward, ReadOnlySpan<float> nextObservation, bool terminal)
    {
        if (observation.Length != ObservationDim || nextObservation.Length != ObservationDim)
            throw new ArgumentException($"observation has {observation.Length} and next observation {nextObservation.Length} values but the buffer has {ObservationDim} observation dimensions");
        if (action.Length != ActionDim)
            throw new ArgumentException($"action has {action.Length} values but the buffer has {ActionDim} action dimensions");
        int row = WritePosition;
        Backend.Upload(observation, Observations.SliceRows(row, 1));
        Backend.Upload(action, Actions.SliceRows(row, 1));
        Backend.Upload([reward], Rewards.SliceRows(row, 1));
        Backend.Upload(nextObservation, NextObservations.SliceRows(row, 1));
        Backend.Upload([terminal ? 1f : 0f], Terminals.SliceRows(row, 1));
        Advance(1);
    }

    /// <summary>Adds transitions [first, first + count) of <paramref name="transitions"/> in bulk, wrapping around the ring.</summary>
    public void AddRange(Transitions transitions, int first = 0, int? count = null)
    {
        ArgumentNullException.ThrowIfNull(transitions);
        if (transitions.ObservationDim != ObservationDim || transitions.ActionDim != ActionDim)
            throw new ArgumentException($"transitions have obs {transitions.ObservationDim} / action {transitions.ActionDim} dimensions but the buffer has {ObservationDim} / {ActionDim}");
        int n = count ?? transitions.Count - first;
        if (first < 0 || n < 0 || first + n > transitions.Count)
            throw new ArgumentOutOfRangeException(nameof(first), $"range [{first}, {first + n}) is outside {transitions.Count} transitions");
        // When more than the capacity is added only the newest Capacity rows survive; skip the rest.
        if (n > Capacity)
        {
            Advance(n - Capacity);
            first += n - Capacity;
            n = Capacity;
        }
        while (n > 0)
        {
            int segment = Math.Min(n, Capacity - WritePosition);
            int row = WritePosition;
            Backend.Upload(transitions.Observations.AsSpan(first * ObservationDim, segment * ObservationDim), Observations.SliceRows(row, segment));
            Backend.Upload(transitions.Actions.AsSpan(first * ActionDim, segment * ActionDim), Actions.SliceRows(row, segment));
            Backend.Upload(transitions.Rewards.AsSpan(first, segment), Rewards.SliceRows(row, segment));
            Backend.Upload(transitions.NextObservations.AsSpan(first * ObservationDim, segment * ObservationDim), NextObservations.SliceRows(row, segment));
            Backend.Upload(transitions.Terminals.AsSpan(first, segment), Terminals.SliceRows(row, segment));
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
    /// indices[i] = Philox(seed, counter + i) mod Count, drawn on the device, then one gather per field. Allocates
    /// nothing and never touches host memory. The caller advances its counter by indices.Length.
    /// </summary>
    public void SampleInto(IndexTensor indices, TransitionBatch batch, ulong seed, ulong counter)
    {
        if (Count == 0) throw new InvalidOperationException("cannot sample from an empty replay buffer");
        if (batch.Size != indices.Length)
            throw new ArgumentException($"batch has {batch.Size} rows but {indices.Length} indices are drawn");
        Backend.RandomIndices(indices, seed, counter, Count);
        GatherInto(indices, batch);
    }

    /// <summary>Gathers the rows named by <paramref name="indices"/> into <paramref name="batch"/>.</summary>
    public void GatherInto(IndexTensor indices, TransitionBatch batch)
    {
        Backend.GatherRows(Observations, indices, batch.Observations);
        Backend.GatherRows(Actions, indices, batch.Actions);
        Backend.GatherRows(Rewards, indices, batch.Rewards);
        Backend.GatherRows(NextObservations, indices, batch.NextObservations);
        Backend.GatherRows(Terminals, indices, batch.Terminals);
    }

    /// <summary>Releases the device storage.</summary>
    public void Dispose()
    {
        Observations.Storage.Dispose();
        Actions.Storage.Dispose();
        Rewards.Storage.Dispose();
        NextObservations.Storage.Dispose();
        Terminals.Storage.Dispose();
    }
}
