namespace O2RL.Envs.Vector;

/// <summary>
/// N independent copies of one environment stepped together, in parallel on the available cores.
/// </summary>
/// <remarks>
/// <para>Determinism: copy i has its own environment object and random stream, seeded with
/// <see cref="EnvRandom.DeriveSeed"/>(seed, i); copies never share mutable state and each writes only its own rows,
/// so results are identical to stepping N single environments one after another, whatever the thread timing.</para>
/// <para>Auto-reset (same-step, as Gymnasium's classic vector envs): when copy i's episode ends, its last
/// observation goes to row i of <see cref="FinalObservations"/>, the copy is reset (continuing its own random
/// stream) and row i of <see cref="Observations"/> holds the new episode's first observation.
/// <see cref="Terminated"/>, <see cref="Truncated"/>, <see cref="Rewards"/> and <see cref="Infos"/> still describe the
/// step that ended the episode.</para>
/// <para>Buffers are owned by this object and overwritten by every call; a step allocates nothing. Copies are
/// split into contiguous blocks, one per worker thread of a dedicated pool (the caller runs block 0). Parallelism
/// pays for the MuJoCo tasks; for microsecond-cheap tasks such as Pendulum pass maxParallelism: 1.</para>
/// </remarks>
public sealed class VectorEnvironment : IDisposable
{
    private readonly IEnvironment[] copies;
    private readonly float[] observations;
    private readonly float[] finalObservations;
    private readonly float[] actions;
    private readonly double[] rewards;
    private readonly bool[] terminated;
    private readonly bool[] truncated;
    private readonly StepInfo[] infos;
    private readonly int observationDim;
    private readonly int actionDim;
    private readonly int workerCount;
    private readonly WorkerPool? pool;
    private bool resetDone;

    /// <summary>
    /// Creates <paramref name="count"/> copies with <paramref name="factory"/>(index). maxParallelism: threads used
    /// per step (default: the processor count; 1 steps the copies in turn on the calling thread).
    /// </summary>
    public VectorEnvironment(Func<int, IEnvironment> factory, int count, int? maxParallelism = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (count <= 0)
            throw new ArgumentOutOfRangeException(nameof(count), count, "a vector environment needs at least one copy");
        int threads = maxParallelism ?? Environment.ProcessorCount;
        if (threads <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxParallelism), maxParallelism, "parallelism must be positive");

        copies = new IEnvironment[count];
        for (int i = 0; i < count; i++)
        {
            copies[i] = factory(i) ?? throw new InvalidOperationException($"the factory returned null for copy {i}");
            if (i > 0 && (copies[i].ObservationSpace.Dimension != copies[0].ObservationSpace.Dimension
                          || copies[i].ActionSpace.Dimension != copies[0].ActionSpace.Dimension))
                throw new ArgumentException($"copy {i} ({copies[i].Id}) has different space sizes from copy 0 ({copies[0].Id})");
        }
        observationDim = copies[0].ObservationSpace.Dimension;
        actionDim = copies[0].ActionSpace.Dimension;
        observations = new float[count * observationDim];
        finalObservations = new float[count * observationDim];
        actions = new float[count * actionDim];
        rewards = new double[count];
        terminated = new bool[count];
        truncated = new bool[count];
        infos = new StepInfo[count];
        workerCount = Math.Min(threads, count);
        pool = workerCount > 1 ? new WorkerPool(workerCount, StepWorker, "VectorEnvironment") : null;
    }

    /// <summary>Number of copies.</summary>
    public int Count => copies.Length;

    /// <summary>Observation space of one copy.</summary>
    public BoxSpace ObservationSpace => copies[0].ObservationSpace;

    /// <summary>Action space of one copy.</summary>
    public BoxSpace ActionSpace => copies[0].ActionSpace;

    /// <summary>The copies (index = row).</summary>
    public IReadOnlyList<IEnvironment> Copies => copies;

    /// <summary>Current observations, [Count, observationDim] row-major.</summary>
    public ReadOnlySpan<float> Observations => observations;

    /// <summary>Last observation of episodes that ended on the last step, [Count, observationDim]; rows of copies that did not end are stale.</summary>
    public ReadOnlySpan<float> FinalObservations => finalObservations;

    /// <summary>Rewards of the last step, [Count].</summary>
    public ReadOnlySpan<double> Rewards => rewards;

    /// <summary>Terminated flags of the last step, [Count].</summary>
    public ReadOnlySpan<bool> Terminated => terminated;

    /// <summary>Truncated flags of the last step, [Count].</summary>
    public ReadOnlySpan<bool> Truncated => truncated;

    /// <summary>Infos of the last step, [Count].</summary>
    public ReadOnlySpan<StepInfo> Infos => infos;

    /// <summary>
    /// Resets every copy. With a seed, copy i is reseeded with DeriveSeed(seed, i); without, each continues its own
    /// stream. Returns <see cref="Observations"/>.
    /// </summary>
    public ReadOnlySpan<float> Reset(int? seed = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        for (int i = 0; i < copies.Length; i++)
        {
            int? copySeed = seed is int s ? EnvRandom.DeriveSeed(s, i) : null;
            copies[i].Reset(observations.AsSpan(i * observationDim, observationDim), copySeed);
        }
        Array.Clear(rewards);
        Array.Clear(terminated);
        Array.Clear(truncated);
        Array.Clear(infos);
        resetDone = true;
        return observations;
    }

    /// <summary>
    /// Steps every copy with its row of <paramref name="actionRows"/> ([Count, actionDim] row-major) and
    /// auto-resets the copies whose episodes end.
    /// </summary>
    public void Step(ReadOnlySpan<float> actionRows)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (actionRows.Length != actions.Length)
            throw new ArgumentException($"actions has {actionRows.Length} entries but {Count} copies × {actionDim} action dimensions need {actions.Length}");
        if (!resetDone)
            throw new InvalidOperationException("call Reset before the first Step");
        actionRows.CopyTo(actions);
        if (pool is null) StepRange(0, copies.Length);
        else pool.Run();
    }

    private void StepWorker(int worker)
    {
        // Contiguous blocks of copies per worker keep each thread on its own cache lines.
        int start = (int)((long)copies.Length * worker / workerCount);
        int end = (int)((long)copies.Length * (worker + 1) / workerCount);
        StepRange(start, end);
    }

    private void StepRange(int start, int end)
    {
        for (int i = start; i < end; i++)
        {
            var observation = observations.AsSpan(i * observationDim, observationDim);
            var result = copies[i].Step(actions.AsSpan(i * actionDim, actionDim), observation);
            rewards[i] = result.Reward;
            terminated[i] = result.Terminated;
            truncated[i] = result.Truncated;
            infos[i] = result.Info;
            if (result.Done)
            {
                observation.CopyTo(finalObservations.AsSpan(i * observationDim, observationDim));
                copies[i].Reset(observation);
            }
        }
    }

    bool disposed;

    /// <summary>Disposes every copy.</summary>
    public void Dispose()
    {
        disposed = true;
        pool?.Dispose();
        foreach (var copy in copies) copy.Dispose();
    }
}
