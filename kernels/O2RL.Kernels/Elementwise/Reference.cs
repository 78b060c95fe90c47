namespace O2RL.Kernels;

/// <summary>Plain C# elementwise ops.</summary>
public static class ElementwiseReference
{
    /// <summary>y ← f(x; a, b).</summary>
    public static void Unary(UnaryOp op, ReadOnlySpan<float> x, Span<float> y, float a, float b)
    {
        for (int i = 0; i < x.Length; i++) y[i] = OpMath.Unary(op, x[i], a, b);
    }

    /// <summary>z ← f(α·x, β·y) with y broadcast over x read as [rows, cols].</summary>
    public static void Binary(BinaryOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z, float alpha, float beta, Broadcast broadcast, int cols)
    {
        for (int i = 0; i < x.Length; i++) z[i] = OpMath.Binary(op, x[i], y[OpMath.BroadcastIndex(broadcast, i, cols)], alpha, beta);
    }

    /// <summary>z ← condition &gt; 0 ? x : y.</summary>
    public static void Select(ReadOnlySpan<float> condition, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z)
    {
        for (int i = 0; i < x.Length; i++) z[i] = condition[i] > 0f ? x[i] : y[i];
    }

    /// <summary>dst[r, :] ← [left[r, :] | right[r, :]]: the two column blocks side by side.</summary>
    public static void ConcatColumns(int rows, ReadOnlySpan<float> left, int leftCols, ReadOnlySpan<float> right, int rightCols, Span<float> destination)
    {
        int cols = leftCols + rightCols;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
                destination[r * cols + j] = j < leftCols ? left[r * leftCols + j] : right[r * rightCols + j - leftCols];
    }

    /// <summary>dst[r, dstColumn + j] ← src[r, srcColumn + j].</summary>
    public static void CopyColumns(int rows, ReadOnlySpan<float> source, int sourceCols, int sourceColumn,
        Span<float> destination, int destinationCols, int destinationColumn, int columnCount)
    {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < columnCount; j++)
                destination[r * destinationCols + destinationColumn + j] = source[r * sourceCols + sourceColumn + j];
    }
}
