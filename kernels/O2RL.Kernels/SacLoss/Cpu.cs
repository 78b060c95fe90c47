namespace O2RL.Kernels;

/// <summary>SAC's fused losses for the CPU backend (batch-sized vectors: the reference loops on pointers).</summary>
public static unsafe class SacLossCpu
{
    /// <summary><see cref="SacLossReference.ActorLoss"/>; returns L_π.</summary>
    public static float ActorLoss(int critics, int batch, float* q, float* logProb, float alpha, float* qGradient, float* logProbGradient,
        out float meanLogProb) =>
        SacLossReference.ActorLoss(critics, batch, new ReadOnlySpan<float>(q, critics * batch), new ReadOnlySpan<float>(logProb, batch), alpha,
            new Span<float>(qGradient, critics * batch), new Span<float>(logProbGradient, batch), out meanLogProb);

    /// <summary><see cref="SacLossReference.TdLoss"/>; null optional pointers leave out their term (or output).</summary>
    public static float TdLoss(int critics, int nextCritics, int batch, float* q, float* nextQ, float* nextLogProb, float alpha, float* nextCost,
        float* rewards, float* terminals, float gamma, float* gradient, float* target, out float meanQ) =>
        SacLossReference.TdLoss(critics, nextCritics, batch, new ReadOnlySpan<float>(q, critics * batch), new ReadOnlySpan<float>(nextQ, nextCritics * batch),
            nextLogProb is null ? default : new ReadOnlySpan<float>(nextLogProb, batch), alpha,
            nextCost is null ? default : new ReadOnlySpan<float>(nextCost, batch), new ReadOnlySpan<float>(rewards, batch),
            new ReadOnlySpan<float>(terminals, batch), gamma, new Span<float>(gradient, critics * batch),
            target is null ? default : new Span<float>(target, batch), out meanQ);
}
