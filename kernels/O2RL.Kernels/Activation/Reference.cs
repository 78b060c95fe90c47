namespace O2RL.Kernels;

/// <summary>Plain C# activations, forward and backward side by side.</summary>
public static class ActivationReference
{
    /// <summary>y ← act(x).</summary>
    public static void Forward(Activation activation, ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = OpMath.Activate(activation, x[i]);
    }

    /// <summary>dx ← dy ⊙ act′(from y).</summary>
    public static void Backward(Activation activation, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < y.Length; i++) dx[i] = dy[i] * OpMath.ActivationDerivativeFromOutput(activation, y[i]);
    }
}
