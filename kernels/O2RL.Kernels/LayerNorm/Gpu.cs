using ILGPU;
using ILGPU.Algorithms;

namespace O2RL.Kernels;

/// <summary>Shape of a LayerNorm: rows split into equal consecutive groups, each with its own γ and β rows.</summary>
internal struct LayerNormArguments
{
    public int Rows, Cols, RowsPerGroup;
    public float Epsilon;
}

/// <summary>
/// LayerNorm kernels. Forward and the input gradient run one thread per row (two passes: mean, then variance,
/// as the reference). The parameter gradients dγ, dβ are column reductions run one thread per (column, group),
/// each summing its rows in increasing order: deterministic, no float atomics and no scratch buffer.
/// </summary>
internal static class LayerNormGpu
{
    /// <summary>Index: row. y = γ ⊙ (x − μ)·rstd + β; saves μ and rstd.</summary>
    public static void Forward(Index1D row, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y,
        ArrayView<float> mean, ArrayView<float> rstd, LayerNormArguments args)
    {
        int start = row * args.Cols;
        float mu = 0f;
        for (int c = 0; c < args.Cols; c++) mu += x[start + c];
        mu /= args.Cols;
        float variance = 0f;
        for (int c = 0; c < args.Cols; c++)
        {
            float d = x[start + c] - mu;
            variance += d * d;
        }
        variance /= args.Cols;
        float inverseStd = 1f / XMath.Sqrt(variance + args.Epsilon);
        mean[row] = mu;
        rstd[row] = inverseStd;
        int g = row / args.RowsPerGroup * args.Cols;
        for (int c = 0; c < args.Cols; c++)
            y[start + c] = gamma[g + c] * ((x[start + c] - mu) * inverseStd) + beta[g + c];
    }

    /// <summary>Index: row. dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)) with dx̂ = dy ⊙ γ (overwrites dx).</summary>
    public static void BackwardInput(Index1D row, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> gamma,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dx, LayerNormArguments args)
    {
        int start = row * args.Cols;
        int g = row / args.RowsPerGroup * args.Cols;
        float mu = mean[row], inverseStd = rstd[row];
        float meanDxHat = 0f, meanDxHatXHat = 0f;
        for (int c = 0; c < args.Cols; c++)
        {
            float dxHat = dy[start + c] * gamma[g + c];
            meanDxHat += dxHat;
            meanDxHatXHat += dxHat * ((x[start + c] - mu) * inverseStd);
        }
        meanDxHat /= args.Cols;
        meanDxHatXHat /= args.Cols;
        for (int c = 0; c < args.Cols; c++)
        {
            float xHat = (x[start + c] - mu) * inverseStd;
            float dxHat = dy[start + c] * gamma[g + c];
            dx[start + c] = inverseStd * (dxHat - meanDxHat - xHat * meanDxHatXHat);
        }
    }

    /// <summary>Index (column, group). dγ += Σ_rows dy ⊙ x̂; dβ += Σ_rows dy over the group's rows.</summary>
    public static void BackwardParameters(Index2D index, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> mean,
        ArrayView<float> rstd, ArrayView<float> dgamma, ArrayView<float> dbeta, LayerNormArguments args)
    {
        int c = index.X, group = index.Y;
        float sumGamma = 0f, sumBeta = 0f;
        int first = group * args.RowsPerGroup;
        for (int r = first; r < first + args.RowsPerGroup; r++)
        {
            float d = dy[r * args.Cols + c];
            sumGamma += d * ((x[r * args.Cols + c] - mean[r]) * rstd[r]);
            sumBeta += d;
        }
        dgamma[group * args.Cols + c] += sumGamma;
        dbeta[group * args.Cols + c] += sumBeta;
    }
}
