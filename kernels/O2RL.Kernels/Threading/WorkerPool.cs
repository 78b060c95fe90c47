using System.Runtime.ExceptionServices;

namespace O2RL.Kernels;

/// <summary>
/// A piece of work split into a fixed number of parts. Part p always covers the same slice of the data, so
/// results do not depend on which thread runs which part.
/// </summary>
public interface IParallelWork
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="partCount"/> (0 ≤ part &lt; partCount).</summary>
    void Execute(int part, int partCount);
}

/// <summary>
/// A persistent pool of worker threads for kernels that are too short for <c>Parallel.For</c> (which costs
/// 10–50 µs a call on our machines). Threads are created once; after a run they spin for a short while (the
/// next kernel of an update usually follows within microseconds) and then park on a semaphore so an idle
/// pool costs no CPU. <see cref="Run"/> allocates nothing: callers keep one cached <see cref="IParallelWork"/>
/// object and update its fields before each run.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>
    /// How long an idle worker polls for new work before parking, in microseconds. The gap between two kernels
    /// of an update is usually far shorter; between updates (environment steps) the workers park.
    /// </summary>
    const int SpinMicrosecondsBeforePark = 100;

    readonly Worker[] workers;
    readonly object runLock = new();
    readonly ExceptionDispatchInfo?[] failures;

    IParallelWork? currentWork;
    int currentPartCount;
    int pendingWorkers;
    volatile bool disposed;

    [ThreadStatic] static WorkerPool? poolOfCurrentWorker;

    static readonly Lazy<WorkerPool> shared = new(() => new WorkerPool(DefaultThreadCount()), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Creates a pool that runs work on <paramref name="threadCount"/> threads: the calling thread plus
    /// <paramref name="threadCount"/> − 1 background workers.
    /// </summary>
    public WorkerPool(int threadCount)
    {
        if (threadCount < 1)
            throw new ArgumentOutOfRangeException(nameof(threadCount), threadCount, "a worker pool needs at least one thread (the caller)");
        ThreadCount = threadCount;
        failures = new ExceptionDispatchInfo?[threadCount];
        workers = new Worker[threadCount - 1];
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = new Worker(this, w + 1);
        }
    }

    /// <summary>Number of threads that run parts, including the calling thread.</summary>
    public int ThreadCount { get; }

    /// <summary>
    /// The process-wide pool: <c>Environment.ProcessorCount</c> threads, or the value of the environment
    /// variable <c>O2RL_THREADS</c> when it is set to a positive integer.
    /// </summary>
    public static WorkerPool Shared => shared.Value;

    /// <summary>Thread count for <see cref="Shared"/>: O2RL_THREADS if set to a positive integer, else the processor count.</summary>
    public static int DefaultThreadCount()
    {
        string? text = Environment.GetEnvironmentVariable("O2RL_THREADS");
        if (!string.IsNullOrWhiteSpace(text))
        {
            if (!int.TryParse(text, out int parsed) || parsed < 1)
                throw new InvalidOperationException($"O2RL_THREADS is '{text}' but must be a positive integer");
            return parsed;
        }
        return Environment.ProcessorCount;
    }

    /// <summary>
    /// Runs parts 0 … <paramref name="partCount"/> − 1 of <paramref name="work"/> and returns when all are done.
    /// Thread t runs parts t, t + ThreadCount, … (the caller is thread 0), so the split is fixed. If parts
    /// throw, every other part still runs, and the first exception of the lowest-numbered failing thread is
    /// rethrown once all parts have finished.
    /// A run started while the pool is busy (from another thread, or from inside a part) runs all its parts
    /// on the calling thread instead of waiting.
    /// </summary>
    public void Run(IParallelWork work, int partCount)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (partCount < 0)
            throw new ArgumentOutOfRangeException(nameof(partCount), partCount, "the part count must not be negative");
        ObjectDisposedException.ThrowIf(disposed, this);
        if (partCount == 0) return;

        int activeWorkers = Math.Min(workers.Length, partCount - 1);
        // (Monitor is reentrant, so the caller's own nested run must be caught by IsEntered before TryEnter.)
        if (activeWorkers == 0 || poolOfCurrentWorker == this || Monitor.IsEntered(runLock) || !Monitor.TryEnter(runLock))
        {
            RunAllPartsInline(work, partCount);
            return;
        }

        try
        {
            currentWork = work;
            currentPartCount = partCount;
            Volatile.Write(ref pendingWorkers, activeWorkers);
            for (int w = 0; w < activeWorkers; w++) workers[w].Signal();

            RunPartsOfThread(0, work, partCount);

            // Wait for the workers. SpinWait yields the core after a few spins, which matters on a machine
            // where the worker may be waiting for this very core.
            var spinner = new SpinWait();
            while (Volatile.Read(ref pendingWorkers) != 0) spinner.SpinOnce(sleep1Threshold: -1);

            currentWork = null;
            for (int t = 0; t < failures.Length; t++)
            {
                ExceptionDispatchInfo? failure = failures[t];
                if (failure is null) continue;
                Array.Clear(failures);
                failure.Throw();
            }
        }
        finally
        {
            Monitor.Exit(runLock);
        }
    }

    static void RunAllPartsInline(IParallelWork work, int partCount)
    {
        ExceptionDispatchInfo? firstFailure = null;
        for (int part = 0; part < partCount; part++)
        {
            try
            {
                work.Execute(part, partCount);
            }
            catch (Exception exception)
            {
                firstFailure ??= ExceptionDispatchInfo.Capture(exception);
            }
        }
        firstFailure?.Throw();
    }

    /// <summary>Runs thread t's parts; a failing part is recorded (the first per thread) and the others still run.</summary>
    void RunPartsOfThread(int thread, IParallelWork work, int partCount)
    {
        for (int part = thread; part < partCount; part += ThreadCount)
        {
            try
            {
                work.Execute(part, partCount);
            }
            catch (Exception exception)
            {
                failures[thread] ??= ExceptionDispatchInfo.Capture(exception);
            }
        }
    }

    /// <summary>Stops the worker threads (they finish the run in progress first).</summary>
    public void Dispose()
    {
        if (disposed) return;
        lock (runLock)
        {
            disposed = true;
            foreach (Worker worker in workers) worker.Signal();
        }
        foreach (Worker worker in workers) worker.Join();
    }

    sealed class Worker
    {
        readonly WorkerPool pool;
        readonly int threadIndex;
        readonly Thread thread;
        readonly SemaphoreSlim wake = new(0, int.MaxValue);
        int generation;
        int parked;

        public Worker(WorkerPool pool, int threadIndex)
        {
            this.pool = pool;
            this.threadIndex = threadIndex;
            thread = new Thread(Loop) { IsBackground = true, Name = $"O2RL worker {threadIndex}" };
            thread.Start();
        }

        /// <summary>Publishes a new run: bump the generation, then wake the worker if it parked.</summary>
        public void Signal()
        {
            Interlocked.Increment(ref generation);
            // Interlocked operations are full fences, so a worker that set 'parked' before we read it will
            // see the new generation, and a worker that has not parked yet will see it while spinning.
            if (Interlocked.Exchange(ref parked, 0) == 1) wake.Release();
        }

        public void Join() => thread.Join();

        void Loop()
        {
            poolOfCurrentWorker = pool;
            int seenGeneration = 0;
            while (true)
            {
                seenGeneration = WaitForGeneration(seenGeneration);
                if (pool.disposed) return;

                pool.RunPartsOfThread(threadIndex, pool.currentWork!, pool.currentPartCount);
                Interlocked.Decrement(ref pool.pendingWorkers);
            }
        }

        int WaitForGeneration(int seenGeneration)
        {
            long spinUntil = System.Diagnostics.Stopwatch.GetTimestamp()
                + System.Diagnostics.Stopwatch.Frequency * SpinMicrosecondsBeforePark / 1_000_000;
            for (int spin = 0; ; spin++)
            {
                int current = Volatile.Read(ref generation);
                if (current != seenGeneration) return current;
                Thread.SpinWait(1);
                if ((spin & 31) == 31 && System.Diagnostics.Stopwatch.GetTimestamp() > spinUntil) break;
            }
            while (true)
            {
                Interlocked.Exchange(ref parked, 1);
                int current = Volatile.Read(ref generation);
                if (current != seenGeneration)
                {
                    // Work arrived while parking. If the signaller already cleared the flag it has released
                    // (or will release) the semaphore once; consume that release so the counts stay paired.
                    if (Interlocked.Exchange(ref parked, 0) == 0) wake.Wait();
                    return current;
                }
                wake.Wait();
            }
        }
    }
}
