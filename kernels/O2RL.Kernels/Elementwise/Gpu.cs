using ILGPU;

namespace O2RL.Kernels;

/// <summary>Scalar arguments of a binary elementwise kernel.</summary>
internal struct BinaryArguments
{
    /// <summary>The <see cref="BinaryOp"/> and <see cref="Broadcast"/> as integer values.</summary>
    public int Op, Broadcast;
    /// <summary>Columns of x read as [rows, cols] (for row and column broadcasts).</summary>
    public int Cols;
    public float Alpha, Beta;
}

/// <summary>Column-block copy: dst[r, DestinationColumn + j] ← src[r, SourceColumn + j].</summary>
internal struct CopyColumnsArguments
{
    public int SourceCols, SourceColumn, DestinationCols, DestinationColumn;
}

/// <summary>
/// Elementwise ILGPU kernels, one thread per element. Each thread reads its inputs before writing its output, so
/// the output may be one of the inputs (in-place).
/// </summary>
internal static class ElementwiseGpu
{
    /// <summary>y ← f(x; a, b).</summary>
    public static void Unary(Index1D i, ArrayView<float> x, ArrayView<float> y, int op, float a, float b) =>
        y[i] = GpuMath.Unary(op, x[i], a, b);

    /// <summary>z ← f(α·x, β·y[broadcast(i)]).</summary>
    public static void Binary(Index1D i, ArrayView<float> x, ArrayView<float> y, ArrayView<float> z, BinaryArguments args) =>
        z[i] = GpuMath.Binary(args.Op, x[i], y[GpuMath.BroadcastIndex(args.Broadcast, i, args.Cols)], args.Alpha, args.Beta);

    /// <summary>z ← condition &gt; 0 ? x : y.</summary>
    public static void Select(Index1D i, ArrayView<float> condition, ArrayView<float> x, ArrayView<float> y, ArrayView<float> z) =>
        z[i] = condition[i] > 0f ? x[i] : y[i];

    /// <summary>Index (j, r): one thread per copied element.</summary>
    public static void CopyColumns(Index2D index, ArrayView<float> source, ArrayView<float> destination, CopyColumnsArguments args) =>
        destination[index.Y * args.DestinationCols + args.DestinationColumn + index.X] = source[index.Y * args.SourceCols + args.SourceColumn + index.X];

    /// <summary>
    /// Index (j, r), one thread per element of destination [rows, leftCols + rightCols] ← [left | right]: one launch
    /// where two column copies would take two (the critics' input [s | a]).
    /// </summary>
    public static void ConcatColumns(Index2D index, ArrayView<float> left, ArrayView<float> right, ArrayView<float> destination, int leftCols, int rightCols)
    {
        int j = index.X, r = index.Y;
        destination[r * (leftCols + rightCols) + j] = j < leftCols ? left[r * leftCols + j] : right[r * rightCols + j - leftCols];
    }

    /// <summary>x ← value.</summary>
    public static void Fill(Index1D i, ArrayView<float> x, float value) => x[i] = value;

    /// <summary><see cref="Fill"/> with the value read from device memory (for captured graphs, where it may change per replay).</summary>
    public static void FillWithDeviceScalars(Index1D i, ArrayView<float> x, ArrayView<ulong> scalars) => x[i] = DeviceScalars.Float(scalars, 0);
}
