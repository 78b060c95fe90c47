namespace O2RL.Kernels;

/// <summary>Global-norm gradient clipping for the CPU backend.</summary>
public static unsafe class GradNormCpu
{
    /// <summary>Returns ‖g‖₂ and scales g by maxNorm/(‖g‖ + 1e-6) when that is below 1.</summary>
    public static float Clip(float* gradients, int n, float maxNorm)
    {
        float norm = (float)Math.Sqrt(ReduceCpu.SumSquares(gradients, n));
        float coefficient = maxNorm / (norm + 1e-6f);
        if (coefficient < 1f) ElementwiseCpu.Unary(UnaryOp.Affine, gradients, gradients, n, coefficient, 0f);
        return norm;
    }
}
