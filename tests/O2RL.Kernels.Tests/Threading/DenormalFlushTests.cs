using Xunit;

namespace O2RL.Kernels.Tests.Threading;

/// <summary>
/// Flush-to-zero and denormals-are-zero on the threads that run CPU kernels: set on the workers and the caller of a
/// pool run, so every part of an op computes alike. Each test runs on a thread of its own, because the mode stays
/// with the thread.
/// </summary>
public sealed class DenormalFlushTests
{
    // Computed at run time so the compiler cannot fold them: 1e-30 · 1e-10 = 1e-40 is subnormal.
    static float Product(float a, float b) => a * b;

    [Fact]
    public void TheModeIsSetOnLinuxX64AndFlushesSubnormalResults()
    {
        if (!DenormalFlush.IsSupported)
            Assert.Skip("flush-to-zero is set through glibc on Linux x86-64 only; elsewhere results keep gradual underflow");
        FreshThread.Run(() =>
        {
            float tiny = float.Parse("1e-30"), small = float.Parse("1e-10");
            // A new thread inherits its creator's mode (POSIX), so clear it first to see IEEE gradual underflow.
            DenormalFlush.SetOnThisThread(false);
            Assert.False(DenormalFlush.IsFlushingOnThisThread());
            Assert.True(float.IsSubnormal(Product(tiny, small)));
            DenormalFlush.SetOnThisThread(true);
            Assert.True(DenormalFlush.IsFlushingOnThisThread());
            Assert.Equal(0f, Product(tiny, small));
            // DAZ: a subnormal input counts as zero (1e-40 · 1e10 would otherwise be 1e-30).
            float subnormal = BitConverter.Int32BitsToSingle(0x000116C2);
            Assert.Equal(0f, Product(subnormal, float.Parse("1e10")));
        });
        // EnsureOnThisThread sets it on a thread that has never been asked: one made by a thread with the mode cleared.
        FreshThread.Run(() =>
        {
            DenormalFlush.SetOnThisThread(false);
            FreshThread.Run(() =>
            {
                Assert.False(DenormalFlush.IsFlushingOnThisThread());
                DenormalFlush.EnsureOnThisThread();
                Assert.True(DenormalFlush.IsFlushingOnThisThread());
                Assert.Equal(0f, Product(float.Parse("1e-30"), float.Parse("1e-10")));
            });
        });
    }

    sealed class ModeOfEachPart(int parts) : IParallelWork
    {
        public readonly bool[] Flushing = new bool[parts];
        public readonly int[] Threads = new int[parts];

        public void Execute(int part, int partCount)
        {
            // Long enough that the workers take their own parts.
            Thread.SpinWait(200_000);
            Flushing[part] = DenormalFlush.IsFlushingOnThisThread();
            Threads[part] = Environment.CurrentManagedThreadId;
        }
    }

    [Fact]
    public void EveryThreadOfAPoolRunFlushesTheCallerIncluded()
    {
        if (!DenormalFlush.IsSupported) Assert.Skip("flush-to-zero is set through glibc on Linux x86-64 only");
        FreshThread.Run(() =>
        {
            using var pool = new WorkerPool(3);
            var work = new ModeOfEachPart(6);
            pool.Run(work, 6);
            Assert.All(work.Flushing, Assert.True);
            Assert.True(work.Threads.Distinct().Count() > 1, "the parts all ran on the caller");
        });
    }

    [Fact]
    public void WithoutSupportNothingIsWrittenAndTheCallsAreHarmless()
    {
        FreshThread.Run(() =>
        {
            DenormalFlush.EnsureOnThisThread();
            Assert.Equal(DenormalFlush.IsSupported, DenormalFlush.IsFlushingOnThisThread());
        });
    }
}
