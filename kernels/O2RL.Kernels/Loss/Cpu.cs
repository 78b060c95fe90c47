namespace O2RL.Kernels;

/// <summary>Losses for the CPU backend (batch-sized vectors: scalar loops with double accumulation).</summary>
public static unsafe class LossCpu
{
    /// <summary>Returns scale·mean (p − t)² and writes ∂L/∂p.</summary>
    public static float Mse(float* prediction, float* target, float* gradient, int n, float scale) =>
        LossReference.Mse(new ReadOnlySpan<float>(prediction, n), new ReadOnlySpan<float>(target, n), new Span<float>(gradient, n), scale);

    /// <summary>Returns the expectile loss and writes ∂L/∂p.</summary>
    public static float Expectile(float* prediction, float* target, float tau, float* gradient, int n) =>
        LossReference.Expectile(new ReadOnlySpan<float>(prediction, n), new ReadOnlySpan<float>(target, n), tau, new Span<float>(gradient, n));
}
