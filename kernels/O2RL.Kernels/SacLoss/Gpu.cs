using ILGPU;

namespace O2RL.Kernels;

/// <summary>Sizes and switches of <see cref="SacLossGpu.ActorLoss{TGeometry}"/>.</summary>
internal struct SacActorLossArguments
{
    public int Critics, Batch;
    /// <summary>1 when the kernel also writes the temperature gradient and loss, else 0.</summary>
    public int HasTemperature;
    public float TargetEntropy;
}

/// <summary>Sizes, switches and γ of <see cref="SacLossGpu.TdLoss{TGeometry}"/>.</summary>
internal struct SacTdLossArguments
{
    public int Critics, NextCritics, Batch;
    /// <summary>1 when the target has the entropy term / the cost term / y is written, else 0 (the view is a placeholder).</summary>
    public int HasLogProb, HasCost, HasTarget;
    public float Gamma;
}

/// <summary>
/// SAC's fused losses (formulas in <see cref="SacLossReference"/>): one group of TGeometry.ReduceThreads threads
/// walks the rows, writes the per-element gradients and sums the loss in a fixed order (deterministic). One launch
/// each, in place of six (actor loss), three more (temperature) and ten (TD loss with its target) small launches.
/// </summary>
internal static class SacLossGpu
{
    /// <summary>L_π, ∂L_π/∂Q, ∂L_π/∂log π and, when asked, ∂L_α/∂log α and L_α.</summary>
    public static void ActorLoss<TGeometry>(ArrayView<float> q, ArrayView<float> logProb, ArrayView<float> alpha,
        ArrayView<float> qGradient, ArrayView<float> logProbGradient, ArrayView<float> loss,
        ArrayView<float> logAlpha, ArrayView<float> logAlphaGradient, ArrayView<float> alphaLoss, SacActorLossArguments arguments)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        int batch = arguments.Batch, critics = arguments.Critics;
        float a = alpha[0];
        float minusInverseBatch = -1f / batch, logProbWeight = 1f / batch * a;
        float partialLoss = 0f, partialLogProb = 0f;
        for (int i = Group.IdxX; i < batch; i += Group.DimX)
        {
            float best = q[i];
            int bestMember = 0;
            for (int e = 1; e < critics; e++)
            {
                float v = q[e * batch + i];
                if (v < best) { best = v; bestMember = e; }
            }
            float lp = logProb[i];
            partialLoss += a * lp - best;
            partialLogProb += lp;
            for (int e = 0; e < critics; e++) qGradient[e * batch + i] = e == bestMember ? minusInverseBatch : 0f;
            logProbGradient[i] = logProbWeight;
        }
        float total = GpuMath.GroupSum(scratch, partialLoss);
        float logProbTotal = GpuMath.GroupSum(scratch, partialLogProb);
        if (Group.IdxX == 0)
        {
            loss[0] = total / batch;
            if (arguments.HasTemperature != 0)
            {
                float gradient = -(logProbTotal / batch) - arguments.TargetEntropy;
                logAlphaGradient[0] = gradient;
                alphaLoss[0] = logAlpha[0] * gradient;
            }
        }
    }

    /// <summary>L_Q, ∂L_Q/∂Q, the mean of Q and, when asked, the target y.</summary>
    public static void TdLoss<TGeometry>(ArrayView<float> q, ArrayView<float> nextQ, ArrayView<float> nextLogProb, ArrayView<float> alpha,
        ArrayView<float> nextCost, ArrayView<float> rewards, ArrayView<float> terminals, ArrayView<float> gradient,
        ArrayView<float> target, ArrayView<float> loss, ArrayView<float> meanQ, SacTdLossArguments arguments)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        int batch = arguments.Batch, critics = arguments.Critics;
        float a = arguments.HasLogProb != 0 ? alpha[0] : 0f;
        float gradientScale = 2f / batch;
        float partialSquares = 0f, partialQ = 0f;
        for (int i = Group.IdxX; i < batch; i += Group.DimX)
        {
            float value = nextQ[i];
            for (int e = 1; e < arguments.NextCritics; e++)
            {
                float v = nextQ[e * batch + i];
                if (v < value) value = v;
            }
            if (arguments.HasLogProb != 0) value -= a * nextLogProb[i];
            if (arguments.HasCost != 0) value -= nextCost[i];
            float y = rewards[i] + arguments.Gamma * ((1f - terminals[i]) * value);
            if (arguments.HasTarget != 0) target[i] = y;
            for (int e = 0; e < critics; e++)
            {
                float qe = q[e * batch + i], u = qe - y;
                partialSquares += u * u;
                partialQ += qe;
                gradient[e * batch + i] = gradientScale * u;
            }
        }
        float squares = GpuMath.GroupSum(scratch, partialSquares);
        float qTotal = GpuMath.GroupSum(scratch, partialQ);
        if (Group.IdxX == 0)
        {
            loss[0] = squares / batch;
            meanQ[0] = qTotal / (critics * batch);
        }
    }
}
