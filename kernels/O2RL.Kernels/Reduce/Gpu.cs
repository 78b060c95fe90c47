using ILGPU;

namespace O2RL.Kernels;

/// <summary>
/// Reduction kernels. Every sum runs in a fixed order (a thread's own elements in increasing index, then a
/// fixed tree across the group), so results are bitwise repeatable run to run on one device; no float atomics.
/// </summary>
internal static class ReduceGpu
{
    /// <summary>
    /// Grid: one group per row. y[r] ← α·Σ_c x[r, c] + β·y[r] (y is not read when β = 0); the group's threads
    /// stride over the columns and combine in a fixed tree.
    /// </summary>
    public static void RowSum<TGeometry>(ArrayView<float> x, ArrayView<float> y, int cols, float alpha, float beta)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        int row = Grid.IdxX;
        float partial = 0f;
        for (int c = Group.IdxX; c < cols; c += Group.DimX) partial += x[row * cols + c];
        float sum = GpuMath.GroupSum(scratch, partial);
        if (Group.IdxX != 0) return;
        float value = alpha * sum;
        if (beta != 0f) value += beta * y[row];
        y[row] = value;
    }

    /// <summary>
    /// Grid (⌈cols / ColumnThreads⌉, batch), groups of ColumnThreads × RowSlices threads.
    /// y[b, c] ← α·Σ_r x[b, r, c] + β·y[b, c]; thread (j, s) sums rows s, s + RowSlices, … of its column, then the
    /// slices are added in order.
    /// </summary>
    public static void ColumnSum<TGeometry>(ArrayView<float> x, ArrayView<float> y, int rows, int cols, float alpha, float beta)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ColumnThreads * default(TGeometry).RowSlices);
        int c = Grid.IdxX * Group.DimX + Group.IdxX;
        ColumnSumOf(scratch, x, y, rows, cols, alpha, beta, Grid.IdxY, c, Group.IdxX, Group.IdxY, Group.DimY, Group.DimX);
    }

    /// <summary>
    /// The body of a column sum, shared by <see cref="ColumnSum{TGeometry}"/> and <see cref="GemmGpu.PairFused{TGeometry}"/>
    /// so both give the same bits: the calling thread is column <paramref name="j"/> of <paramref name="columns"/>
    /// (global column <paramref name="c"/> of batch entry <paramref name="b"/>) and slice <paramref name="slice"/> of
    /// <paramref name="slices"/>; it sums rows slice, slice + slices, …, and slice 0 adds the slices in order and
    /// stores. Every thread of the group must call it (it waits at a barrier); scratch holds slices × columns floats.
    /// </summary>
    internal static void ColumnSumOf(ArrayView<float> scratch, ArrayView<float> x, ArrayView<float> y, int rows, int cols, float alpha, float beta,
        int b, int c, int j, int slice, int slices, int columns)
    {
        float partial = 0f;
        if (c < cols)
            for (int r = slice; r < rows; r += slices) partial += x[(b * rows + r) * cols + c];
        scratch[slice * columns + j] = partial;
        Group.Barrier();
        if (slice != 0 || c >= cols) return;
        float sum = 0f;
        for (int s = 0; s < slices; s++) sum += scratch[s * columns + j];
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

    /// <summary>
    /// First stage of a large sum: group g of Grid.DimX groups sums x[i] (or x[i]² when <paramref name="square"/> is
    /// 1) over i = g·T + t, stepping by Grid.DimX·T, and writes its total to partials[g]. The split depends only on
    /// n and the grid, so the result is repeatable.
    /// </summary>
    public static void PartialSums<TGeometry>(ArrayView<float> x, ArrayView<float> partials, int n, int square)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        float partial = 0f;
        int step = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += step)
        {
            float v = x[i];
            partial += square != 0 ? v * v : v;
        }
        float total = GpuMath.GroupSum(scratch, partial);
        if (Group.IdxX == 0) partials[Grid.IdxX] = total;
    }

    /// <summary>Second stage of a large sum, one group: y[0] ← α·Σ partials[0..count) in a fixed order.</summary>
    public static void FinishSum<TGeometry>(ArrayView<float> partials, int count, ArrayView<float> y, float alpha)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        float partial = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX) partial += partials[i];
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
