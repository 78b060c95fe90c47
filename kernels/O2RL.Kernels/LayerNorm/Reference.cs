namespace O2RL.Kernels;

/// <summary>
/// Plain C# LayerNorm over the last axis, forward and backward side by side. γ and β have
/// <c>groups × cols</c> elements; row r uses group r / (rows / groups).
/// </summary>
public static class LayerNormReference
{
    /// <summary>
    /// y = act(γ ⊙ x̂ + β) with x̂ = (x − μ)·rstd, rstd = 1/√(σ² + ε); saves μ and rstd per row. The activation
    /// (identity, ReLU or tanh) is applied to the float result, as a separate activation pass would.
    /// </summary>
    public static void Forward(int rows, int cols, int groups, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> y, Span<float> mean, Span<float> rstd, float epsilon, Activation activation = Activation.Identity)
    {
        int rowsPerGroup = rows / groups;
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            double mu = 0;
            for (int c = 0; c < cols; c++) mu += row[c];
            mu /= cols;
            double variance = 0;
            for (int c = 0; c < cols; c++) variance += (row[c] - mu) * (row[c] - mu);
            variance /= cols;
            double inverseStd = 1.0 / Math.Sqrt(variance + epsilon);
            mean[r] = (float)mu;
            rstd[r] = (float)inverseStd;
            int g = r / rowsPerGroup * cols;
            for (int c = 0; c < cols; c++)
                y[r * cols + c] = OpMath.Activate(activation, (float)(gamma[g + c] * ((row[c] - mu) * inverseStd) + beta[g + c]));
        }
    }

    /// <summary>
    /// dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)) with dx̂ = dy ⊙ γ (overwrites dx);
    /// dγ += Σ_rows dy ⊙ x̂; dβ += Σ_rows dy.
    /// </summary>
    public static void Backward(int rows, int cols, int groups, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dgamma, Span<float> dbeta)
    {
        int rowsPerGroup = rows / groups;
        for (int r = 0; r < rows; r++)
        {
            int g = r / rowsPerGroup * cols;
            double meanDxHat = 0, meanDxHatXHat = 0;
            for (int c = 0; c < cols; c++)
            {
                double xHat = (x[r * cols + c] - mean[r]) * (double)rstd[r];
                double dxHat = dy[r * cols + c] * (double)gamma[g + c];
                meanDxHat += dxHat;
                meanDxHatXHat += dxHat * xHat;
                dgamma[g + c] += (float)(dy[r * cols + c] * xHat);
                dbeta[g + c] += dy[r * cols + c];
            }
            meanDxHat /= cols;
            meanDxHatXHat /= cols;
            for (int c = 0; c < cols; c++)
            {
                double xHat = (x[r * cols + c] - mean[r]) * (double)rstd[r];
                double dxHat = dy[r * cols + c] * (double)gamma[g + c];
                dx[r * cols + c] = (float)(rstd[r] * (dxHat - meanDxHat - xHat * meanDxHatXHat));
            }
        }
    }
}
