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

    /// <summary>
    /// Deepest k-panel of the one-element-per-thread GEMM kernels (a multiple of <see cref="TileThreads"/>):
    /// the shared panels are sized for it, and a launch stages <see cref="GemmArguments.PanelDepth"/> ≤ this much of
    /// k at once, so that a thread's global loads for the whole panel are in flight together.
    /// </summary>
    int MaxPanelDepth { get; }

    /// <summary>Threads in the group of a reduction kernel: one group per row, or the single group of a full sum (a power of two).</summary>
    int ReduceThreads { get; }

    /// <summary>Columns handled by one group of a column-reduction kernel (threads along x).</summary>
    int ColumnThreads { get; }

    /// <summary>Row slices of a column-reduction group (threads along y): thread y sums rows y, y + slices, …</summary>
    int RowSlices { get; }
}

/// <summary>
/// Geometry for real GPUs and OpenCL devices: 16×16-thread GEMM blocks (64×64 tiles), 256-thread row reductions,
/// 32-column × 32-slice column reductions. The column sums of an RL update (bias gradients of 256 rows, a few
/// blocks of columns) are bound by each thread's chain of dependent loads, not by bandwidth: 32 slices make that
/// chain 8 rows long instead of 32 (8 slices measured 10–15 µs per sum on an H200 at 12 % occupancy).
/// </summary>
internal readonly struct DeviceGeometry : IGpuGeometry
{
    public int TileThreads => 16;
    public int MaxPanelDepth => 128;
    public int ReduceThreads => 256;
    public int ColumnThreads => 32;
    public int RowSlices => 32;
}

/// <summary>
/// Geometry for ILGPU's CPU accelerator, whose default device allows at most 16 threads per group:
/// 4×4-thread GEMM blocks (16×16 tiles), 16-thread reductions and 4-column × 4-slice column reductions.
/// </summary>
internal readonly struct SimulatorGeometry : IGpuGeometry
{
    public int TileThreads => 4;
    public int MaxPanelDepth => 16;
    public int ReduceThreads => 16;
    public int ColumnThreads => 4;
    public int RowSlices => 4;
}

/// <summary>
/// Device-side copies of the <see cref="OpMath"/> formulas. OpMath itself cannot be called from a kernel (its
/// switch arms throw, which ILGPU does not compile), so the same formulas are restated here; keep the two in step.
/// Op codes are the integer values of the enums.
/// </summary>
/// <remarks>
/// exp, log and tanh are computed here rather than through XMath: on CUDA, ILGPU lowers XMath.Tanh to the
/// hardware's tanh.approx.f32 (relative error up to 2⁻¹¹), and XMath.Exp and XMath.Log to ex2.approx and
/// lg2.approx, whose absolute error of about 2⁻²² ruins log(x) for x near 1 and everything built on it (softplus,
/// atanh). Measured on an H200 before this: tanh off by 7·10⁻⁶ relative, softplus by 2·10⁻⁵. The versions below
/// use only adds, multiplies, one division and exponent-bit manipulation, so every device (CUDA, OpenCL, the
/// ILGPU CPU accelerator) computes them to within a few float ulps of the reference.
/// </remarks>
internal static class GpuMath
{
    const float Log2E = 1.44269504f;
    // ln 2 split for Cody–Waite reduction: LnTwoHigh has 16 significant bits, so k·LnTwoHigh is exact for |k| < 256.
    const float LnTwoHigh = 0.693145751953125f;
    const float LnTwoLow = 1.42860677e-6f;

    public static float Activate(int activation, float x)
    {
        if (activation == (int)Activation.Relu) return x <= 0f ? 0f : x; // NaN kept, as OpMath.Relu
        if (activation == (int)Activation.Tanh) return Tanh(x);
        return x;
    }

    public static float ActivationDerivativeFromOutput(int activation, float y)
    {
        if (activation == (int)Activation.Relu) return y > 0f ? 1f : 0f;
        if (activation == (int)Activation.Tanh) return 1f - y * y;
        return 1f;
    }

    /// <summary>
    /// eˣ to about one ulp: x = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite), eʳ by its degree-7 Taylor polynomial
    /// (truncation below 6·10⁻⁹ relative), then times 2ᵏ in two factors so that results down to the denormals
    /// come out right.
    /// </summary>
    public static float Exp(float x)
    {
        if (XMath.IsNaN(x)) return x;
        if (x > 88.72284f) return float.PositiveInfinity;
        if (x < -103.97208f) return 0f; // below half the smallest denormal
        float k = XMath.Floor(x * Log2E + 0.5f);
        float r = (x - k * LnTwoHigh) - k * LnTwoLow;
        float p = 1f / 5040f;
        p = p * r + 1f / 720f;
        p = p * r + 1f / 120f;
        p = p * r + 1f / 24f;
        p = p * r + 1f / 6f;
        p = p * r + 0.5f;
        p = p * r + 1f;
        p = p * r + 1f;
        int exponent = (int)k;
        int half = exponent / 2;
        return p * PowerOfTwo(half) * PowerOfTwo(exponent - half);
    }

