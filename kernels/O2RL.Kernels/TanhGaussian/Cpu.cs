namespace O2RL.Kernels;

/// <summary>
/// The fused tanh-Gaussian sample for the CPU backend: the reference loops on raw pointers. d·batch elements with
/// one exp, tanh and softplus each are a few microseconds; the fusion's gain is the 17 passes (and on a GPU the 17
/// launches) it replaces, not SIMD.
/// </summary>
public static unsafe class TanhGaussianCpu
{
    /// <summary>See <see cref="TanhGaussianReference.Sample"/>.</summary>
    public static void Sample(int rows, int actionDim, float* head, float* noise, float* multiplier, float* offset,
        float minLogStd, float maxLogStd, float* action, float* stdNoise, float* logProb)
    {
        int n = rows * actionDim;
        TanhGaussianReference.Sample(rows, actionDim, new ReadOnlySpan<float>(head, 2 * n), new ReadOnlySpan<float>(noise, n),
            *multiplier, *offset, minLogStd, maxLogStd, new Span<float>(action, n), new Span<float>(stdNoise, n), new Span<float>(logProb, rows));
    }

    /// <summary>See <see cref="TanhGaussianReference.SampleBackward"/>; a null gradient pointer means "not used".</summary>
    public static void SampleBackward(int rows, int actionDim, float* head, float* multiplier, float* offset, float minLogStd, float maxLogStd,
        float* action, float* stdNoise, float* actionGradient, float* logProbGradient, float* headGradient,
        float* multiplierGradient, float* offsetGradient, float* preImageGradient = null)
    {
        int n = rows * actionDim;
        TanhGaussianReference.SampleBackward(rows, actionDim, new ReadOnlySpan<float>(head, 2 * n), *multiplier, *offset, minLogStd, maxLogStd,
            new ReadOnlySpan<float>(action, n), new ReadOnlySpan<float>(stdNoise, n),
            actionGradient == null ? default : new ReadOnlySpan<float>(actionGradient, n),
            logProbGradient == null ? default : new ReadOnlySpan<float>(logProbGradient, rows),
            new Span<float>(headGradient, 2 * n), ref *multiplierGradient, ref *offsetGradient,
            preImageGradient == null ? default : new ReadOnlySpan<float>(preImageGradient, n));
    }

    /// <summary>See <see cref="TanhGaussianReference.LogProb"/>.</summary>
    public static void LogProb(int rows, int actionDim, float* head, float* action, float* multiplier, float* offset,
        float minLogStd, float maxLogStd, float actionBound, float* logProb, float* saved, bool givenIsPreImage = false)
    {
        int n = rows * actionDim;
        TanhGaussianReference.LogProb(rows, actionDim, new ReadOnlySpan<float>(head, 2 * n), new ReadOnlySpan<float>(action, n), *multiplier, *offset,
            minLogStd, maxLogStd, actionBound, new Span<float>(logProb, rows), new Span<float>(saved, 4 * n), givenIsPreImage);
    }

    /// <summary>See <see cref="TanhGaussianReference.LogProbBackward"/>; a null headGradient means "action gradient only".</summary>
    public static void LogProbBackward(int rows, int actionDim, float* head, float* multiplier, float* offset, float minLogStd, float maxLogStd,
        float* saved, float* logProbGradient, float* actionGradient, float* headGradient, float* multiplierGradient, float* offsetGradient)
    {
        int n = rows * actionDim;
        float unusedMultiplier = 0f, unusedOffset = 0f;
        TanhGaussianReference.LogProbBackward(rows, actionDim, new ReadOnlySpan<float>(head, 2 * n), *multiplier, *offset, minLogStd, maxLogStd,
            new ReadOnlySpan<float>(saved, 4 * n), new ReadOnlySpan<float>(logProbGradient, rows), new Span<float>(actionGradient, n),
            headGradient == null ? default : new Span<float>(headGradient, 2 * n),
            ref (headGradient == null ? ref unusedMultiplier : ref *multiplierGradient), ref (headGradient == null ? ref unusedOffset : ref *offsetGradient));
    }
}
