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
        ArrayView<float> secondMoment, AdamArguments args)
    {
        float g = gradients[i];
        float m = args.Beta1 * firstMoment[i] + (1f - args.Beta1) * g;
        float v = args.Beta2 * secondMoment[i] + (1f - args.Beta2) * g * g;
        firstMoment[i] = m;
        secondMoment[i] = v;
        parameters[i] -= args.StepSize * m / (XMath.Sqrt(v) / args.RootBiasCorrection2 + args.Epsilon);
    }
}
