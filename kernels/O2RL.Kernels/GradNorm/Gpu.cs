using ILGPU;
using ILGPU.Algorithms;

namespace O2RL.Kernels;

/// <summary>
/// Global-norm gradient clipping, never leaving the device. Small buffers: one launch of one group, which sums g²
/// in a fixed order, learns ‖g‖ from shared memory and scales its own elements. Large buffers: per-group partial
/// sums of g² (<see cref="ReduceGpu.PartialSums"/>), <see cref="FinishNorm"/> in one group, then <see cref="Scale"/>
/// over all elements reading the norm from device memory.
/// </summary>
internal static class GradNormGpu
{
    /// <summary>norm[0] ← ‖g‖₂; g ← g·maxNorm/(‖g‖ + 1e-6) when that factor is below 1.</summary>
    public static void Clip<TGeometry>(ArrayView<float> gradients, ArrayView<float> norm, int n, float maxNorm)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        float partial = 0f;
        for (int i = Group.IdxX; i < n; i += Group.DimX) partial += gradients[i] * gradients[i];
        float total = XMath.Sqrt(GpuMath.GroupSum(scratch, partial));
        if (Group.IdxX == 0) norm[0] = total;
        float coefficient = maxNorm / (total + 1e-6f);
        if (coefficient < 1f)
            for (int i = Group.IdxX; i < n; i += Group.DimX) gradients[i] *= coefficient;
    }

    /// <summary>One group: norm[0] ← √(Σ partials[0..count)) in a fixed order.</summary>
    public static void FinishNorm<TGeometry>(ArrayView<float> partials, int count, ArrayView<float> norm)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        float partial = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX) partial += partials[i];
        float total = GpuMath.GroupSum(scratch, partial);
        if (Group.IdxX == 0) norm[0] = XMath.Sqrt(total);
    }

    /// <summary>g[i] ← g[i]·maxNorm/(norm[0] + 1e-6) when that factor is below 1.</summary>
    public static void Scale(Index1D i, ArrayView<float> gradients, ArrayView<float> norm, float maxNorm)
    {
        float coefficient = maxNorm / (norm[0] + 1e-6f);
        if (coefficient < 1f) gradients[i] *= coefficient;
    }
}
