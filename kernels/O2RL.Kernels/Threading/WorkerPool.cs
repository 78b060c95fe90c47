using System.Diagnostics;
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
/// <para>
/// Thread t is meant to run parts t, t + ThreadCount, … (the caller is thread 0). Each part is claimed
/// before it runs, and a caller that has finished its own parts claims and runs the parts no worker has
/// started yet: on a busy machine a worker may not get a core for milliseconds, and the caller should not
/// sit waiting for it. Which thread runs a part never changes what the part computes.
/// </para>
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

    /// <summary>Per part: +id while open for run id, −id once claimed in it (see <see cref="TryClaim"/>).</summary>
    long[] partClaims = new long[64];
    IParallelWork? currentWork;
    int currentPartCount;
    long currentRunId;
    int remainingParts;
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
    /// If parts throw, every other part still runs, and the first exception of the lowest-numbered thread
    /// that saw one is rethrown once all parts have finished. A run started while the pool is busy (from
    /// another thread, or from inside a part) runs all its parts on the calling thread instead of waiting.
    /// </summary>
    public void Run(IParallelWork work, int partCount)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (partCount < 0)
            throw new ArgumentOutOfRangeException(nameof(partCount), partCount, "the part count must not be negative");
        ObjectDisposedException.ThrowIf(disposed, this);
        if (partCount == 0) return;
        // The caller runs parts too: it computes in the workers' float mode.
        DenormalFlush.EnsureOnThisThread();

        int activeWorkers = Math.Min(workers.Length, partCount - 1);
        // (Monitor is reentrant, so the caller's own nested run must be caught by IsEntered before TryEnter.)
        if (activeWorkers == 0 || poolOfCurrentWorker == this || Monitor.IsEntered(runLock) || !Monitor.TryEnter(runLock))
        {
            RunAllPartsInline(work, partCount);
            return;
        }

        try
        {
            // Growing happens only for part counts never seen before; steady-state runs allocate nothing.
            if (partClaims.Length < partCount) Array.Resize(ref partClaims, Math.Max(partCount, 2 * partClaims.Length));
            long runId = currentRunId + 1;
            currentWork = work;
            currentPartCount = partCount;
            Volatile.Write(ref remainingParts, partCount);
            for (int part = 0; part < partCount; part++) Volatile.Write(ref partClaims[part], runId);
            // Publishing the run id (a full fence) makes the fields above visible to workers that see it.
            Interlocked.Exchange(ref currentRunId, runId);
            for (int w = 0; w < activeWorkers; w++) workers[w].WakeIfParked();

            RunPartsOfThread(0, runId, work, partCount);
            // Then any part a worker has not claimed yet, in order.
            for (int part = 0; part < partCount; part++) RunPartIfUnclaimed(0, runId, work, part, partCount);

            // Wait for parts still running on workers. SpinWait yields the core after a few spins, which
            // matters when the worker is waiting for this very core.
            var spinner = new SpinWait();
            while (Volatile.Read(ref remainingParts) != 0) spinner.SpinOnce(sleep1Threshold: -1);

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

    /// <summary>Runs thread t's own parts t, t + ThreadCount, … of run <paramref name="runId"/> that are still unclaimed.</summary>
    void RunPartsOfThread(int thread, long runId, IParallelWork work, int partCount)
    {
        for (int part = thread; part < partCount; part += ThreadCount) RunPartIfUnclaimed(thread, runId, work, part, partCount);
    }

    void RunPartIfUnclaimed(int thread, long runId, IParallelWork work, int part, int partCount)
    {
        if (!TryClaim(part, runId)) return;
        try
        {
            work.Execute(part, partCount);
        }
        catch (Exception exception)
        {
            failures[thread] ??= ExceptionDispatchInfo.Capture(exception);
        }
        Interlocked.Decrement(ref remainingParts);
    }

    /// <summary>
    /// Claims a part of run <paramref name="runId"/>: succeeds only while the part is open for exactly that
    /// run, so a worker that wakes late for a finished run (its parts all claimed, or reopened for a newer
    /// run) can claim nothing, whatever it read of the newer run's fields.
    /// </summary>
    bool TryClaim(int part, long runId)
    {
        long[] claims = partClaims;
        return part < claims.Length && Interlocked.CompareExchange(ref claims[part], -runId, runId) == runId;
    }

    /// <summary>Stops the worker threads (they finish the run in progress first).</summary>
    public void Dispose()
    {
        if (disposed) return;
        lock (runLock)
        {
            disposed = true;
            Interlocked.Increment(ref currentRunId);
            foreach (Worker worker in workers) worker.WakeIfParked();
        }
        foreach (Worker worker in workers) worker.Join();
    }

    sealed class Worker
    {
        readonly WorkerPool pool;
        readonly int threadIndex;
        readonly Thread thread;
        readonly SemaphoreSlim wake = new(0, int.MaxValue);
        int parked;

        public Worker(WorkerPool pool, int threadIndex)
        {
            this.pool = pool;
            this.threadIndex = threadIndex;
            thread = new Thread(Loop) { IsBackground = true, Name = $"O2RL worker {threadIndex}" };
            thread.Start();
        }

        /// <summary>Called after a new run id is published: wakes the worker if it parked.</summary>
        public void WakeIfParked()
        {
            // Interlocked operations are full fences: a worker that set 'parked' before this exchange will see
            // the new run id when it re-checks, and one that has not parked yet sees it while spinning.
            if (Interlocked.Exchange(ref parked, 0) == 1) wake.Release();
        }

        public void Join() => thread.Join();

        void Loop()
        {
            poolOfCurrentWorker = pool;
            DenormalFlush.EnsureOnThisThread();
            long seenRunId = 0;
            while (true)
            {
                seenRunId = WaitForRun(seenRunId);
                if (pool.disposed) return;
                // The run may already be over (the caller ran this worker's parts); then nothing is claimed
                // and the fields read here are never used.
                IParallelWork? work = pool.currentWork;
                int partCount = pool.currentPartCount;
                if (work is not null) pool.RunPartsOfThread(threadIndex, seenRunId, work, partCount);
            }
        }

        long WaitForRun(long seenRunId)
        {
            long spinUntil = Stopwatch.GetTimestamp() + Stopwatch.Frequency * SpinMicrosecondsBeforePark / 1_000_000;
            for (int spin = 0; ; spin++)
            {
                long current = Volatile.Read(ref pool.currentRunId);
                if (current != seenRunId) return current;
                Thread.SpinWait(1);
                if ((spin & 31) == 31 && Stopwatch.GetTimestamp() > spinUntil) break;
            }
            while (true)
            {
                Interlocked.Exchange(ref parked, 1);
                long current = Volatile.Read(ref pool.currentRunId);
                if (current != seenRunId)
                {
                    // Work arrived while parking. If the caller already cleared the flag it has released (or will
                    // release) the semaphore once; consume that release so the counts stay paired.
                    if (Interlocked.Exchange(ref parked, 0) == 0) wake.Wait();
                    return current;
                }
                wake.Wait();
            }
        }
    }
}
