namespace O2RL.Kernels;

/// <summary>Plain C# GEMM, obviously right, used as the ground truth in tests.</summary>
public static class GemmReference
{
    /// <summary>
    /// C ← act(α·op(A)·op(B) + β·C + bias) for one matrix. A: [M, K] row-major ([K, M] when transposeA);
    /// B: [K, N] ([N, K] when transposeB); C: [M, N]; bias: N values or empty. Accumulates in double. With an
    /// activation output Y ([M, N]), the backward epilogue instead: C ← (α·op(A)·op(B) + β·C) ⊙ act′(Y).
    /// </summary>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, float beta, Span<float> c, ReadOnlySpan<float> bias, Activation activation,
        ReadOnlySpan<float> activationOutput = default)
    {
        bool backward = !activationOutput.IsEmpty;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float aip = transposeA ? a[p * m + i] : a[i * k + p];
                    float bpj = transposeB ? b[j * k + p] : b[p * n + j];
                    sum += (double)aip * bpj;
                }
                double value = alpha * sum;
                if (beta != 0f) value += (double)beta * c[i * n + j];
                if (backward)
                {
                    c[i * n + j] = (float)value * OpMath.ActivationDerivativeFromOutput(activation, activationOutput[i * n + j]);
                    continue;
                }
                if (!bias.IsEmpty) value += bias[j];
                c[i * n + j] = OpMath.Activate(activation, (float)value);
            }
        }
    }
}
