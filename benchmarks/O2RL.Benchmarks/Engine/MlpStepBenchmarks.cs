using BenchmarkDotNet.Attributes;
using O2RL.Engine;
using O2RL.Engine.Diagnostics;

namespace O2RL.Benchmarks.Engine;

/// <summary>MLP 17-256-256-1 forward + backward + Adam at batch 256 (the step libtorch takes 1.6 ms for on 2 threads).</summary>
[MemoryDiagnoser]
public class MlpStepBenchmarks
{
    Backend backend = null!;
    MlpTrainingStep step = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(false, true)]
    public bool LayerNorm { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend(Threads);
        step = new MlpTrainingStep(backend, layerNorm: LayerNorm);
        step.Run();
    }

    [Benchmark]
    public void MlpStep() => step.Run();

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
