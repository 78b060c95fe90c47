using O2RL.Kernels;
using Xunit;
using O2RL.Engine;

namespace O2RL.Engine.Tests.Backends;

/// <summary>Every op of the managed SIMD backend against the plain C# references, single- and multi-threaded.</summary>
public sealed class CpuConformanceTests : BackendConformanceTests
{
    protected override Backend CreateBackend() => new CpuBackend();
}

/// <summary>The same with one thread (the GEMM takes its single-threaded path for every shape).</summary>
public sealed class CpuSingleThreadConformanceTests : BackendConformanceTests
{
    protected override Backend CreateBackend() => new CpuBackend(1);
}

/// <summary>Ops that the CPU backend splits over its worker pool give the single-threaded bits.</summary>
public sealed class CpuParallelSplitTests
{
    [Theory]
    [InlineData(16_384)]
    [InlineData(70_001)]
    public void AdamOverThePoolEqualsOneThread(int n)
    {
        float[] Step(int threads)
        {
            using var backend = new CpuBackend(threads);
            var p = backend.Allocate(n); var g = backend.Allocate(n); var m = backend.Allocate(n); var v = backend.Allocate(n);
            backend.RandomNormal(p, 1, 0); backend.RandomNormal(g, 2, 0);
            for (int t = 1; t <= 3; t++) backend.Adam(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, t);
            return [.. p.ToArray(), .. m.ToArray(), .. v.ToArray()];
        }
        float[] single = Step(1);
        Assert.Equal(single, Step(2));
        Assert.Equal(single, Step(3));
    }

    [Theory]
    [InlineData(16_384)]
    [InlineData(131_073)]
    public void FillPolyakAndActivationBackwardOverThePoolEqualOneThread(int n)
    {
        float[] Run(int threads)
        {
            using var backend = new CpuBackend(threads);
            var y = backend.Allocate(n); var dy = backend.Allocate(n); var dx = backend.Allocate(n); var target = backend.Allocate(n);
            backend.RandomNormal(y, 3, 0); backend.RandomNormal(dy, 4, 0); backend.RandomNormal(target, 5, 0);
            backend.ActivationBackward(Activation.Relu, y, dy, dx);
            float[] relu = dx.ToArray();
            backend.ActivationBackward(Activation.Tanh, y, dy, dx);
            float[] tanh = dx.ToArray();
            backend.Polyak(target, y, 0.005f);
            backend.Fill(dy, 0.25f);
            return [.. relu, .. tanh, .. target.ToArray(), .. dy.ToArray()];
        }
        float[] single = Run(1);
        Assert.Equal(single, Run(2));
        Assert.Equal(single, Run(3));
        // The split path must still compute something: a ReLU backward keeps dy where y > 0 and zeroes the rest.
        Assert.Contains(single.Take(n), value => value != 0f);
        Assert.Contains(single.Take(n), value => value == 0f);
        Assert.All(single.Skip(3 * n), value => Assert.Equal(0.25f, value));
    }

    [Theory]
    [InlineData(512, 256, 2, Activation.Relu)]
    [InlineData(768, 100, 6, Activation.Tanh)]
    [InlineData(257, 129, 1, Activation.Relu)]
    [InlineData(1_000, 33, 4, Activation.Identity)]
    public void LayerNormOverThePoolEqualsOneThread(int rows, int cols, int groups, Activation activation)
    {
        // Forward split by rows; backward split by whole groups when they divide over the threads (else one thread).
        float[] Run(int threads)
        {
            using var backend = new CpuBackend(threads);
            var x = backend.Allocate(rows, cols); var dy = backend.Allocate(rows, cols);
            var gamma = backend.Allocate(groups, cols); var beta = backend.Allocate(groups, cols);
            var dgamma = backend.Allocate(groups, cols); var dbeta = backend.Allocate(groups, cols);
            backend.RandomNormal(x, 6, 0); backend.RandomNormal(dy, 7, 0); backend.RandomNormal(gamma, 8, 0); backend.RandomNormal(beta, 9, 0);
            backend.RandomNormal(dgamma, 10, 0); backend.RandomNormal(dbeta, 11, 0);
            var y = backend.Allocate(rows, cols); var dx = backend.Allocate(rows, cols);
            var mean = backend.Allocate(rows); var rstd = backend.Allocate(rows);
            backend.LayerNormForward(x, gamma, beta, y, mean, rstd, activation: activation);
            backend.LayerNormBackward(x, dy, gamma, mean, rstd, dx, dgamma, dbeta);
            return [.. y.ToArray(), .. mean.ToArray(), .. rstd.ToArray(), .. dx.ToArray(), .. dgamma.ToArray(), .. dbeta.ToArray()];
        }
        float[] single = Run(1);
        Assert.Equal(single, Run(2));
        Assert.Equal(single, Run(3));
        Assert.Contains(single.Take(rows * cols), value => value != 0f);
    }
}
