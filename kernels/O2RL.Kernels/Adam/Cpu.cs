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

    /// <summary>
    /// The same step split over a worker pool in fixed, vector-aligned slices (elementwise, so the result is
    /// identical to the single-threaded step). Worth it above a few ten-thousand parameters. Not reentrant: one
    /// caller at a time per <see cref="ParallelAdam"/> object.
    /// </summary>
    public sealed class ParallelAdam : IParallelWork
    {
        float* parameters, gradients, firstMoment, secondMoment;
        int n;
        float stepSize, beta1, beta2, epsilon, rootBiasCorrection2;

        /// <summary>Runs one step over the pool (part count = pool threads).</summary>
        public void Step(WorkerPool pool, float* parameters, float* gradients, float* firstMoment, float* secondMoment, int n,
            float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2)
        {
            this.parameters = parameters; this.gradients = gradients; this.firstMoment = firstMoment; this.secondMoment = secondMoment;
            this.n = n; this.stepSize = stepSize; this.beta1 = beta1; this.beta2 = beta2; this.epsilon = epsilon;
            this.rootBiasCorrection2 = rootBiasCorrection2;
            pool.Run(this, pool.ThreadCount);
        }

        /// <inheritdoc/>
        public void Execute(int part, int partCount)
        {
            // Slice boundaries on multiples of 64 elements keep every slice's vector loop aligned with the whole.
            int chunk = (n / partCount + 63) & ~63;
            int start = Math.Min(n, part * chunk), end = part == partCount - 1 ? n : Math.Min(n, start + chunk);
            if (end > start)
                AdamCpu.Step(parameters + start, gradients + start, firstMoment + start, secondMoment + start, end - start,
                    stepSize, beta1, beta2, epsilon, rootBiasCorrection2);
        }
    }
}
