using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Xunit;

namespace O2RL.Kernels.Tests.Gpu;

/// <summary>
/// Compiles every GPU kernel to PTX without a GPU, so that a kernel ILGPU cannot lower for CUDA (an unsupported
/// intrinsic, a non-constant shared allocation) fails here rather than on the first CUDA machine. It checks ILGPU's
/// code generation only; running the PTX needs a device (CudaConformanceTests in O2RL.Engine.Tests).
/// </summary>
public sealed class PtxCodegenTests
{
    static readonly Lazy<(Context Context, PTXBackend Backend)> Ptx = new(() =>
    {
        var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80, CudaInstructionSet.ISA_80, nvvmAPI: null);
        return (context, backend);
    });

    static MethodInfo Kernel(Type type, string name, Type? geometry = null)
    {
        var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new MissingMethodException(type.Name, name);
        return geometry is null ? method : method.MakeGenericMethod(geometry);
    }

    public static TheoryData<string, string, bool> Kernels() => new()
    {
        { nameof(GemmGpu), nameof(GemmGpu.Naive), false },
        { nameof(GemmGpu), nameof(GemmGpu.Tiled), true },
        { nameof(ActivationGpu), nameof(ActivationGpu.Forward), false },
        { nameof(ActivationGpu), nameof(ActivationGpu.Backward), false },
        { nameof(LayerNormGpu), nameof(LayerNormGpu.Forward), true },
        { nameof(LayerNormGpu), nameof(LayerNormGpu.BackwardInput), true },
        { nameof(LayerNormGpu), nameof(LayerNormGpu.BackwardParameters), true },
        { nameof(ElementwiseGpu), nameof(ElementwiseGpu.Unary), false },
        { nameof(ElementwiseGpu), nameof(ElementwiseGpu.Binary), false },
        { nameof(ElementwiseGpu), nameof(ElementwiseGpu.Select), false },
        { nameof(ElementwiseGpu), nameof(ElementwiseGpu.CopyColumns), false },
        { nameof(ElementwiseGpu), nameof(ElementwiseGpu.Fill), false },
        { nameof(ReduceGpu), nameof(ReduceGpu.RowSum), true },
        { nameof(ReduceGpu), nameof(ReduceGpu.ColumnSum), true },
        { nameof(ReduceGpu), nameof(ReduceGpu.Sum), true },
        { nameof(ReduceGpu), nameof(ReduceGpu.EnsembleMin), false },
        { nameof(ReduceGpu), nameof(ReduceGpu.EnsembleMinBackward), false },
        { nameof(LossGpu), nameof(LossGpu.Mse), true },
        { nameof(LossGpu), nameof(LossGpu.Expectile), true },
        { nameof(SacLossGpu), nameof(SacLossGpu.ActorLoss), true },
        { nameof(SacLossGpu), nameof(SacLossGpu.TdLoss), true },
        { nameof(AdamGpu), nameof(AdamGpu.Step), false },
        { nameof(PolyakGpu), nameof(PolyakGpu.Update), false },
        { nameof(GradNormGpu), nameof(GradNormGpu.Clip), true },
        { nameof(GradNormGpu), nameof(GradNormGpu.FinishNorm), true },
        { nameof(GradNormGpu), nameof(GradNormGpu.Scale), false },
        { nameof(ReduceGpu), nameof(ReduceGpu.PartialSums), true },
        { nameof(ReduceGpu), nameof(ReduceGpu.FinishSum), true },
        { nameof(GatherGpu), nameof(GatherGpu.Rows), false },
        { nameof(RandomGpu), nameof(RandomGpu.Uniform), false },
        { nameof(RandomGpu), nameof(RandomGpu.Normal), false },
        { nameof(RandomGpu), nameof(RandomGpu.Indices), false },
    };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void KernelCompilesToPtx(string typeName, string kernelName, bool explicitlyGrouped)
    {
        var type = typeof(GemmGpu).Assembly.GetType($"O2RL.Kernels.{typeName}", throwOnError: true)!;
        var method = Kernel(type, kernelName, explicitlyGrouped ? typeof(DeviceGeometry) : null);
        var entry = explicitlyGrouped
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);
        var compiled = (PTXCompiledKernel)Ptx.Value.Backend.Compile(entry, KernelSpecialization.Empty);
        Assert.Contains(".entry", compiled.PTXAssembly);
    }

    [Fact]
    public void UniformKernelLeavesNoFloatMultiplyAddToFuse()
    {
        // ptxas fuses mul.f32 + add.f32 into fma by default, which would break bit-identity with the reference;
        // the kernel forms the product in double and rounds it once, so no float multiply feeds an add.
        var method = Kernel(typeof(RandomGpu), nameof(RandomGpu.Uniform));
        var ptx = ((PTXCompiledKernel)Ptx.Value.Backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(method), KernelSpecialization.Empty)).PTXAssembly;
        Assert.Contains("mul.f64", ptx);
        Assert.DoesNotContain("fma.rn.f32", ptx);
        var floatProducts = ptx.Split('\n').Where(l => l.TrimStart().StartsWith("mul.f32")).Select(l => l.Trim().Split(['\t', ' ', ','], StringSplitOptions.RemoveEmptyEntries)[1]);
        var floatSums = ptx.Split('\n').Where(l => l.TrimStart().StartsWith("add.f32")).ToList();
        foreach (string product in floatProducts)
            Assert.DoesNotContain(floatSums, sum => sum.Contains(product + ",") || sum.TrimEnd().EndsWith(product + ";"));
    }
}
