using ILGPU;

namespace O2RL.Kernels;

/// <summary>
/// Reduction kernels. Every sum runs in a fixed order (a thread's own elements in increasing index, then a
/// fixed tree across the group), so results are bitwise repeatable run to run on one device; no float atomics.
/// </summary>
internal static class ReduceGpu
{
    /// <summary>Index: row. y[r] ← α·Σ_c x[r, c] + β·y[r] (y is not read when β = 0).</summary>
    public static void RowSum(Index1D row, ArrayView<float> x, ArrayView<float> y, int cols, float alpha, float beta)
    {
        float sum = 0f;
        for (int c = 0; c < cols; c++) sum += x[row * cols + c];
        float value = alpha * sum;
        if (beta != 0f) value += beta * y[row];
        y[row] = value;
    }

    /// <summary>Index (column, batch). y[b, c] ← α·Σ_r x[b, r, c] + β·y[b, c]; neighbouring threads read neighbouring columns.</summary>
    public static void ColumnSum(Index2D index, ArrayView<float> x, ArrayView<float> y, int rows, int cols, float alpha, float beta)
    {
        int c = index.X, b = index.Y;
        float sum = 0f;
        for (int r = 0; r < rows; r++) sum += x[(b * rows + r) * cols + c];
        float value = alpha * sum;
        if (beta != 0f) value += beta * y[b * cols + c];
        y[b * cols + c] = value;
    }

    /// <summary>One group of TGeometry.ReduceThreads threads: y[0] ← α·Σ x[0..n).</summary>
    public static void Sum<TGeometry>(ArrayView<float> x, ArrayView<float> y, int n, float alpha)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        float partial = 0f;
        for (int i = Group.IdxX; i < n; i += Group.DimX) partial += x[i];
        float total = GpuMath.GroupSum(scratch, partial);
        if (Group.IdxX == 0) y[0] = alpha * total;
    }

    /// <summary>Index: i &lt; n. y[i] ← min_e x[e, i]; argMin[i] ← first e attaining it.</summary>
    public static void EnsembleMin(Index1D i, ArrayView<float> x, ArrayView<float> y, ArrayView<float> argMin, int n, int members)
    {
        float best = x[i];
        int bestMember = 0;
        for (int e = 1; e < members; e++)
        {
            float v = x[e * n + i];
            if (v < best) { best = v; bestMember = e; }
        }
        y[i] = best;
        argMin[i] = bestMember;
    }

    /// <summary>Index: element of dx [members, n]. dx[e, i] ← e == argMin[i] ? dy[i] : 0.</summary>
    public static void EnsembleMinBackward(Index1D index, ArrayView<float> argMin, ArrayView<float> dy, ArrayView<float> dx, int n)
    {
        int e = index / n, i = index % n;
        dx[index] = (int)argMin[i] == e ? dy[i] : 0f;
    }
}
