using O2RL.Engine;

namespace O2RL.Data.Replay;

/// <summary>How offline data enters online fine-tuning (ALGORITHMS §3.8, the release's buffer_load).</summary>
public enum OfflineMixing
{
    /// <summary>The whole offline dataset is copied into the online buffer first; minibatches are uniform over the union.</summary>
    All,
    /// <summary>
    /// Two buffers: every minibatch is ⌊B/2⌋ uniform draws from the online buffer (new transitions only) followed by
    /// B − ⌊B/2⌋ from the full offline dataset ("symmetric sampling"). Used by every config.
    /// </summary>
    Half,
    /// <summary>
    /// The offline dataset is split into trajectories, ranked by undiscounted return, and the top ones (50) are
    /// copied into the online buffer; minibatches are uniform over the union.
    /// </summary>
    Part,
    /// <summary>Online data only.</summary>
    None,
}

/// <summary>A contiguous run of transitions [Start, Start + Length) with its undiscounted return.</summary>
/// <param name="Start">First transition.</param>
/// <param name="Length">Number of transitions.</param>
/// <param name="Return">Sum of rewards.</param>
public readonly record struct TrajectorySpan(int Start, int Length, double Return);

/// <summary>
/// Samples minibatches for online fine-tuning according to an <see cref="OfflineMixing"/> mode. Every index tensor,
/// batch tensor and batch view is allocated at construction; <see cref="Sample"/> draws indices on the device with a
/// counter-based Philox stream and gathers rows there, allocating nothing.
/// </summary>
public sealed class MixedReplaySampler : IDisposable
{
    readonly IndexTensor allIndices;
    readonly IndexTensor? onlineIndices;
    readonly IndexTensor? offlineIndices;
    readonly Tensor? onlineHalf;
    readonly Tensor? offlineHalf;

    /// <summary>
    /// Builds the buffers for <paramref name="mode"/>. <paramref name="offline"/> is the (already normalised,
    /// reward-transformed) offline Q-learning dataset; it may be null only for <see cref="OfflineMixing.None"/>.
    /// </summary>
    /// <param name="backend">The compute device.</param>
    /// <param name="mode">Mixing mode.</param>
    /// <param name="offline">Offline transitions.</param>
    /// <param name="observationDim">obs_dim.</param>
    /// <param name="actionDim">act_dim.</param>
    /// <param name="onlineCapacity">Capacity of the online buffer (2,000,000 in the release; must hold the copied offline data in All/Part modes).</param>
    /// <param name="batchSize">B.</param>
    /// <param name="random">Philox stream of the sample indices (advances by B per sample; checkpoint its counter to resume).</param>
    /// <param name="partTopTrajectories">How many best trajectories Part mode copies (50).</param>
    public MixedReplaySampler(Backend backend, OfflineMixing mode, Transitions? offline, int observationDim, int actionDim,
        int onlineCapacity, int batchSize, DeviceRandom random, int partTopTrajectories = 50)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be at least 1");
        if (mode != OfflineMixing.None && offline is null)
            throw new ArgumentNullException(nameof(offline), $"mixing mode {mode} needs the offline transitions");
        if (offline is not null && (offline.ObservationDim != observationDim || offline.ActionDim != actionDim))
            throw new ArgumentException($"offline transitions have obs {offline.ObservationDim} / action {offline.ActionDim} dimensions but the sampler has {observationDim} / {actionDim}");
        Mode = mode;
        ArgumentNullException.ThrowIfNull(random);
        Random = random;
        BatchSize = batchSize;
        Online = new DeviceReplayBuffer(backend, onlineCapacity, observationDim, actionDim);
        Batch = new TransitionBatch(backend, batchSize, observationDim, actionDim);
        allIndices = backend.AllocateIndices(batchSize);