    /// <summary>2ᵏ for k in [−126, 127], from the exponent bits.</summary>
    static float PowerOfTwo(int k) => Interop.IntAsFloat((uint)(k + 127) << 23);

    /// <summary>
    /// ln x to a few ulps: x = m·2ᵉ with m in [√½, √2], ln m = 2·atanh(s) with s = (m − 1)/(m + 1), |s| ≤ 0.172,
    /// by its odd series to s¹¹ (truncation below 10⁻¹⁰ relative). Zero gives −∞, negatives and NaN give NaN.
    /// </summary>
    public static float Log(float x)
    {
        if (!(x > 0f)) return x == 0f ? float.NegativeInfinity : float.NaN;
        if (x == float.PositiveInfinity) return x;
        float scale = 0f;
        if (x < 1.17549435e-38f)
        {
            x *= 16777216f; // denormal: bring it into the normal range, 2²⁴
            scale = -24f;
        }
        uint bits = Interop.FloatAsInt(x);
        float exponent = (int)((bits >> 23) & 0xFFu) - 127 + scale;
        float m = Interop.IntAsFloat((bits & 0x007FFFFFu) | 0x3F800000u);
        if (m > 1.41421356f)
        {
            m *= 0.5f;
            exponent += 1f;
        }
        float logM = TwiceAtanh((m - 1f) / (m + 1f));
        return exponent * LnTwoHigh + (logM + exponent * LnTwoLow);
    }

    /// <summary>
    /// ln(1 + u). Where 1 + u lies in [√½, √2] it never forms 1 + u (whose rounding would swamp a small u):
    /// ln(1 + u) = 2·atanh(u/(2 + u)), the series of <see cref="Log"/>. Elsewhere ln(1 + u) loses nothing.
    /// </summary>
    public static float Log1p(float u)
    {
        if (u > -0.2928932f && u < 0.41421356f) return TwiceAtanh(u / (2f + u));
        return Log(1f + u);
    }

    /// <summary>2·atanh(s) for |s| ≤ 0.172 by the odd series to s¹¹ (truncation below 10⁻¹⁰ relative): ln((1 + s)/(1 − s)).</summary>
    static float TwiceAtanh(float s)
    {
        float s2 = s * s;
        float series = 1f / 11f;
        series = series * s2 + 1f / 9f;
        series = series * s2 + 1f / 7f;
        series = series * s2 + 1f / 5f;
        series = series * s2 + 1f / 3f;
        series = series * s2 + 1f;
        return 2f * s * series;
    }

    /// <summary>
    /// tanh as the SIMD kernels compute it: (1 − e)/(1 + e) with e = exp(−2|x|) and the sign of x for |x| ≥ 1/8,
    /// and below that the odd Taylor polynomial to x⁹ (the subtraction would cancel there).
    /// </summary>
    public static float Tanh(float x)
    {
        float magnitude = XMath.Abs(x);
        if (magnitude < 0.125f)
        {
            float x2 = x * x;
            float p = 62f / 2835f;
            p = p * x2 - 17f / 315f;
            p = p * x2 + 2f / 15f;
            p = p * x2 - 1f / 3f;
            p = p * x2 + 1f;
            return p * x;
        }
        float e = Exp(-2f * magnitude);
        float t = (1f - e) / (1f + e);
        return x < 0f ? -t : t;
    }

    public static float Softplus(float x) => XMath.Max(x, 0f) + Log1p(Exp(-XMath.Abs(x)));

    public static float Unary(int op, float x, float a, float b)
    {
        switch (op)
        {
            case (int)UnaryOp.Affine: return a * x + b;
            case (int)UnaryOp.Exp: return Exp(x);
            case (int)UnaryOp.Log: return Log(x);
            case (int)UnaryOp.Tanh: return Tanh(x);
            case (int)UnaryOp.Softplus: return Softplus(x);
            case (int)UnaryOp.Clamp: return XMath.Min(XMath.Max(x, a), b);
            case (int)UnaryOp.Square: return x * x;
            case (int)UnaryOp.Abs: return XMath.Abs(x);
            case (int)UnaryOp.Sqrt: return XMath.Sqrt(x);
            // ½·(ln(1 + x) − ln(1 − x)); through log1p each half keeps its precision for small x.
            case (int)UnaryOp.Atanh: return 0.5f * (Log1p(x) - Log1p(-x));
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
