using ILGPU;
using ILGPU.Algorithms;

namespace O2RL.Kernels;

/// <summary>
/// Launch geometry of the explicitly grouped kernels, fixed at kernel-compile time through a struct type
/// argument so that shared-memory sizes are constants (ILGPU needs constant shared allocations).
/// </summary>
internal interface IGpuGeometry
{
    /// <summary>Threads along each side of a GEMM thread block; the block computes a (4·T)×(4·T) tile of C.</summary>
    int TileThreads { get; }

    /// <summary>Threads in the group of a reduction kernel: one group per row, or the single group of a full sum (a power of two).</summary>
    int ReduceThreads { get; }

    /// <summary>Columns handled by one group of a column-reduction kernel (threads along x).</summary>
    int ColumnThreads { get; }

    /// <summary>Row slices of a column-reduction group (threads along y): thread y sums rows y, y + slices, …</summary>
    int RowSlices { get; }
}

/// <summary>
/// Geometry for real GPUs and OpenCL devices: 16×16-thread GEMM blocks (64×64 tiles), 256-thread row reductions,
/// 32-column × 8-slice column reductions.
/// </summary>
internal readonly struct DeviceGeometry : IGpuGeometry
{
    public int TileThreads => 16;
    public int ReduceThreads => 256;
    public int ColumnThreads => 32;
    public int RowSlices => 8;
}

/// <summary>
/// Geometry for ILGPU's CPU accelerator, whose default device allows at most 16 threads per group:
/// 4×4-thread GEMM blocks (16×16 tiles), 16-thread reductions and 4-column × 4-slice column reductions.
/// </summary>
internal readonly struct SimulatorGeometry : IGpuGeometry
{
    public int TileThreads => 4;
    public int ReduceThreads => 16;
    public int ColumnThreads => 4;
    public int RowSlices => 4;
}

/// <summary>
/// Device-side copies of the <see cref="OpMath"/> formulas. OpMath itself cannot be called from a kernel (its
/// switch arms throw, which ILGPU does not compile), so the same formulas are restated here with XMath; keep the
/// two in step. Op codes are the integer values of the enums.
/// </summary>
internal static class GpuMath
{
    public static float Activate(int activation, float x)
    {
        if (activation == (int)Activation.Relu) return x > 0f ? x : 0f;
        if (activation == (int)Activation.Tanh) return XMath.Tanh(x);
        return x;
    }

    public static float ActivationDerivativeFromOutput(int activation, float y)
    {
        if (activation == (int)Activation.Relu) return y > 0f ? 1f : 0f;
        if (activation == (int)Activation.Tanh) return 1f - y * y;
        return 1f;
    }

    public static float Softplus(float x) => XMath.Max(x, 0f) + XMath.Log(1f + XMath.Exp(-XMath.Abs(x)));

    public static float Unary(int op, float x, float a, float b)
    {
        switch (op)
        {
            case (int)UnaryOp.Affine: return a * x + b;
            case (int)UnaryOp.Exp: return XMath.Exp(x);
            case (int)UnaryOp.Log: return XMath.Log(x);
            case (int)UnaryOp.Tanh: return XMath.Tanh(x);
            case (int)UnaryOp.Softplus: return Softplus(x);
            case (int)UnaryOp.Clamp: return XMath.Min(XMath.Max(x, a), b);
            case (int)UnaryOp.Square: return x * x;
            case (int)UnaryOp.Abs: return XMath.Abs(x);
            case (int)UnaryOp.Sqrt: return XMath.Sqrt(x);
            case (int)UnaryOp.Atanh: return 0.5f * (XMath.Log(1f + x) - XMath.Log(1f - x));
            default: return x > a ? 1f : 0f; // UnaryOp.Step; the host validates op codes
        }
    }

    public static float Binary(int op, float x, float y, float alpha, float beta)
    {
        switch (op)
        {
            case (int)BinaryOp.Add: return alpha * x + beta * y;
            case (int)BinaryOp.Mul: return alpha * x * (beta * y);
            case (int)BinaryOp.Div: return alpha * x / (beta * y);
            case (int)BinaryOp.Min: return XMath.Min(alpha * x, beta * y);
            default: return XMath.Max(alpha * x, beta * y); // BinaryOp.Max
        }
    }

    public static int BroadcastIndex(int broadcast, int i, int cols)
    {
        if (broadcast == (int)Broadcast.None) return i;
        if (broadcast == (int)Broadcast.Row) return i % cols;
        if (broadcast == (int)Broadcast.Column) return i / cols;
        return 0;
    }

    /// <summary>
    /// Sums one value per thread of the group in a fixed tree order (deterministic: no atomics). Every thread
    /// receives the total. <paramref name="scratch"/> is shared memory of at least Group.DimX floats; the
    /// group size must be a power of two.
    /// </summary>
    public static float GroupSum(ArrayView<float> scratch, float value)
    {
        int t = Group.IdxX;
        scratch[t] = value;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride /= 2)
        {
            if (t < stride) scratch[t] += scratch[t + stride];
            Group.Barrier();
        }
        float total = scratch[0];
        // Keep every thread's read of the total ahead of any later reuse of the scratch memory.
        Group.Barrier();
        return total;
    }

    /// <summary>
    /// Finishes a column reduction in a group of ColumnThreads × RowSlices threads: each thread has summed its
    /// slice of rows for column Group.IdxX; the slices are then added in slice order (deterministic). Returns the
    /// column total on the threads with Group.IdxY == 0 (0 elsewhere). <paramref name="scratch"/> holds at least
    /// Group.DimX · Group.DimY floats of shared memory.
    /// </summary>
    public static float ColumnTotal(ArrayView<float> scratch, float slicePartial)
    {
        int columns = Group.DimX;
        scratch[Group.IdxY * columns + Group.IdxX] = slicePartial;
        Group.Barrier();
        float total = 0f;
        if (Group.IdxY == 0)
            for (int slice = 0; slice < Group.DimY; slice++) total += scratch[slice * columns + Group.IdxX];
        // Keep the reads ahead of any later reuse of the scratch memory.
        Group.Barrier();
        return total;
    }
}
