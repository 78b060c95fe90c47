using System.Numerics;

namespace O2RL.Kernels;

/// <summary>SIMD reductions for the CPU backend, each in a fixed order (deterministic).</summary>
public static unsafe class ReduceCpu
{
    /// <summary>y[r] ← β·y[r] + α·Σ_c x[r, c].</summary>
    public static void RowSum(int rows, int cols, float* x, float* y, float alpha, float beta)
    {
        for (int r = 0; r < rows; r++)
        {
            float sum = (float)SumSpan(x + (long)r * cols, cols);
            y[r] = alpha * sum + (beta == 0f ? 0f : beta * y[r]);
        }
    }

    /// <summary>y[b, c] ← β·y[b, c] + α·Σ_r x[b, r, c], accumulating rows in order with vectors across columns.</summary>
    public static void ColumnSum(int batch, int rows, int cols, float* x, float* y, float alpha, float beta)
    {
        int w = Vector<float>.Count;
        var alphaV = new Vector<float>(alpha); var betaV = new Vector<float>(beta);
        for (int b = 0; b < batch; b++)
        {
            float* xb = x + (long)b * rows * cols, yb = y + (long)b * cols;
            int c = 0;
            // Four column vectors at a time keep four independent accumulator chains in flight.
            for (; c <= cols - 4 * w; c += 4 * w)
            {
                Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int r = 0; r < rows; r++)
                {
                    float* p = xb + (long)r * cols + c;
                    s0 += *(Vector<float>*)p; s1 += *(Vector<float>*)(p + w); s2 += *(Vector<float>*)(p + 2 * w); s3 += *(Vector<float>*)(p + 3 * w);
                }
                Store(yb + c, s0, alphaV, betaV, beta); Store(yb + c + w, s1, alphaV, betaV, beta);
                Store(yb + c + 2 * w, s2, alphaV, betaV, beta); Store(yb + c + 3 * w, s3, alphaV, betaV, beta);
            }
            for (; c <= cols - w; c += w)
            {
                Vector<float> s = default;
                for (int r = 0; r < rows; r++) s += *(Vector<float>*)(xb + (long)r * cols + c);
                Store(yb + c, s, alphaV, betaV, beta);
            }
            for (; c < cols; c++)
            {
                float s = 0f;
                for (int r = 0; r < rows; r++) s += xb[(long)r * cols + c];
                yb[c] = alpha * s + (beta == 0f ? 0f : beta * yb[c]);
            }
        }
    }

    static void Store(float* y, Vector<float> sum, Vector<float> alpha, Vector<float> beta, float betaScalar) =>
        *(Vector<float>*)y = betaScalar == 0f ? alpha * sum : alpha * sum + beta * *(Vector<float>*)y;

    /// <summary>Returns α·Σ x.</summary>
    public static float Sum(float* x, int n, float alpha) => (float)(alpha * SumSpan(x, n));

    /// <summary>Σ x with four vector accumulators, combined in a fixed order, in double at the end.</summary>
    public static double SumSpan(float* x, int n)
    {
        int i = 0, w = Vector<float>.Count;
        Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            s0 += *(Vector<float>*)(x + i); s1 += *(Vector<float>*)(x + i + w);
            s2 += *(Vector<float>*)(x + i + 2 * w); s3 += *(Vector<float>*)(x + i + 3 * w);
        }
        for (; i <= n - w; i += w) s0 += *(Vector<float>*)(x + i);
        double sum = (double)Vector.Sum(s0) + Vector.Sum(s1) + Vector.Sum(s2) + Vector.Sum(s3);
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>Σ x² (for gradient norms).</summary>
    public static double SumSquares(float* x, int n)
    {
        int i = 0, w = Vector<float>.Count;
        Vector<float> s0 = default, s1 = default;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            var a = *(Vector<float>*)(x + i); var b = *(Vector<float>*)(x + i + w);
            s0 += a * a; s1 += b * b;
        }
        for (; i <= n - w; i += w) { var a = *(Vector<float>*)(x + i); s0 += a * a; }
        double sum = (double)Vector.Sum(s0) + Vector.Sum(s1);
        for (; i < n; i++) sum += (double)x[i] * x[i];
        return sum;
    }

    /// <summary>y[i] ← min_e x[e, i]; argMin[i] ← first e attaining it.</summary>
    public static void EnsembleMin(int members, int n, float* x, float* y, float* argMin)
    {
        for (int i = 0; i < n; i++)
        {
            float best = x[i];
            int bestMember = 0;
            for (int e = 1; e < members; e++)
            {
                float v = x[(long)e * n + i];
                if (v < best) { best = v; bestMember = e; }
            }
            y[i] = best;
            argMin[i] = bestMember;
        }
    }

    /// <summary>dx[e, i] ← e == argMin[i] ? dy[i] : 0.</summary>
    public static void EnsembleMinBackward(int members, int n, float* argMin, float* dy, float* dx)
    {
        for (int e = 0; e < members; e++)
            for (int i = 0; i < n; i++)
                dx[(long)e * n + i] = (int)argMin[i] == e ? dy[i] : 0f;
    }
}
