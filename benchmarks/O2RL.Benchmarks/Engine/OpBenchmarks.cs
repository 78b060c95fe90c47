using BenchmarkDotNet.Attributes;
using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Benchmarks.Engine;

/// <summary>The small ops of an RL update at SAC's sizes (batch 256, d = 6, hidden 256) on the CPU backend.</summary>
[MemoryDiagnoser]
public class OpBenchmarks
{
    Backend backend = null!;
    Tensor noise = null!, hidden = null!, hiddenOut = null!, gamma = null!, beta = null!, mean = null!, rstd = null!, columns = null!;
    Tensor parameters = null!, gradients = null!, m = null!, v = null!;

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend(1);
        noise = backend.Allocate(256, 6);
        hidden = backend.Allocate(256, 256); hiddenOut = backend.Allocate(256, 256);
        gamma = backend.Allocate(256); beta = backend.Allocate(256); backend.Fill(gamma, 1f);
        mean = backend.Allocate(256); rstd = backend.Allocate(256); columns = backend.Allocate(256);
        parameters = backend.Allocate(70_000); gradients = backend.Allocate(70_000); m = backend.Allocate(70_000); v = backend.Allocate(70_000);
        backend.RandomNormal(hidden, 1, 0);
        backend.RandomNormal(gradients, 2, 0);
    }

    [Benchmark] public void RandomNormal256x6() => backend.RandomNormal(noise, 7, 0);
    [Benchmark] public void Tanh256x6() => backend.Unary(UnaryOp.Tanh, noise, noise);
    [Benchmark] public void ReluBackward256x256() => backend.ActivationBackward(Activation.Relu, hidden, hidden, hiddenOut);
    [Benchmark] public void LayerNormForward256x256() => backend.LayerNormForward(hidden, gamma, beta, hiddenOut, mean, rstd);
    [Benchmark] public void LayerNormBackward256x256() => backend.LayerNormBackward(hidden, hidden, gamma, mean, rstd, hiddenOut, columns, columns);
    [Benchmark] public void ColumnSum256x256() => backend.ColumnSum(hidden, columns, 1f, 1f);
    [Benchmark] public void Adam70k() => backend.Adam(parameters, gradients, m, v, 1e-4f, 0.9f, 0.999f, 1e-8f, 10);

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
