namespace O2RL.Kernels;

/// <summary>
/// Plain C# forms of SAC's two losses as single fused ops (double accumulation). Each replaces a chain of small
/// ops (ensemble minimum, products with α, sums, repeated targets) that a GPU would run as one launch each.
/// Q values of an ensemble of E critics are laid out [E, B]: member e's value for row i at e·B + i.
/// </summary>
public static class SacLossReference
{
    /// <summary>
    /// Actor loss L_π = mean_i[α·log π_i − min_e Q_e,i] with α constant. Writes ∂L_π/∂Q [E, B] (−1/B at the first
    /// minimising member of each row, 0 elsewhere) and ∂L_π/∂log π = α/B [B]; returns L_π and mean_i log π_i
    /// (the temperature loss needs it).
    /// </summary>
    public static float ActorLoss(int critics, int batch, ReadOnlySpan<float> q, ReadOnlySpan<float> logProb, float alpha,
        Span<float> qGradient, Span<float> logProbGradient, out float meanLogProb)
    {
        float minusInverseBatch = -1f / batch, logProbWeight = 1f / batch * alpha;
        double loss = 0, logProbSum = 0;
        for (int i = 0; i < batch; i++)
        {
            float best = q[i];
            int bestMember = 0;
            for (int e = 1; e < critics; e++)
                if (q[e * batch + i] < best) { best = q[e * batch + i]; bestMember = e; }
            loss += (double)alpha * logProb[i] - best;
            logProbSum += logProb[i];
            for (int e = 0; e < critics; e++) qGradient[e * batch + i] = e == bestMember ? minusInverseBatch : 0f;
            logProbGradient[i] = logProbWeight;
        }
        meanLogProb = (float)(logProbSum / batch);
        return (float)(loss / batch);
    }

    /// <summary>
    /// The temperature loss L_α = −mean[log α·(log π + H̄)] with the bracket constant: returns ∂L_α/∂log α =
    /// −(mean log π + H̄) and writes the loss value log α·∂L_α/∂log α.
    /// </summary>
    public static float TemperatureGradient(float meanLogProb, float targetEntropy, float logAlpha, out float alphaLoss)
    {
        float gradient = -meanLogProb - targetEntropy;
        alphaLoss = logAlpha * gradient;
        return gradient;
    }

    /// <summary>
    /// Soft TD loss of E critics against one target per row:
    /// y_i = r_i + γ(1 − m_i)·[min_e Q̄_e,i − α·log π′_i − c_i]  (the entropy term only when
    /// <paramref name="nextLogProb"/> is given, the cost c only when <paramref name="nextCost"/> is given; Q̄ [E′, B]
    /// may have one member, e.g. a precomputed value);
    /// L_Q = Σ_e mean_i (Q_e,i − y_i)². Writes ∂L_Q/∂Q = 2(Q − y)/B [E, B] and, when given, y [B]; returns L_Q and
    /// the mean of Q over all E·B values. A terminal row (m = 1) does not bootstrap; a time-limit end has m = 0.
    /// </summary>
    public static float TdLoss(int critics, int nextCritics, int batch, ReadOnlySpan<float> q, ReadOnlySpan<float> nextQ,
        ReadOnlySpan<float> nextLogProb, float alpha, ReadOnlySpan<float> nextCost, ReadOnlySpan<float> rewards,
        ReadOnlySpan<float> terminals, float gamma, Span<float> gradient, Span<float> target, out float meanQ)
    {
        float gradientScale = 2f / batch;
        double squares = 0, qSum = 0;
        for (int i = 0; i < batch; i++)
        {
            float value = nextQ[i];
            for (int e = 1; e < nextCritics; e++)
                if (nextQ[e * batch + i] < value) value = nextQ[e * batch + i];
            if (!nextLogProb.IsEmpty) value -= alpha * nextLogProb[i];
            if (!nextCost.IsEmpty) value -= nextCost[i];
            float y = rewards[i] + gamma * ((1f - terminals[i]) * value);
            if (!target.IsEmpty) target[i] = y;
            for (int e = 0; e < critics; e++)
            {
                float qe = q[e * batch + i], u = qe - y;
                squares += (double)u * u;
                qSum += qe;
                gradient[e * batch + i] = gradientScale * u;
            }
        }
        meanQ = (float)(qSum / ((double)critics * batch));
        return (float)(squares / batch);
    }
}
