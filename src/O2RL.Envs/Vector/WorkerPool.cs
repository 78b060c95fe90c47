using System.Runtime.ExceptionServices;

namespace O2RL.Envs.Vector;

/// <summary>
/// A fixed set of dedicated threads that run <c>work(workerIndex)</c> for every worker on each <see cref="Run"/>, the
/// calling thread taking index 0. Unlike Parallel.For it allocates nothing per call and does not queue behind
/// other thread-pool work; the workers spin briefly, then block, between calls.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Action<int> work;
    private readonly Thread[] threads;
    private readonly ManualResetEventSlim[] start;
    private int remaining;
    private volatile bool disposed;
    private ExceptionDispatchInfo? failure;

    /// <summary>Creates <paramref name="workerCount"/> − 1 threads (the caller is worker 0).</summary>
    public WorkerPool(int workerCount, Action<int> work, string name)
    {
        if (workerCount < 1) throw new ArgumentOutOfRangeException(nameof(workerCount), workerCount, "at least one worker is needed");
        this.work = work;
        WorkerCount = workerCount;
        threads = new Thread[workerCount - 1];
        start = new ManualResetEventSlim[workerCount - 1];
        for (int i = 0; i < threads.Length; i++)
        {
            start[i] = new ManualResetEventSlim(false, spinCount: 200);
            int index = i + 1;
            threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"{name} worker {index}" };
            threads[i].Start();
        }
    }

    /// <summary>Number of workers, the caller included.</summary>
    public int WorkerCount { get; }

    /// <summary>Runs work(0 … WorkerCount − 1) and returns when all are done; rethrows the first worker exception.</summary>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        Volatile.Write(ref remaining, threads.Length);
        foreach (var signal in start) signal.Set();
        Exception? own = null;
        try
        {
            work(0);
        }
        catch (Exception e)
        {
            own = e;
        }
        var spinner = new SpinWait();
        while (Volatile.Read(ref remaining) != 0) spinner.SpinOnce();
        if (own is not null) ExceptionDispatchInfo.Capture(own).Throw();
        var workerFailure = Interlocked.Exchange(ref failure, null);
        workerFailure?.Throw();
    }

    private void Loop(int index)
    {
        var signal = start[index - 1];
        while (true)
        {
            signal.Wait();
            signal.Reset();
            if (disposed) return;
            try
            {
                work(index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            }
            Interlocked.Decrement(ref remaining);
        }
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var signal in start) signal.Set();
        foreach (var thread in threads) thread.Join();
        foreach (var signal in start) signal.Dispose();
    }
}
