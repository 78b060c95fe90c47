namespace O2RL.Kernels;

/// <summary>Plain C# Adam step, PyTorch's formula (no weight decay, no amsgrad).</summary>
public static class AdamReference
{
    /// <summary>
    /// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − stepSize·m/(√v/rootBiasCorrection2 + ε), with
    /// stepSize = lr/(1 − β1^t) and rootBiasCorrection2 = √(1 − β2^t) computed once per step by the caller.
    /// </summary>
    public static void Step(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment, Span<float> secondMoment,
        float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2)
    {
        for (int i = 0; i < parameters.Length; i++)
        {
            float g = gradients[i];
            float m = beta1 * firstMoment[i] + (1f - beta1) * g;
            float v = beta2 * secondMoment[i] + (1f - beta2) * g * g;
            firstMoment[i] = m;
            secondMoment[i] = v;
            parameters[i] -= stepSize * m / (MathF.Sqrt(v) / rootBiasCorrection2 + epsilon);
        }
    }
}
