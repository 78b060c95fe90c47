using BenchmarkDotNet.Attributes;
using O2RL.Engine;
using O2RL.Engine.Diagnostics;

namespace O2RL.Benchmarks.Engine;

/// <summary>
/// MLP 17-256-256-1 forward + backward + Adam at batch 256 (the step libtorch takes 1.6 ms for on 2 threads), with its
/// GEMM GFLOP/s and their fraction of the FMA peak measured for the same thread count (LayerNorm's own work uncounted).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Kernels.GemmColumnsConfig))]
public class MlpStepBenchmarks
{
    /// <summary>GEMM FLOPs of one step: forward, weight and input gradients of each layer (the first layer's input gradient included, as MlpTrainingStep counts).</summary>
    internal static readonly double FlopsPerStep = CountFlops();

    static double CountFlops()
    {
        using var counting = new CpuBackend(1);
        return new MlpTrainingStep(counting).FlopsPerStep;
    }

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
