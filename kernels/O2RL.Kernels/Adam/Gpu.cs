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
        _ = Apply(i, parameters, gradients, firstMoment, secondMoment, args.StepSize, args.Beta1, args.Beta2, args.Epsilon, args.RootBiasCorrection2);

    /// <summary>
    /// <see cref="Step"/> with its scalars read from device memory (float bits, in the order of <see cref="AdamArguments"/>),
    /// for a captured graph whose replays change the step size and bias correction without re-recording the launch.
    /// </summary>
    public static void StepWithDeviceScalars(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, ArrayView<ulong> scalars) =>
        _ = Apply(i, parameters, gradients, firstMoment, secondMoment, DeviceScalars.Float(scalars, 0), DeviceScalars.Float(scalars, 1),
            DeviceScalars.Float(scalars, 2), DeviceScalars.Float(scalars, 3), DeviceScalars.Float(scalars, 4));

    /// <summary>
    /// <see cref="Step"/>, then Polyak averaging of a target copy towards the stepped parameter:
    /// θ̄ ← (1 − τ)·θ̄ + τ·θ, <see cref="PolyakGpu.Average"/> of the value just stored (a critic's
    /// step and its target update in one pass).
    /// </summary>
    public static void StepThenPolyak(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, ArrayView<float> target, float tau, AdamArguments args)
    {
        float stepped = Apply(i, parameters, gradients, firstMoment, secondMoment, args.StepSize, args.Beta1, args.Beta2, args.Epsilon, args.RootBiasCorrection2);
        target[i] = PolyakGpu.Average(target[i], stepped, tau);
    }

    /// <summary><see cref="StepThenPolyak"/> with the Adam scalars read from device memory, as <see cref="StepWithDeviceScalars"/>.</summary>
    public static void StepThenPolyakWithDeviceScalars(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, ArrayView<float> target, float tau, ArrayView<ulong> scalars)
    {
        float stepped = Apply(i, parameters, gradients, firstMoment, secondMoment, DeviceScalars.Float(scalars, 0), DeviceScalars.Float(scalars, 1),
            DeviceScalars.Float(scalars, 2), DeviceScalars.Float(scalars, 3), DeviceScalars.Float(scalars, 4));
        target[i] = PolyakGpu.Average(target[i], stepped, tau);
    }

    /// <summary>The step of one parameter; returns its new value.</summary>
    static float Apply(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2)
    {
        float g = gradients[i];
        float m = beta1 * firstMoment[i] + (1f - beta1) * g;
        float v = beta2 * secondMoment[i] + (1f - beta2) * g * g;
        firstMoment[i] = m;
        secondMoment[i] = v;
        float stepped = parameters[i] - stepSize * m / (XMath.Sqrt(v) / rootBiasCorrection2 + epsilon);
        parameters[i] = stepped;
        return stepped;
    }
}
