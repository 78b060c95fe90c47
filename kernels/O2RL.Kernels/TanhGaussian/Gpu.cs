using ILGPU;

namespace O2RL.Kernels;

/// <summary>Sizes and bounds of one fused tanh-Gaussian launch.</summary>
internal struct TanhGaussianArguments
{
    public int Rows, ActionDim;
    public float MinLogStd, MaxLogStd, LogProbConstant, ActionBound;
    /// <summary>1 when the loss uses the action / the log-density (the backward reads that gradient), else 0.</summary>
    public int HasActionGradient, HasLogProbGradient;
    /// <summary>1 when the log-density backward also differentiates with respect to the head, else 0.</summary>
    public int HasHeadGradient;
    /// <summary>1 when the sample's backward adds a gradient with respect to the pre-image u, else 0.</summary>
    public int HasPreImageGradient;
    /// <summary>1 when the log-density is given pre-images u rather than actions a, else 0.</summary>
    public int GivenIsPreImage;
    /// <summary>
    /// The noise-drawing sample's normal mean (0) and standard deviation (1), passed rather than written as constants so
    /// that no compiler folds 0 + 1·z to z (−0 stays +0, as the normal draw's own kernel gives).
    /// </summary>
    public float DrawMean, DrawStd;
}

/// <summary>
/// The fused tanh-Gaussian sample on ILGPU (formulas in <see cref="TanhGaussianReference"/>). The forward runs one
/// thread per row, summing log π over the row in order. The backward runs one group: thread t takes rows t, t + T,
/// …, writes their head gradients and sums their ∂L/∂m, ∂L/∂o terms, then the group adds those partial sums in a
/// fixed tree and one thread adds them onto m's and o's gradients. One launch each way instead of 17; no atomics.
/// The log-density of given actions has the same two shapes.
/// exp, tanh and softplus are <see cref="GpuMath"/>'s accurate versions.
/// </summary>
internal static class TanhGaussianGpu
{
    public static void Sample(Index1D r, ArrayView<float> head, ArrayView<float> noise, ArrayView<float> multiplier, ArrayView<float> offset,
        ArrayView<float> action, ArrayView<float> stdNoise, ArrayView<float> logProb, TanhGaussianArguments arguments) =>
        SampleRow(r, head, noise, multiplier, offset, action, stdNoise, logProb, arguments, draw: false, 0, 0, 0f, 1f);

    /// <summary>
    /// <see cref="Sample"/> drawing ε itself: ε[i] = N(0, 1) at Philox counter <paramref name="counter"/> + i, the draw of
    /// <see cref="RandomGpu.Normal"/> (written to the noise view too), so one launch does what a normal draw and the
    /// sample did in two.
    /// </summary>
    public static void SampleDrawingNoise(Index1D r, ArrayView<float> head, ArrayView<float> noise, ArrayView<float> multiplier, ArrayView<float> offset,
        ArrayView<float> action, ArrayView<float> stdNoise, ArrayView<float> logProb, TanhGaussianArguments arguments, ulong seed, ulong counter) =>
        SampleRow(r, head, noise, multiplier, offset, action, stdNoise, logProb, arguments, draw: true, seed, counter, arguments.DrawMean, arguments.DrawStd);

    /// <summary><see cref="SampleDrawingNoise"/> with (seed, counter) read from device memory (for captured graphs).</summary>
    public static void SampleDrawingNoiseWithDeviceScalars(Index1D r, ArrayView<float> head, ArrayView<float> noise, ArrayView<float> multiplier,
        ArrayView<float> offset, ArrayView<float> action, ArrayView<float> stdNoise, ArrayView<float> logProb, TanhGaussianArguments arguments,
        ArrayView<ulong> scalars) =>
        SampleRow(r, head, noise, multiplier, offset, action, stdNoise, logProb, arguments, draw: true, scalars[0], scalars[1],
            DeviceScalars.Float(scalars, 2), DeviceScalars.Float(scalars, 3));

    static void SampleRow(int r, ArrayView<float> head, ArrayView<float> noise, ArrayView<float> multiplier, ArrayView<float> offset,
        ArrayView<float> action, ArrayView<float> stdNoise, ArrayView<float> logProb, TanhGaussianArguments arguments, bool draw, ulong seed, ulong counter,
        float drawMean, float drawStd)
    {
        int d = arguments.ActionDim;
        int headRow = r * 2 * d, row = r * d;
        float m = multiplier[0], o = offset[0];
        float sum = 0f;
        for (int j = 0; j < d; j++)
        {
            float epsilon;
            if (draw)
            {
                epsilon = RandomGpu.NormalAt(seed, counter + (ulong)(long)(row + j), drawMean, drawStd);
                noise[row + j] = epsilon;
            }
            else epsilon = noise[row + j];
            float mean = head[headRow + j], rawLogStd = head[headRow + d + j];
            float logStd = ILGPU.Algorithms.XMath.Min(ILGPU.Algorithms.XMath.Max(rawLogStd * m + o, arguments.MinLogStd), arguments.MaxLogStd);
            float scaledNoise = GpuMath.Exp(logStd) * epsilon;
            float preTanh = mean + scaledNoise;
            action[row + j] = GpuMath.Tanh(preTanh);
            stdNoise[row + j] = scaledNoise;
            sum += -0.5f * epsilon * epsilon - logStd + 2f * preTanh + 2f * GpuMath.Softplus(-2f * preTanh);
        }
        logProb[r] = sum + arguments.LogProbConstant;
    }

