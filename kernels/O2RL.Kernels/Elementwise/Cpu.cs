using System.Numerics;

namespace O2RL.Kernels;

/// <summary>SIMD elementwise ops for the CPU backend. Transcendental functions run scalar (MathF), which keeps
/// them bit-identical to the reference; at our sizes (≤ 10⁵ elements) they are not the bottleneck.</summary>
public static unsafe class ElementwiseCpu
{
    /// <summary>y ← f(x; a, b) over n elements (y may alias x).</summary>
    public static void Unary(UnaryOp op, float* x, float* y, int n, float a, float b)
    {
        int i = 0, w = Vector<float>.Count;
        switch (op)
        {
            case UnaryOp.Affine:
            {
                var av = new Vector<float>(a); var bv = new Vector<float>(b);
                for (; i <= n - w; i += w) *(Vector<float>*)(y + i) = av * *(Vector<float>*)(x + i) + bv;
                break;
            }
            case UnaryOp.Clamp:
            {
                var lo = new Vector<float>(a); var hi = new Vector<float>(b);
                for (; i <= n - w; i += w) *(Vector<float>*)(y + i) = Vector.Min(Vector.Max(*(Vector<float>*)(x + i), lo), hi);
                break;
            }
            case UnaryOp.Square:
                for (; i <= n - w; i += w) { var v = *(Vector<float>*)(x + i); *(Vector<float>*)(y + i) = v * v; }
                break;
            case UnaryOp.Abs:
                for (; i <= n - w; i += w) *(Vector<float>*)(y + i) = Vector.Abs(*(Vector<float>*)(x + i));
                break;
            case UnaryOp.Sqrt:
                for (; i <= n - w; i += w) *(Vector<float>*)(y + i) = Vector.SquareRoot(*(Vector<float>*)(x + i));
                break;
        }
        for (; i < n; i++) y[i] = OpMath.Unary(op, x[i], a, b);
    }

    /// <summary>z ← f(α·x, β·y) over x read as [rows, cols], y broadcast as stated (z may alias x or y).</summary>
    public static void Binary(BinaryOp op, float* x, float* y, float* z, int rows, int cols, float alpha, float beta, Broadcast broadcast)
    {
        switch (broadcast)
        {
            case Broadcast.None:
                BinarySpan(op, x, y, z, rows * cols, alpha, beta);
                break;
            case Broadcast.Row:
                for (int r = 0; r < rows; r++) BinarySpan(op, x + (long)r * cols, y, z + (long)r * cols, cols, alpha, beta);
                break;
            case Broadcast.Column:
                for (int r = 0; r < rows; r++) BinaryScalar(op, x + (long)r * cols, y[r], z + (long)r * cols, cols, alpha, beta);
                break;
            default:
                BinaryScalar(op, x, y[0], z, rows * cols, alpha, beta);
                break;
        }
    }

    static void BinarySpan(BinaryOp op, float* x, float* y, float* z, int n, float alpha, float beta)
    {
        int i = 0, w = Vector<float>.Count;
        var av = new Vector<float>(alpha); var bv = new Vector<float>(beta);
        for (; i <= n - w; i += w)
        {
            var xv = av * *(Vector<float>*)(x + i);
            var yv = bv * *(Vector<float>*)(y + i);
            *(Vector<float>*)(z + i) = Apply(op, xv, yv);
        }
        for (; i < n; i++) z[i] = OpMath.Binary(op, x[i], y[i], alpha, beta);
    }

    static void BinaryScalar(BinaryOp op, float* x, float yScalar, float* z, int n, float alpha, float beta)
    {
        int i = 0, w = Vector<float>.Count;
        var av = new Vector<float>(alpha);
        var yv = new Vector<float>(beta * yScalar);
        for (; i <= n - w; i += w) *(Vector<float>*)(z + i) = Apply(op, av * *(Vector<float>*)(x + i), yv);
        for (; i < n; i++) z[i] = OpMath.Binary(op, x[i], yScalar, alpha, beta);
    }

    static Vector<float> Apply(BinaryOp op, Vector<float> x, Vector<float> y) => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Mul => x * y,
        BinaryOp.Div => x / y,
        BinaryOp.Min => Vector.Min(x, y),
        BinaryOp.Max => Vector.Max(x, y),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op"),
    };

    /// <summary>z ← condition &gt; 0 ? x : y over n elements.</summary>
    public static void Select(float* condition, float* x, float* y, float* z, int n)
    {
        int i = 0, w = Vector<float>.Count;
        for (; i <= n - w; i += w)
        {
            var mask = Vector.GreaterThan(*(Vector<float>*)(condition + i), Vector<float>.Zero);
            *(Vector<float>*)(z + i) = Vector.ConditionalSelect(mask, *(Vector<float>*)(x + i), *(Vector<float>*)(y + i));
        }
        for (; i < n; i++) z[i] = condition[i] > 0f ? x[i] : y[i];
    }

    /// <summary>dst[r, dstColumn + j] ← src[r, srcColumn + j] for j &lt; columnCount.</summary>
    public static void CopyColumns(int rows, float* source, int sourceCols, int sourceColumn,
        float* destination, int destinationCols, int destinationColumn, int columnCount)
    {
        long bytes = (long)columnCount * sizeof(float);
        for (int r = 0; r < rows; r++)
            Buffer.MemoryCopy(source + (long)r * sourceCols + sourceColumn, destination + (long)r * destinationCols + destinationColumn, bytes, bytes);
    }
}
