using BenchmarkDotNet.Attributes;
using O2RL.Engine;
using O2RL.Engine.Distributions;

namespace O2RL.Benchmarks.Distributions;

/// <summary>
/// One SAC actor step's distribution work at batch 256 on the CPU backend: the reparameterised sample with its
/// backward, and the reference log-density of that sample with its action gradient (the O2SAC constraint).
/// </summary>
[MemoryDiagnoser]
public class TanhGaussianBenchmarks
{
    Backend backend = null!;
    TanhGaussian online = null!, reference = null!;
    Tensor head = null!, referenceHead = null!, noise = null!, logProbGradient = null!;

    [Params(6)]
    public int ActionDim { get; set; }

    [Params(256)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend(1);
        online = new TanhGaussian(backend, ActionDim, backend.FromArray([1f], 1), backend.FromArray([-1f], 1), backend.Allocate(1), backend.Allocate(1));
        reference = new TanhGaussian(backend, ActionDim, backend.FromArray([1f], 1), backend.FromArray([-1f], 1));
        head = backend.Allocate(BatchSize, 2 * ActionDim);
        referenceHead = backend.Allocate(BatchSize, 2 * ActionDim);
        backend.RandomUniform(head, seed: 1, counter: 0, low: -1f, high: 1f);
        backend.RandomUniform(referenceHead, seed: 2, counter: 0, low: -1f, high: 1f);
        noise = backend.Allocate(BatchSize, ActionDim);
        logProbGradient = backend.Allocate(BatchSize);
        backend.Fill(logProbGradient, 1f / BatchSize);
    }

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();

    [Benchmark(Description = "sample + backward")]
    public Tensor SampleAndBackward()
    {
        backend.RandomNormal(noise, seed: 3, counter: 0);
        online.Sample(head, noise);
        return online.SampleBackward(null, logProbGradient);
    }

    [Benchmark(Description = "sample, reference log-prob, both backwards")]
    public Tensor ConstraintTerm()
    {
        backend.RandomNormal(noise, seed: 3, counter: 0);
        var (action, _) = online.Sample(head, noise);
        reference.LogProb(referenceHead, action);
        var (actionGradient, _) = reference.LogProbBackward(logProbGradient, computeHeadGradient: false);
        return online.SampleBackward(actionGradient, logProbGradient);
    }
}