    public static void SampleBackward<TGeometry>(ArrayView<float> head, ArrayView<float> multiplier, ArrayView<float> offset,
        ArrayView<float> action, ArrayView<float> stdNoise, ArrayView<float> actionGradient, ArrayView<float> logProbGradient,
        ArrayView<float> preImageGradient, ArrayView<float> headGradient, ArrayView<float> multiplierGradient, ArrayView<float> offsetGradient,
        TanhGaussianArguments arguments)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        int d = arguments.ActionDim;
        float m = multiplier[0], o = offset[0];
        float partialMultiplier = 0f, partialOffset = 0f;
        for (int r = Group.IdxX; r < arguments.Rows; r += Group.DimX)
        {
            int headRow = r * 2 * d, row = r * d;
            float dLogProb = arguments.HasLogProbGradient != 0 ? logProbGradient[r] : 0f;
            for (int j = 0; j < d; j++)
            {
                float a = action[row + j];
                float dPreTanh = arguments.HasActionGradient != 0 ? actionGradient[row + j] * (1f - a * a) : 0f;
                dPreTanh += 2f * a * dLogProb;
                if (arguments.HasPreImageGradient != 0) dPreTanh += preImageGradient[row + j];
                headGradient[headRow + j] = dPreTanh;
                float rawLogStd = head[headRow + d + j];
                float preClamp = rawLogStd * m + o;
                float dLogStd = preClamp < arguments.MinLogStd || preClamp > arguments.MaxLogStd ? 0f : dPreTanh * stdNoise[row + j] - dLogProb;
                headGradient[headRow + d + j] = m * dLogStd;
                partialMultiplier += dLogStd * rawLogStd;
                partialOffset += dLogStd;
            }
        }
        float totalMultiplier = GpuMath.GroupSum(scratch, partialMultiplier);
        float totalOffset = GpuMath.GroupSum(scratch, partialOffset);
        if (Group.IdxX == 0)
        {
            multiplierGradient[0] += totalMultiplier;
            offsetGradient[0] += totalOffset;
        }
    }

    public static void LogProb(Index1D r, ArrayView<float> head, ArrayView<float> action, ArrayView<float> multiplier, ArrayView<float> offset,
        ArrayView<float> logProb, ArrayView<float> saved, TanhGaussianArguments arguments)
    {
        int d = arguments.ActionDim, n = arguments.Rows * d;
        int headRow = r * 2 * d, row = r * d;
        float m = multiplier[0], o = offset[0];
        float sum = 0f;
        for (int j = 0; j < d; j++)
        {
            float given = action[row + j];
            bool preImage = arguments.GivenIsPreImage != 0;
            float clamped = preImage ? GpuMath.Tanh(given) : ILGPU.Algorithms.XMath.Min(ILGPU.Algorithms.XMath.Max(given, -arguments.ActionBound), arguments.ActionBound);
            float preTanh = preImage ? given : GpuMath.Unary((int)UnaryOp.Atanh, clamped, 0f, 0f);
            float mean = head[headRow + j], rawLogStd = head[headRow + d + j];
            float logStd = ILGPU.Algorithms.XMath.Min(ILGPU.Algorithms.XMath.Max(rawLogStd * m + o, arguments.MinLogStd), arguments.MaxLogStd);
            float std = GpuMath.Exp(logStd);
            float standardized = (preTanh - mean) / std;
            sum += -0.5f * standardized * standardized - logStd + 2f * preTanh + 2f * GpuMath.Softplus(-2f * preTanh);
            saved[row + j] = standardized;
            saved[n + row + j] = standardized / std;
            saved[2 * n + row + j] = clamped;
            saved[3 * n + row + j] = preImage ? 1f : clamped == given ? 1f / (1f - clamped * clamped) : 0f;
        }
        logProb[r] = sum + arguments.LogProbConstant;
    }

    public static void LogProbBackward<TGeometry>(ArrayView<float> head, ArrayView<float> multiplier, ArrayView<float> offset,
        ArrayView<float> saved, ArrayView<float> logProbGradient, ArrayView<float> actionGradient, ArrayView<float> headGradient,
        ArrayView<float> multiplierGradient, ArrayView<float> offsetGradient, TanhGaussianArguments arguments)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        int d = arguments.ActionDim, n = arguments.Rows * d;
        float m = multiplier[0], o = offset[0];
        float partialMultiplier = 0f, partialOffset = 0f;
        for (int r = Group.IdxX; r < arguments.Rows; r += Group.DimX)
        {
            int headRow = r * 2 * d, row = r * d;
            float dLogProb = logProbGradient[r];
            for (int j = 0; j < d; j++)
            {
                float standardized = saved[row + j], standardizedOverStd = saved[n + row + j];
                float clamped = saved[2 * n + row + j], inverseJacobian = saved[3 * n + row + j];
                actionGradient[row + j] = (2f * clamped - standardizedOverStd) * dLogProb * inverseJacobian;
                if (arguments.HasHeadGradient == 0) continue;
                headGradient[headRow + j] = standardizedOverStd * dLogProb;
                float rawLogStd = head[headRow + d + j];
                float preClamp = rawLogStd * m + o;
                float dLogStd = preClamp < arguments.MinLogStd || preClamp > arguments.MaxLogStd ? 0f : (standardized * standardized - 1f) * dLogProb;
                headGradient[headRow + d + j] = m * dLogStd;
                partialMultiplier += dLogStd * rawLogStd;
                partialOffset += dLogStd;
            }
        }
        if (arguments.HasHeadGradient == 0) return;
        float totalMultiplier = GpuMath.GroupSum(scratch, partialMultiplier);
        float totalOffset = GpuMath.GroupSum(scratch, partialOffset);
        if (Group.IdxX == 0)
        {
            multiplierGradient[0] += totalMultiplier;
            offsetGradient[0] += totalOffset;
        }
    }
}