        switch (mode)
        {
            case OfflineMixing.All:
                RequireCapacity(offline!.Count, onlineCapacity, mode);
                Online.AddRange(offline);
                break;
            case OfflineMixing.Part:
                var top = OfflineTrajectories.Top(OfflineTrajectories.Split(offline!), partTopTrajectories);
                RequireCapacity(top.Sum(t => t.Length), onlineCapacity, mode);
                foreach (var t in top) Online.AddRange(offline!, t.Start, t.Length);
                CopiedTrajectories = top;
                break;
            case OfflineMixing.Half:
                if (offline!.Count == 0) throw new ArgumentException("half mode needs a non-empty offline dataset");
                if (batchSize < 2) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "half mode needs a batch of at least 2");
                Offline = new DeviceReplayBuffer(backend, offline.Count, observationDim, actionDim);
                Offline.AddRange(offline);
                int onlineRows = batchSize / 2;
                onlineIndices = backend.AllocateIndices(onlineRows);
                offlineIndices = backend.AllocateIndices(batchSize - onlineRows);
                // Both halves are gathered into row ranges of one packed batch, then split into fields once.
                onlineHalf = Batch.Packed.SliceRows(0, onlineRows);
                offlineHalf = Batch.Packed.SliceRows(onlineRows, batchSize - onlineRows);
                break;
            case OfflineMixing.None:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown mixing mode");
        }
    }

    static void RequireCapacity(int rows, int capacity, OfflineMixing mode)
    {
        if (rows > capacity)
            throw new ArgumentException($"mixing mode {mode} copies {rows} offline transitions into an online buffer of capacity {capacity}");
    }

    /// <summary>The mixing mode.</summary>
    public OfflineMixing Mode { get; }

    /// <summary>Philox stream of the sample indices.</summary>
    public DeviceRandom Random { get; }

    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>The online buffer (holding copied offline data in All and Part modes).</summary>
    public DeviceReplayBuffer Online { get; }

    /// <summary>The separate offline buffer (Half mode only).</summary>
    public DeviceReplayBuffer? Offline { get; }

    /// <summary>The trajectories Part mode copied, best first.</summary>
    public IReadOnlyList<TrajectorySpan> CopiedTrajectories { get; } = [];

    /// <summary>The batch every <see cref="Sample"/> fills: rows [0, ⌊B/2⌋) online and the rest offline in Half mode.</summary>
    public TransitionBatch Batch { get; }

    /// <summary>Transitions available to sampling; in Half mode both buffers count (the release's "size &gt; B" test).</summary>
    public long Size => Online.Count + (Offline?.Count ?? 0);

    /// <summary>Adds an online transition.</summary>
    public void Add(ReadOnlySpan<float> observation, ReadOnlySpan<float> action, float reward, ReadOnlySpan<float> nextObservation, bool terminal) =>
        Online.Add(observation, action, reward, nextObservation, terminal);

    /// <summary>Draws one minibatch into <see cref="Batch"/> and returns it.</summary>
    public TransitionBatch Sample()
    {
        if (Mode == OfflineMixing.Half)
        {
            if (Online.Count == 0)
                throw new InvalidOperationException("half mode draws half of every batch from the online buffer, which is still empty; collect warm-up steps first");
            Online.SamplePackedInto(onlineIndices!, onlineHalf!, Random);
            Offline!.SamplePackedInto(offlineIndices!, offlineHalf!, Random);
            Batch.Unpack();
        }
        else
        {
            if (Online.Count == 0) throw new InvalidOperationException($"mixing mode {Mode}: the online buffer is empty");
            Online.SampleInto(allIndices, Batch, Random);
        }
        return Batch;
    }

    /// <summary>Releases every device buffer.</summary>
    public void Dispose()
    {
        Online.Dispose();
        Offline?.Dispose();
        Batch.Dispose();
        allIndices.Storage.Dispose();
        onlineIndices?.Storage.Dispose();
        offlineIndices?.Storage.Dispose();
    }
}

/// <summary>Trajectory splitting of offline transitions for the Part mixing mode.</summary>
public static class OfflineTrajectories
{
    /// <summary>
    /// Splits transitions into trajectories: one ends after transition i when i is terminal, or when its stored next
    /// state differs from transition i+1's state by more than <paramref name="tolerance"/> in L2 norm, or at the end.
    /// </summary>
    public static IReadOnlyList<TrajectorySpan> Split(Transitions transitions, double tolerance = 1e-6)
    {
        ArgumentNullException.ThrowIfNull(transitions);
        var spans = new List<TrajectorySpan>();
        int od = transitions.ObservationDim, start = 0;
        double sum = 0;
        for (int i = 0; i < transitions.Count; i++)
        {
            sum += transitions.Rewards[i];
            bool end = i == transitions.Count - 1 || transitions.Terminals[i] != 0f;
            if (!end)
            {
                double squared = 0;
                for (int j = 0; j < od; j++)
                {
                    double d = transitions.NextObservations[i * od + j] - transitions.Observations[(i + 1) * od + j];
                    squared += d * d;
                }
                end = Math.Sqrt(squared) > tolerance;
            }
            if (end)
            {
                spans.Add(new TrajectorySpan(start, i - start + 1, sum));
                start = i + 1;
                sum = 0;
            }
        }
        return spans;
    }

    /// <summary>The <paramref name="count"/> trajectories of highest return, best first (ties keep dataset order).</summary>
    public static IReadOnlyList<TrajectorySpan> Top(IReadOnlyList<TrajectorySpan> trajectories, int count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must not be negative");
        return trajectories.OrderByDescending(t => t.Return).Take(count).ToList();
    }
}
