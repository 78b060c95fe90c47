namespace O2RL.Kernels;

/// <summary>
/// The reparameterised sample of SAC's tanh-squashed Gaussian and its backward, fused over each row. A row of the
/// actor's head holds the mean μ (d columns) then the raw log-std ρ (d columns); with m, o the trainable log-std
/// multiplier and offset and ε ~ N(0, 1):
/// <code>
/// log σ = clamp(m·ρ + o, lo, hi),  u = μ + σ·ε,  a = tanh u,
/// log π = Σ_j [ −½ε_j² − log σ_j + 2u_j + 2·softplus(−2u_j) ] + d·(−½ ln 2π − 2 ln 2)
/// </code>
/// (the tanh correction −log(1 − tanh²u) in its stable form 2·(u + softplus(−2u) − ln 2)). The backward takes
/// ∂L/∂a and/or ∂L/∂log π and gives ∂L/∂head and ∂L/∂m, ∂L/∂o:
/// <code>
/// ∂L/∂u = ∂L/∂a·(1 − a²) + ∂L/∂log π·2a            (= ∂L/∂μ)
/// ∂L/∂log σ = ∂L/∂u·σε − ∂L/∂log π                 (0 where the clamp was active)
/// ∂L/∂ρ = m·∂L/∂log σ,  ∂L/∂m = Σ ∂L/∂log σ·ρ,  ∂L/∂o = Σ ∂L/∂log σ
/// </code>
/// The forward saves σε for the backward; the clamp test is recomputed from ρ, m and o the same way.
/// This is the plain-C# definition; the CPU backend runs it as is (transcendentals are scalar MathF everywhere
/// on the CPU, and the work is d·batch elements).
/// </summary>
public static class TanhGaussianReference
{
    /// <summary>d·(−½ ln 2π − 2 ln 2): the constant part of log π summed over the action dimensions.</summary>
    public static float LogProbConstant(int actionDim) => (float)(-actionDim * (0.91893853320467274178 + 2.0 * 0.69314718055994530942));

    /// <summary>
    /// Forward over <paramref name="rows"/> rows. head: [rows, 2d]; noise, action, stdNoise: [rows, d]; logProb: [rows].
    /// Writes a = tanh(μ + σε), σε (saved for the backward) and log π.
    /// </summary>
    public static void Sample(int rows, int actionDim, ReadOnlySpan<float> head, ReadOnlySpan<float> noise, float multiplier, float offset,
        float minLogStd, float maxLogStd, Span<float> action, Span<float> stdNoise, Span<float> logProb)
    {
        float constant = LogProbConstant(actionDim);
        for (int r = 0; r < rows; r++)
        {
            int headRow = r * 2 * actionDim, row = r * actionDim;
            float sum = 0f;
            for (int j = 0; j < actionDim; j++)
            {
                float mean = head[headRow + j], rawLogStd = head[headRow + actionDim + j], epsilon = noise[row + j];
                float logStd = MathF.Min(MathF.Max(rawLogStd * multiplier + offset, minLogStd), maxLogStd);
                float scaledNoise = MathF.Exp(logStd) * epsilon;
                float preTanh = mean + scaledNoise;
                action[row + j] = MathF.Tanh(preTanh);
                stdNoise[row + j] = scaledNoise;
                sum += -0.5f * epsilon * epsilon - logStd + 2f * preTanh + 2f * OpMath.Softplus(-2f * preTanh);
            }
            logProb[r] = sum + constant;
        }
    }

    /// <summary>
    /// Backward of <see cref="Sample"/>. actionGradient ([rows, d]) and logProbGradient ([rows]) may each be empty
    /// (the loss does not use it), not both, unless preImageGradient is given. preImageGradient ([rows, d], or empty)
    /// is a gradient with respect to u = μ + σε itself, added to ∂L/∂u: a term that scores the sample by its pre-image
    /// (<see cref="LogProb"/> with givenIsPreImage) reaches the actor this way, also where tanh u has saturated and
    /// the route through a carries nothing. Overwrites headGradient ([rows, 2d]); adds ∂L/∂m and ∂L/∂o onto
    /// <paramref name="multiplierGradient"/> and <paramref name="offsetGradient"/> (summed over rows in double).
    /// </summary>
    public static void SampleBackward(int rows, int actionDim, ReadOnlySpan<float> head, float multiplier, float offset,
        float minLogStd, float maxLogStd, ReadOnlySpan<float> action, ReadOnlySpan<float> stdNoise,
        ReadOnlySpan<float> actionGradient, ReadOnlySpan<float> logProbGradient, Span<float> headGradient,
        ref float multiplierGradient, ref float offsetGradient, ReadOnlySpan<float> preImageGradient = default)
    {
        bool hasActionGradient = !actionGradient.IsEmpty, hasLogProbGradient = !logProbGradient.IsEmpty, hasPreImageGradient = !preImageGradient.IsEmpty;
        double multiplierSum = 0, offsetSum = 0;
        for (int r = 0; r < rows; r++)
        {
            int headRow = r * 2 * actionDim, row = r * actionDim;
            float dLogProb = hasLogProbGradient ? logProbGradient[r] : 0f;
            float rowMultiplier = 0f, rowOffset = 0f;
            for (int j = 0; j < actionDim; j++)
            {
                float a = action[row + j];
                float dPreTanh = hasActionGradient ? actionGradient[row + j] * (1f - a * a) : 0f;
                dPreTanh += 2f * a * dLogProb;
                if (hasPreImageGradient) dPreTanh += preImageGradient[row + j];
                headGradient[headRow + j] = dPreTanh;
                float rawLogStd = head[headRow + actionDim + j];
                float preClamp = rawLogStd * multiplier + offset;
                // The clamp passes the gradient where it passed the value (equality at a bound counts, as in PyTorch).
                float dLogStd = preClamp < minLogStd || preClamp > maxLogStd ? 0f : dPreTanh * stdNoise[row + j] - dLogProb;
                headGradient[headRow + actionDim + j] = multiplier * dLogStd;
                rowMultiplier += dLogStd * rawLogStd;
                rowOffset += dLogStd;
            }
            multiplierSum += rowMultiplier;
            offsetSum += rowOffset;
        }
        multiplierGradient += (float)multiplierSum;
        offsetGradient += (float)offsetSum;
    }

