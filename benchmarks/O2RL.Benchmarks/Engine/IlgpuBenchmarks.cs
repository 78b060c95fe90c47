using BenchmarkDotNet.Attributes;
using O2RL.Engine;
using O2RL.Engine.Diagnostics;

namespace O2RL.Benchmarks.Engine;

/// <summary>
/// The ILGPU backend's GEMM kernels (naive and tiled) at 256×256×256 and the MLP training step, on the device
/// named by <see cref="Device"/>. Devices that are absent here are reported by BenchmarkDotNet as a failed setup.
/// OpenCL runs through the explicit generic-address-space option (PoCL).
/// </summary>
[MemoryDiagnoser]
public class IlgpuBenchmarks
{
    IlgpuBackend backend = null!;
    Tensor a = null!, b = null!, c = null!;
    MlpTrainingStep step = null!;

    [Params("opencl", "cuda")]
    public string Device { get; set; } = "opencl";

    [Params("Auto", "Naive", "Tiled", "TiledSmall", "TiledTiny")]
    public string Kernel { get; set; } = "Auto";

    [GlobalSetup]
    public void Setup()
    {
        backend = (IlgpuBackend)Devices.Create(Device, new DeviceOptions { AllowOpenClWithoutGenericAddressSpace = true });
        backend.ForcedGemmKernel = Enum.Parse<IlgpuBackend.GemmKernel>(Kernel);
        a = backend.Allocate(256, 256);
        b = backend.Allocate(256, 256);
        c = backend.Allocate(256, 256);
        var random = new DeviceRandom(1);
        random.Normal(a);
        random.Normal(b);
        step = new MlpTrainingStep(backend);
        Gemm();
        step.Run();
        backend.Synchronize();
    }

    /// <summary>C = A·B at 256³, waited for.</summary>
    [Benchmark]
    public void Gemm()
    {
        backend.Gemm(a, false, b, false, c);
        backend.Synchronize();
    }

    /// <summary>MLP 17-256-256-1, batch 256: forward, MSE, backward, Adam, waited for.</summary>
    [Benchmark]
    public void MlpStep()
    {
        step.Run();
        step.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
