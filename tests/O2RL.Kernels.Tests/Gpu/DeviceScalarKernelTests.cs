using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Xunit;

namespace O2RL.Kernels.Tests.Gpu;

/// <summary>
/// The kernels a captured CUDA graph launches read their per-step scalars from device memory; on ILGPU's CPU
/// accelerator they must give exactly what the kernels taking the same scalars as arguments give, so a graphed step
/// equals an eager one bit for bit (the graph path itself is checked on CUDA by the engine's conformance tests).
/// </summary>
public sealed class DeviceScalarKernelTests : IDisposable
{
    readonly Context context = Context.Create(builder => builder.CPU(CPUDevice.Default).EnableAlgorithms().Optimize(OptimizationLevel.O2));
    readonly Accelerator accelerator;

    public DeviceScalarKernelTests() => accelerator = context.GetCPUDevice(0).CreateAccelerator(context);

    public void Dispose()
    {
        accelerator.Dispose();
        context.Dispose();
    }

    MemoryBuffer1D<float, Stride1D.Dense> Floats(int length, int seed)
    {
        var random = new Random(seed);
        var buffer = accelerator.Allocate1D<float>(length);
        buffer.CopyFromCPU(Enumerable.Range(0, length).Select(_ => random.NextSingle() * 2f - 1f).ToArray());
        return buffer;
    }

    MemoryBuffer1D<ulong, Stride1D.Dense> Words(params ulong[] words)
    {
        var buffer = accelerator.Allocate1D<ulong>(words.Length);
        buffer.CopyFromCPU(words);
        return buffer;
    }

    static void AssertSameBits(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]), $"element {i}: {expected[i]:R} vs {actual[i]:R}");
    }

    [Fact]
    public void AdamWithDeviceScalarsMatchesAdamWithArguments()
    {
        const int n = 37;
        var arguments = new AdamArguments { StepSize = 3e-4f * 1.7f, Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f, RootBiasCorrection2 = 0.0447f };
        float[] Run(bool fromDevice)
        {
            using var p = Floats(n, 1); using var g = Floats(n, 2); using var m = Floats(n, 3); using var v = Floats(n, 4);
            if (fromDevice)
            {
                using var scalars = Words(DeviceScalars.FromFloat(arguments.StepSize), DeviceScalars.FromFloat(arguments.Beta1),
                    DeviceScalars.FromFloat(arguments.Beta2), DeviceScalars.FromFloat(arguments.Epsilon), DeviceScalars.FromFloat(arguments.RootBiasCorrection2));
                accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ulong>>(AdamGpu.StepWithDeviceScalars)(
                    n, p.View, g.View, m.View, v.View, scalars.View);
            }
            else
            {
                accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArguments>(AdamGpu.Step)(
                    n, p.View, g.View, m.View, v.View, arguments);
            }
            accelerator.Synchronize();
            return [.. p.GetAsArray1D(), .. m.GetAsArray1D(), .. v.GetAsArray1D()];
        }
        float[] expected = Run(false);
        AssertSameBits(expected, Run(true));
        Assert.NotEqual(Floats(n, 1).GetAsArray1D(), expected[..n]);
    }

    [Fact]
    public void RandomDrawsWithDeviceScalarsMatchDrawsWithArguments()
    {
        const int n = 45;
        const ulong seed = 0x1234_5678_9abcUL, counter = (1UL << 33) + 17;
        using var x = accelerator.Allocate1D<float>(n);
        using var indices = accelerator.Allocate1D<int>(n);

        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ulong, ulong, float, float>(RandomGpu.Uniform)(n, x.View, seed, counter, -2f, 3f);
        float[] uniform = x.GetAsArray1D();
        using (var words = Words(seed, counter, DeviceScalars.FromFloat(-2f), DeviceScalars.FromFloat(3f)))
            accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<ulong>>(RandomGpu.UniformWithDeviceScalars)(n, x.View, words.View);
        AssertSameBits(uniform, x.GetAsArray1D());

        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ulong, ulong, float, float>(RandomGpu.Normal)(n, x.View, seed, counter, 0.5f, 0.1f);
        float[] normal = x.GetAsArray1D();
        using (var words = Words(seed, counter, DeviceScalars.FromFloat(0.5f), DeviceScalars.FromFloat(0.1f)))
            accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<ulong>>(RandomGpu.NormalWithDeviceScalars)(n, x.View, words.View);
        AssertSameBits(normal, x.GetAsArray1D());
        Assert.NotEqual(uniform, normal);

        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ulong, ulong, int, int>(RandomGpu.Indices)(n, indices.View, seed, counter, 1000, 7);
        int[] drawn = indices.GetAsArray1D();
        using (var words = Words(seed, counter, 1000, 7))
            accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<ulong>>(RandomGpu.IndicesWithDeviceScalars)(n, indices.View, words.View);
        Assert.Equal(drawn, indices.GetAsArray1D());
        Assert.All(drawn, index => Assert.InRange(index, 7, 1006));
        Assert.True(drawn.Distinct().Count() > n / 2);
    }
}
