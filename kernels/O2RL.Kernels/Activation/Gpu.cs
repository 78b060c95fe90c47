using ILGPU;

namespace O2RL.Kernels;

/// <summary>Activation kernels, forward and backward side by side; one thread per element, in-place safe.</summary>
internal static class ActivationGpu
{
    /// <summary>y ← act(x).</summary>
    public static void Forward(Index1D i, ArrayView<float> x, ArrayView<float> y, int activation) =>
        y[i] = GpuMath.Activate(activation, x[i]);

    /// <summary>dx ← dy ⊙ act′(from y).</summary>
    public static void Backward(Index1D i, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int activation) =>
        dx[i] = dy[i] * GpuMath.ActivationDerivativeFromOutput(activation, y[i]);
}
