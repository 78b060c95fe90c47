using System.Numerics;

namespace O2RL.Kernels;

/// <summary>
/// SIMD LayerNorm for the CPU backend, forward and backward side by side. Row statistics accumulate in
/// float vectors then double; dγ and dβ accumulate row by row in a fixed order (deterministic).
/// </summary>
public static unsafe class LayerNormCpu
{
    /// <summary>
    /// y = act(γ ⊙ (x − μ)·rstd + β) per row; saves μ and rstd. The activation (identity, ReLU, tanh) is applied
    /// while the row is in registers or L1, with the same arithmetic as <see cref="ActivationCpu.Forward"/>, so the
    /// result equals LayerNorm followed by that pass bit for bit.
    /// </summary>
    public static void Forward(int rows, int cols, int groups, float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, float epsilon,
        Activation activation = Activation.Identity)
    {
        if (activation is not (Activation.Identity or Activation.Relu or Activation.Tanh))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "LayerNorm fuses identity, ReLU or tanh");
        ForwardRows(0, rows, rows / groups, cols, x, gamma, beta, y, mean, rstd, epsilon, activation);
    }

    /// <summary>
    /// <see cref="Forward"/> for rows [<paramref name="firstRow"/>, <paramref name="endRow"/>) of the whole tensor
    /// (row r uses γ, β row r / rowsPerGroup). Rows are independent, so any split of them gives the same bits.
    /// </summary>
    public static void ForwardRows(int firstRow, int endRow, int rowsPerGroup, int cols, float* x, float* gamma, float* beta, float* y,
        float* mean, float* rstd, float epsilon, Activation activation)
    {
        for (int r = firstRow; r < endRow; r++)
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
            if (activation == Activation.Relu)
            {
                for (; c2 <= cols - w; c2 += w)
                    *(Vector<float>*)(output + c2) = Vector.Max(
                        *(Vector<float>*)(g + c2) * ((*(Vector<float>*)(row + c2) - muV) * rstdV) + *(Vector<float>*)(b + c2), Vector<float>.Zero);
                for (; c2 < cols; c2++)
                {
                    float value = g[c2] * ((row[c2] - mu) * inverseStd) + b[c2];
                    output[c2] = OpMath.Relu(value);
                }
                continue;
            }
            for (; c2 <= cols - w; c2 += w)
                *(Vector<float>*)(output + c2) = *(Vector<float>*)(g + c2) * ((*(Vector<float>*)(row + c2) - muV) * rstdV) + *(Vector<float>*)(b + c2);
            for (; c2 < cols; c2++) output[c2] = g[c2] * ((row[c2] - mu) * inverseStd) + b[c2];
            if (activation == Activation.Tanh)
                for (int c = 0; c < cols; c++) output[c] = OpMath.Activate(Activation.Tanh, output[c]);
        }
    }

    /// <summary>dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)), dx̂ = dy ⊙ γ; dγ += Σ dy ⊙ x̂; dβ += Σ dy.</summary>
    public static void Backward(int rows, int cols, int groups, float* x, float* dy, float* gamma, float* mean, float* rstd,
        float* dx, float* dgamma, float* dbeta) =>
        BackwardRows(0, rows, rows / groups, cols, x, dy, gamma, mean, rstd, dx, dgamma, dbeta);

    /// <summary>
    /// <see cref="Backward"/> for rows [<paramref name="firstRow"/>, <paramref name="endRow"/>). dγ and dβ of a group
    /// add its rows in increasing order, so a split at group boundaries gives the same bits as one call.
    /// </summary>
    public static void BackwardRows(int firstRow, int endRow, int rowsPerGroup, int cols, float* x, float* dy, float* gamma, float* mean,
        float* rstd, float* dx, float* dgamma, float* dbeta)
    {
        int w = Vector<float>.Count;
        for (int r = firstRow; r < endRow; r++)
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
