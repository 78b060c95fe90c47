using ILGPU;
using ILGPU.Algorithms;

namespace O2RL.Kernels;

/// <summary>
/// Global-norm gradient clipping in one launch of one group: the group sums g² in a fixed order, every thread
/// learns ‖g‖ from shared memory and scales its own elements, so the norm never leaves the device.
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
}
