using ILGPU;
using ILGPU.Algorithms;

namespace O2RL.Kernels;

/// <summary>Per-step Adam scalars, computed once on the host (see <see cref="AdamReference.Step"/>).</summary>
internal struct AdamArguments
{
    public float StepSize, Beta1, Beta2, Epsilon, RootBiasCorrection2;
}

/// <summary>Fused Adam step, one thread per parameter (PyTorch's formula, as the reference).</summary>
internal static class AdamGpu
{
    /// <summary>m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − stepSize·m/(√v/rootBiasCorrection2 + ε).</summary>
    public static void Step(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, AdamArguments args) =>
        Apply(i, parameters, gradients, firstMoment, secondMoment, args.StepSize, args.Beta1, args.Beta2, args.Epsilon, args.RootBiasCorrection2);

    /// <summary>
    /// <see cref="Step"/> with its scalars read from device memory (float bits, in the order of <see cref="AdamArguments"/>),
    /// for a captured graph whose replays change the step size and bias correction without re-recording the launch.
    /// </summary>
    public static void StepWithDeviceScalars(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, ArrayView<ulong> scalars) =>
        Apply(i, parameters, gradients, firstMoment, secondMoment, DeviceScalars.Float(scalars, 0), DeviceScalars.Float(scalars, 1),
            DeviceScalars.Float(scalars, 2), DeviceScalars.Float(scalars, 3), DeviceScalars.Float(scalars, 4));

    static void Apply(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2)
    {
        float g = gradients[i];
        float m = beta1 * firstMoment[i] + (1f - beta1) * g;
        float v = beta2 * secondMoment[i] + (1f - beta2) * g * g;
        firstMoment[i] = m;
        secondMoment[i] = v;
        parameters[i] -= stepSize * m / (XMath.Sqrt(v) / rootBiasCorrection2 + epsilon);
    }
}
