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
}
