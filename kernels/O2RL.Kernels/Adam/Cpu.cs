using System.Numerics;

namespace O2RL.Kernels;

/// <summary>SIMD fused Adam for the CPU backend (one pass over the flat buffers).</summary>
public static unsafe class AdamCpu
{
    /// <summary>The same formula as <see cref="AdamReference.Step"/>, vectorised.</summary>
    public static void Step(float* parameters, float* gradients, float* firstMoment, float* secondMoment, int n,
        float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2)
    {
        int i = 0, w = Vector<float>.Count;
        var b1 = new Vector<float>(beta1); var oneMinusB1 = new Vector<float>(1f - beta1);
        var b2 = new Vector<float>(beta2); var oneMinusB2 = new Vector<float>(1f - beta2);
        var step = new Vector<float>(stepSize); var eps = new Vector<float>(epsilon);
        var bc2 = new Vector<float>(rootBiasCorrection2);
        for (; i <= n - w; i += w)
        {
            var g = *(Vector<float>*)(gradients + i);
            var m = b1 * *(Vector<float>*)(firstMoment + i) + oneMinusB1 * g;
            var v = b2 * *(Vector<float>*)(secondMoment + i) + oneMinusB2 * g * g;
            *(Vector<float>*)(firstMoment + i) = m;
            *(Vector<float>*)(secondMoment + i) = v;
            *(Vector<float>*)(parameters + i) -= step * m / (Vector.SquareRoot(v) / bc2 + eps);
        }
        for (; i < n; i++)
        {
            float g = gradients[i];
            float m = beta1 * firstMoment[i] + (1f - beta1) * g;
            float v = beta2 * secondMoment[i] + (1f - beta2) * g * g;
            firstMoment[i] = m;
            secondMoment[i] = v;
            parameters[i] -= stepSize * m / (MathF.Sqrt(v) / rootBiasCorrection2 + epsilon);
        }
    }
}
