namespace O2RL.Kernels;

/// <summary>Plain C# global-norm gradient clipping (PyTorch's clip_grad_norm_).</summary>
public static class GradNormReference
{
    /// <summary>Returns ‖g‖₂ and scales g by maxNorm/(‖g‖ + 1e-6) when ‖g‖ &gt; maxNorm.</summary>
    public static float Clip(Span<float> gradients, float maxNorm)
    {
        double sumSquares = 0;
        foreach (float g in gradients) sumSquares += (double)g * g;
        float norm = (float)Math.Sqrt(sumSquares);
        float coefficient = maxNorm / (norm + 1e-6f);
        if (coefficient < 1f)
            for (int i = 0; i < gradients.Length; i++) gradients[i] *= coefficient;
        return norm;
    }
}
