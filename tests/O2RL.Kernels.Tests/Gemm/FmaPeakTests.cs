using Xunit;

namespace O2RL.Kernels.Tests.Gemm;

public sealed class FmaPeakTests
{
    [Fact]
    public void MeasuresAPlausiblePeak()
    {
        using var pool = new WorkerPool(2);
        FmaPeakResult peak = FmaPeak.Measure(pool, TimeSpan.FromMilliseconds(5), windows: 2);
        // Any CPU that runs .NET does at least 0.1 GFLOP/s, and none does 100 TFLOP/s per core.
        Assert.InRange(peak.SingleThreadGflops, 0.1, 100_000);
        Assert.InRange(peak.PoolGflops, 0.1, 200_000);
        Assert.Equal(2, peak.Threads);
        Assert.Contains(peak.VectorBits, new[] { 128, 256 });
        Assert.Throws<ArgumentOutOfRangeException>(() => FmaPeak.Measure(pool, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => FmaPeak.Measure(pool, TimeSpan.FromMilliseconds(1), windows: 0));
    }
}