    /// <summary>
    /// log π(a|s) of given actions ([rows, d]; dataset actions, another actor's samples): a is clamped into ±bound,
    /// u = atanh(a), z = (u − μ)/σ and log π = Σ_j [−½z_j² − log σ_j + 2u_j + 2·softplus(−2u_j)] + constant.
    /// saved ([4, rows, d]) receives z, z/σ, the clamped action and ∂u/∂a (1/(1 − a²), 0 where the clamp changed a)
    /// for <see cref="LogProbBackward"/>.
    /// With <paramref name="givenIsPreImage"/> the given values are the pre-images u of the actions (a = tanh u, e.g.
    /// another actor's sample μ + σε): the same formula at u with no clamp and no atanh, exact where tanh u rounds to
    /// ±1 in float, which the clamp reads as u = ±atanh(bound) = ±4.95. saved then holds tanh u and ∂u/∂u = 1, so the
    /// backward gives ∂log π/∂u.
    /// </summary>
    public static void LogProb(int rows, int actionDim, ReadOnlySpan<float> head, ReadOnlySpan<float> action, float multiplier, float offset,
        float minLogStd, float maxLogStd, float actionBound, Span<float> logProb, Span<float> saved, bool givenIsPreImage = false)
    {
        float constant = LogProbConstant(actionDim);
        int n = rows * actionDim;
        for (int r = 0; r < rows; r++)
        {
            int headRow = r * 2 * actionDim, row = r * actionDim;
            float sum = 0f;
            for (int j = 0; j < actionDim; j++)
            {
                float given = action[row + j];
                float clamped = givenIsPreImage ? MathF.Tanh(given) : MathF.Min(MathF.Max(given, -actionBound), actionBound);
                float preTanh = givenIsPreImage ? given : OpMath.Unary(UnaryOp.Atanh, clamped, 0f, 0f);
                float mean = head[headRow + j], rawLogStd = head[headRow + actionDim + j];
                float logStd = MathF.Min(MathF.Max(rawLogStd * multiplier + offset, minLogStd), maxLogStd);
                float std = MathF.Exp(logStd);
                float standardized = (preTanh - mean) / std;
                sum += -0.5f * standardized * standardized - logStd + 2f * preTanh + 2f * OpMath.Softplus(-2f * preTanh);
                saved[row + j] = standardized;
                saved[n + row + j] = standardized / std;
                saved[2 * n + row + j] = clamped;
                saved[3 * n + row + j] = givenIsPreImage ? 1f : clamped == given ? 1f / (1f - clamped * clamped) : 0f;
            }
            logProb[r] = sum + constant;
        }
    }

    /// <summary>
    /// Backward of <see cref="LogProb"/> from ∂L/∂log π ([rows]): writes ∂L/∂a ([rows, d]; zero where the action was
    /// clamped; ∂L/∂u when the forward was given pre-images), and when headGradient is not empty, overwrites it ([rows, 2d]) and adds ∂L/∂m, ∂L/∂o:
    /// ∂log π/∂u = 2a − z/σ, ∂log π/∂μ = z/σ, ∂log π/∂log σ = z² − 1 (0 where the log-std clamp was active).
    /// </summary>
    public static void LogProbBackward(int rows, int actionDim, ReadOnlySpan<float> head, float multiplier, float offset,
        float minLogStd, float maxLogStd, ReadOnlySpan<float> saved, ReadOnlySpan<float> logProbGradient,
        Span<float> actionGradient, Span<float> headGradient, ref float multiplierGradient, ref float offsetGradient)
    {
        int n = rows * actionDim;
        bool withHead = !headGradient.IsEmpty;
        double multiplierSum = 0, offsetSum = 0;
        for (int r = 0; r < rows; r++)
        {
            int headRow = r * 2 * actionDim, row = r * actionDim;
            float dLogProb = logProbGradient[r];
            float rowMultiplier = 0f, rowOffset = 0f;
            for (int j = 0; j < actionDim; j++)
            {
                float standardized = saved[row + j], standardizedOverStd = saved[n + row + j];
                float clamped = saved[2 * n + row + j], inverseJacobian = saved[3 * n + row + j];
                actionGradient[row + j] = (2f * clamped - standardizedOverStd) * dLogProb * inverseJacobian;
                if (!withHead) continue;
                headGradient[headRow + j] = standardizedOverStd * dLogProb;
                float rawLogStd = head[headRow + actionDim + j];
                float preClamp = rawLogStd * multiplier + offset;
                float dLogStd = preClamp < minLogStd || preClamp > maxLogStd ? 0f : (standardized * standardized - 1f) * dLogProb;
                headGradient[headRow + actionDim + j] = multiplier * dLogStd;
                rowMultiplier += dLogStd * rawLogStd;
                rowOffset += dLogStd;
            }
            multiplierSum += rowMultiplier;
            offsetSum += rowOffset;
        }
        if (!withHead) return;
        multiplierGradient += (float)multiplierSum;
        offsetGradient += (float)offsetSum;
    }
}
