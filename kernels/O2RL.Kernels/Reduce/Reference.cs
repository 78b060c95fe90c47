namespace O2RL.Kernels;

/// <summary>Plain C# reductions (double accumulation).</summary>
public static class ReduceReference
{
    /// <summary>y[r] ← β·y[r] + α·Σ_c x[r, c].</summary>
    public static void RowSum(int rows, int cols, ReadOnlySpan<float> x, Span<float> y, float alpha, float beta)
    {
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int c = 0; c < cols; c++) sum += x[r * cols + c];
            y[r] = (float)(alpha * sum + (beta == 0f ? 0.0 : (double)beta * y[r]));
        }
    }

    /// <summary>y[b, c] ← β·y[b, c] + α·Σ_r x[b, r, c] for each batch entry b.</summary>
    public static void ColumnSum(int batch, int rows, int cols, ReadOnlySpan<float> x, Span<float> y, float alpha, float beta)
    {
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < cols; c++)
            {
                double sum = 0;
                for (int r = 0; r < rows; r++) sum += x[(b * rows + r) * cols + c];
                y[b * cols + c] = (float)(alpha * sum + (beta == 0f ? 0.0 : (double)beta * y[b * cols + c]));
            }
    }

    /// <summary>Returns α·Σ x.</summary>
    public static float Sum(ReadOnlySpan<float> x, float alpha)
    {
        double sum = 0;
        foreach (float v in x) sum += v;
        return (float)(alpha * sum);
    }

    /// <summary>y[i] ← min_e x[e, i]; argMin[i] ← first e attaining it.</summary>
    public static void EnsembleMin(int members, ReadOnlySpan<float> x, Span<float> y, Span<float> argMin)
    {
        int n = y.Length;
        for (int i = 0; i < n; i++)
        {
            float best = x[i];
            int bestMember = 0;
            for (int e = 1; e < members; e++)
                if (x[e * n + i] < best) { best = x[e * n + i]; bestMember = e; }
            y[i] = best;
            argMin[i] = bestMember;
        }
    }

    /// <summary>dx[e, i] ← e == argMin[i] ? dy[i] : 0.</summary>
    public static void EnsembleMinBackward(int members, ReadOnlySpan<float> argMin, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int n = dy.Length;
        for (int e = 0; e < members; e++)
            for (int i = 0; i < n; i++)
                dx[e * n + i] = (int)argMin[i] == e ? dy[i] : 0f;
    }
}
