using Xunit;

namespace O2RL.Kernels.Tests.Threading;

public sealed class WorkerPoolTests
{
    sealed class CountingWork : IParallelWork
    {
        public readonly int[] Runs = new int[64];
        public readonly int[] Threads = new int[64];
        public int ThrowInPart = -1;
        public WorkerPool? NestedPool;

        public void Execute(int part, int partCount)
        {
            Interlocked.Increment(ref Runs[part]);
            Threads[part] = Environment.CurrentManagedThreadId;
            if (part == ThrowInPart) throw new InvalidOperationException($"part {part} failed");
            if (NestedPool is not null)
            {
                var inner = new CountingWork();
                NestedPool.Run(inner, 3);
                Assert.Equal([1, 1, 1], inner.Runs[..3]);
            }
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 5)]
    [InlineData(4, 3)]
    [InlineData(3, 64)]
    public void EveryPartRunsExactlyOnce(int threads, int parts)
    {
        using var pool = new WorkerPool(threads);
        for (int repeat = 0; repeat < 200; repeat++)
        {
            var work = new CountingWork();
            pool.Run(work, parts);
            for (int part = 0; part < 64; part++) Assert.Equal(part < parts ? 1 : 0, work.Runs[part]);
            Assert.Equal(Environment.CurrentManagedThreadId, work.Threads[0]);
        }
    }

    /// <summary>Part 0 (on the caller) waits for part 1, so part 1 can only have run on a worker.</summary>
    sealed class RendezvousWork : IParallelWork
    {
        public readonly ManualResetEventSlim PartOneRan = new(false);
        public bool PartZeroSawPartOne;
        public int PartOneThread;

        public void Execute(int part, int partCount)
        {
            if (part == 0) PartZeroSawPartOne = PartOneRan.Wait(TimeSpan.FromSeconds(30));
            else
            {
                PartOneThread = Environment.CurrentManagedThreadId;
                PartOneRan.Set();
            }
        }
    }

    [Fact]
    public void WorkersParkAndWakeAgain()
    {
        using var pool = new WorkerPool(2);
        for (int round = 0; round < 3; round++)
        {
            var work = new RendezvousWork();
            pool.Run(work, 2);
            Assert.True(work.PartZeroSawPartOne);
            Assert.NotEqual(Environment.CurrentManagedThreadId, work.PartOneThread);
            Thread.Sleep(20); // long enough for the worker to stop spinning and park
        }
    }

    [Fact]
    public void RunWhileThePoolIsBusyRunsInline()
    {
        using var pool = new WorkerPool(2);
        var blockWorker = new ManualResetEventSlim(false);
        var workerBusy = new ManualResetEventSlim(false);
        // Another thread holds the pool for a while.
        var outer = new Thread(() => pool.Run(new BlockingWork(blockWorker, workerBusy), 2));
        outer.Start();
        Assert.True(workerBusy.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        try
        {
            // The pool is busy with the outer run, so this one runs inline; both parts run on this thread.
            var work = new CountingWork();
            pool.Run(work, 2);
            Assert.Equal([1, 1], work.Runs[..2]);
            Assert.Equal(work.Threads[0], work.Threads[1]);
        }
        finally
        {
            blockWorker.Set();
            outer.Join();
        }
    }

    sealed class BlockingWork(ManualResetEventSlim release, ManualResetEventSlim started) : IParallelWork
    {
        public void Execute(int part, int partCount)
        {
            started.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ExceptionInAPartReachesTheCallerAfterAllPartsFinish(int failingPart)
    {
        using var pool = new WorkerPool(2);
        var work = new CountingWork { ThrowInPart = failingPart };
        var exception = Assert.Throws<InvalidOperationException>(() => pool.Run(work, 4));
        Assert.Equal($"part {failingPart} failed", exception.Message);
        Assert.Equal([1, 1, 1, 1], work.Runs[..4]);

        // The pool keeps working after a failure.
        var next = new CountingWork();
        pool.Run(next, 2);
        Assert.Equal([1, 1], next.Runs[..2]);
    }

    [Fact]
    public void RunFromInsideAPartRunsInline()
    {
        using var pool = new WorkerPool(2);
        var work = new CountingWork();
        work.NestedPool = pool;
        pool.Run(work, 2);
        Assert.Equal([1, 1], work.Runs[..2]);
    }

    [Fact]
    public void InvalidArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(0));
        using var pool = new WorkerPool(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Run(new CountingWork(), -1));
        Assert.Throws<ArgumentNullException>(() => pool.Run(null!, 1));
        Assert.True(WorkerPool.Shared.ThreadCount >= 1);
    }
}
