using O2RL.Kernels;
using Xunit;

namespace O2RL.Engine.Tests.Backends;

/// <summary>
/// The CPU backend computes with subnormal floats flushed to zero on whatever thread calls it, so an op's result does
/// not depend on which thread (or how many) computed its parts, and subnormal operands cost no microcode assists.
/// </summary>
public sealed class CpuDenormalTests
{
    const int N = 96;

    /// <summary>C = A·B on a fresh thread through a backend of <paramref name="threads"/> threads; whether that thread flushed.</summary>
    static (float[] Product, bool Flushing) MultiplyOnAFreshThread(float[] a, float[] b, int threads)
    {
        float[] product = [];
        bool flushing = false;
        var thread = new Thread(() =>
        {
            using var backend = new CpuBackend(threads);
            var c = backend.Allocate(N, N);
            backend.Gemm(backend.FromArray(a, N, N), false, backend.FromArray(b, N, N), false, c);
            product = c.ToArray();
            flushing = DenormalFlush.IsFlushingOnThisThread();
        });
        thread.Start();
        thread.Join();
        return (product, flushing);
    }

    [Fact]
    public void AnOpOnAFreshThreadFlushesSubnormalsAlikeOnOneAndTwoThreads()
    {
        if (!DenormalFlush.IsSupported) Assert.Skip("flush-to-zero is set through glibc on Linux x86-64 only");
        // Row 0 of A and column 0 of B hold 1e-20 only: C[0, 0] sums 96 products of 1e-40, each subnormal, so it is
        // 0 with flush-to-zero (about 9.6e-39, itself subnormal, without). The other entries mix in ones and twos.
        float[] a = [.. Enumerable.Range(0, N * N).Select(i => i < N || i % 3 != 0 ? 1e-20f : 1f)];
        float[] b = [.. Enumerable.Range(0, N * N).Select(i => i % N == 0 || i % 5 != 0 ? 1e-20f : 2f)];
        var (one, oneFlushing) = MultiplyOnAFreshThread(a, b, 1);
        var (two, twoFlushing) = MultiplyOnAFreshThread(a, b, 2);
        Assert.True(oneFlushing && twoFlushing, "the calling thread does not flush subnormals");
        Assert.Equal(0f, one[0]);
        Assert.DoesNotContain(one, float.IsSubnormal);
        Assert.Equal(one, two);
        // A normal entry: row 1 · column 1 in double.
        double expected = 0;
        for (int k = 0; k < N; k++) expected += (double)a[N + k] * b[k * N + 1];
        Assert.Equal(expected, one[N + 1], expected * 1e-5);
    }
}
