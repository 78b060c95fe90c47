namespace O2RL.Kernels;

/// <summary>Plain C# losses; each returns the loss value and writes ∂L/∂prediction.</summary>
public static class LossReference
{
    /// <summary>L = scale·mean (p − t)²; ∂L/∂p = scale·2(p − t)/n.</summary>
    public static float Mse(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, float scale)
    {
        int n = prediction.Length;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double u = prediction[i] - (double)target[i];
            sum += u * u;
            gradient[i] = (float)(scale * 2.0 * u / n);
        }
        return (float)(scale * sum / n);
    }

    /// <summary>u = t − p; L = mean |τ − 1(u &lt; 0)|·u²; ∂L/∂p = −2·|τ − 1(u &lt; 0)|·u/n.</summary>
    public static float Expectile(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, float tau, Span<float> gradient)
    {
        int n = prediction.Length;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double u = target[i] - (double)prediction[i];
            double weight = u < 0 ? 1.0 - tau : tau;
            sum += weight * u * u;
            gradient[i] = (float)(-2.0 * weight * u / n);
        }
        return (float)(sum / n);
    }
}
