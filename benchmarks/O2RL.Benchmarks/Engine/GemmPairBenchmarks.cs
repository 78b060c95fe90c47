using BenchmarkDotNet.Attributes;
using O2RL.Engine;
using O2RL.Engine.Diagnostics;
using O2RL.Kernels;

namespace O2RL.Benchmarks.Engine;

/// <summary>
/// What running a layer's two backward GEMMs side by side (<see cref="Backend.GemmPair"/>) buys on 2 threads: the
/// 256³ pair alone and the MLP 17-256-256-1 step, with <see cref="GemmCpu.PairsSideBySide"/> on and off.
/// </summary>
[MemoryDiagnoser]
public class GemmPairBenchmarks
{
    Backend backend = null!;
    MlpTrainingStep step = null!;
    GemmRequest weightGradient, inputGradient;

    [Params(false, true)]
    public bool SideBySide { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        GemmCpu.PairsSideBySide = SideBySide;
        backend = new CpuBackend(2);
        step = new MlpTrainingStep(backend);
        step.Run();
        var random = new DeviceRandom(5);
        Tensor Random(params int[] shape) { var t = backend.Allocate(shape); random.Normal(t); return t; }
        var dz = Random(256, 256);
        weightGradient = new GemmRequest(dz, true, Random(256, 256), false, Random(256, 256), Beta: 1f);
        inputGradient = new GemmRequest(dz, false, Random(256, 256), false, backend.Allocate(256, 256));
    }

    [Benchmark]
    public void LayerBackwardPair256() => backend.GemmPair(weightGradient, inputGradient);

    [Benchmark]
    public void MlpStep() => step.Run();

    [GlobalCleanup]
    public void Cleanup()
    {
        backend.Dispose();
        GemmCpu.PairsSideBySide = true;
    }
}
