using ILGPU;

namespace O2RL.Kernels;

/// <summary>
/// Loss kernels: one group of TGeometry.ReduceThreads threads writes ∂L/∂p for every element and the loss value
/// to a device scalar, summing in a fixed order (deterministic). One launch per loss; the gradient may alias the
/// prediction or the target (each element is read before it is written, by the same thread).
/// </summary>
internal static class LossGpu
{
    /// <summary>L = scale·mean (p − t)²; ∂L/∂p = scale·2(p − t)/n.</summary>
    public static void Mse<TGeometry>(ArrayView<float> prediction, ArrayView<float> target, ArrayView<float> gradient,
        ArrayView<float> loss, int n, float scale)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        float partial = 0f;
        float gradientScale = scale * 2f / n;
        for (int i = Group.IdxX; i < n; i += Group.DimX)
        {
            float u = prediction[i] - target[i];
            partial += u * u;
            gradient[i] = gradientScale * u;
        }
        float total = GpuMath.GroupSum(scratch, partial);
        if (Group.IdxX == 0) loss[0] = scale * total / n;
    }

    /// <summary>u = t − p; L = mean |τ − 1(u &lt; 0)|·u²; ∂L/∂p = −2·|τ − 1(u &lt; 0)|·u/n.</summary>
    public static void Expectile<TGeometry>(ArrayView<float> prediction, ArrayView<float> target, ArrayView<float> gradient,
        ArrayView<float> loss, int n, float tau)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        float partial = 0f;
        for (int i = Group.IdxX; i < n; i += Group.DimX)
        {
            float u = target[i] - prediction[i];
            float weight = u < 0f ? 1f - tau : tau;
            partial += weight * u * u;
            gradient[i] = -2f * weight * u / n;
        }
        float total = GpuMath.GroupSum(scratch, partial);
        if (Group.IdxX == 0) loss[0] = total / n;
    }
}
