using System.Numerics;

namespace O2RL.Kernels;

/// <summary>
/// SIMD LayerNorm for the CPU backend, forward and backward side by side. Row statistics accumulate in
/// float vectors then double; dγ and dβ accumulate row by row in a fixed order (deterministic).
/// </summary>
public static unsafe class LayerNormCpu
{
    /// <summary>y = γ ⊙ (x − μ)·rstd + β per row; saves μ and rstd.</summary>
    public static void Forward(int rows, int cols, int groups, float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, float epsilon)
    {
        int rowsPerGroup = rows / groups;
        for (int r = 0; r < rows; r++)
        {
            float* row = x + (long)r * cols;
            float mu = (float)(Sum(row, cols) / cols);
            double variance = SumSquaredDeviations(row, cols, mu);
            float inverseStd = (float)(1.0 / Math.Sqrt(variance / cols + epsilon));
            mean[r] = mu;
            rstd[r] = inverseStd;
            float* g = gamma + (long)(r / rowsPerGroup) * cols;
            float* b = beta + (long)(r / rowsPerGroup) * cols;
            float* output = y + (long)r * cols;
            int c2 = 0, w = Vector<float>.Count;
            var muV = new Vector<float>(mu); var rstdV = new Vector<float>(inverseStd);
            for (; c2 <= cols - w; c2 += w)
                *(Vector<float>*)(output + c2) = *(Vector<float>*)(g + c2) * ((*(Vector<float>*)(row + c2) - muV) * rstdV) + *(Vector<float>*)(b + c2);
            for (; c2 < cols; c2++) output[c2] = g[c2] * ((row[c2] - mu) * inverseStd) + b[c2];
        }
    }

    /// <summary>dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)), dx̂ = dy ⊙ γ; dγ += Σ dy ⊙ x̂; dβ += Σ dy.</summary>
    public static void Backward(int rows, int cols, int groups, float* x, float* dy, float* gamma, float* mean, float* rstd,
        float* dx, float* dgamma, float* dbeta)
    {
        int rowsPerGroup = rows / groups;
        int w = Vector<float>.Count;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * cols, dyr = dy + (long)r * cols, dxr = dx + (long)r * cols;
            long groupOffset = (long)(r / rowsPerGroup) * cols;
            float* g = gamma + groupOffset, dg = dgamma + groupOffset, db = dbeta + groupOffset;
            float mu = mean[r], inverseStd = rstd[r];
            var muV = new Vector<float>(mu); var rstdV = new Vector<float>(inverseStd);
            var sumDxHat = Vector<float>.Zero; var sumDxHatXHat = Vector<float>.Zero;
            int c = 0;
            for (; c <= cols - w; c += w)
            {
                var xHat = (*(Vector<float>*)(xr + c) - muV) * rstdV;
                var dyV = *(Vector<float>*)(dyr + c);
                var dxHat = dyV * *(Vector<float>*)(g + c);
                sumDxHat += dxHat;
                sumDxHatXHat += dxHat * xHat;
                *(Vector<float>*)(dg + c) += dyV * xHat;
                *(Vector<float>*)(db + c) += dyV;
            }
            float meanDxHat = Vector.Sum(sumDxHat), meanDxHatXHat = Vector.Sum(sumDxHatXHat);
            for (; c < cols; c++)
            {
                float xHat = (xr[c] - mu) * inverseStd;
                float dxHat = dyr[c] * g[c];
                meanDxHat += dxHat;
                meanDxHatXHat += dxHat * xHat;
                dg[c] += dyr[c] * xHat;
                db[c] += dyr[c];
            }
            meanDxHat /= cols;
            meanDxHatXHat /= cols;
            var m1 = new Vector<float>(meanDxHat); var m2 = new Vector<float>(meanDxHatXHat);
            c = 0;
            for (; c <= cols - w; c += w)
            {
                var xHat = (*(Vector<float>*)(xr + c) - muV) * rstdV;
                var dxHat = *(Vector<float>*)(dyr + c) * *(Vector<float>*)(g + c);
                *(Vector<float>*)(dxr + c) = rstdV * (dxHat - m1 - xHat * m2);
            }
            for (; c < cols; c++)
            {
                float xHat = (xr[c] - mu) * inverseStd;
                dxr[c] = inverseStd * (dyr[c] * g[c] - meanDxHat - xHat * meanDxHatXHat);
            }
        }
    }

    static double SumSquaredDeviations(float* x, int n, float mu)
    {
        var acc = Vector<float>.Zero;
        var muV = new Vector<float>(mu);
        int i = 0, w = Vector<float>.Count;
        for (; i <= n - w; i += w) { var d = *(Vector<float>*)(x + i) - muV; acc += d * d; }
        double sum = Vector.Sum(acc);
        for (; i < n; i++) { double d = x[i] - mu; sum += d * d; }
        return sum;
    }

    static double Sum(float* x, int n)
    {
        var acc = Vector<float>.Zero;
        int i = 0, w = Vector<float>.Count;
        for (; i <= n - w; i += w) acc += *(Vector<float>*)(x + i);
        double sum = Vector.Sum(acc);
        for (; i < n; i++) sum += x[i];
        return sum;
    }
}
