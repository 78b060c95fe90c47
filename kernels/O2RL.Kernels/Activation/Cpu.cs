using System.Numerics;

namespace O2RL.Kernels;

/// <summary>SIMD activations for the CPU backend, forward and backward side by side.</summary>
public static unsafe class ActivationCpu
{
    /// <summary>y ← act(x) over n elements (y may alias x).</summary>
    public static void Forward(Activation activation, float* x, float* y, int n)
    {
        int i = 0;
        switch (activation)
        {
            case Activation.Identity:
                if (x != y) Buffer.MemoryCopy(x, y, (long)n * sizeof(float), (long)n * sizeof(float));
                return;
            case Activation.Relu:
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                    *(Vector<float>*)(y + i) = Vector.Max(*(Vector<float>*)(x + i), Vector<float>.Zero);
                for (; i < n; i++) y[i] = OpMath.Relu(x[i]);
                return;
            default:
                for (; i < n; i++) y[i] = OpMath.Activate(activation, x[i]);
                return;
        }
    }

    /// <summary>dx ← dy ⊙ act′(from y) over n elements (dx may alias dy).</summary>
    public static void Backward(Activation activation, float* y, float* dy, float* dx, int n)
    {
        int i = 0;
        int w = Vector<float>.Count;
        switch (activation)
        {
            case Activation.Identity:
                if (dy != dx) Buffer.MemoryCopy(dy, dx, (long)n * sizeof(float), (long)n * sizeof(float));
                return;
            case Activation.Relu:
                for (; i <= n - w; i += w)
                {
                    var positive = Vector.GreaterThan(*(Vector<float>*)(y + i), Vector<float>.Zero);
                    *(Vector<float>*)(dx + i) = Vector.ConditionalSelect(positive, *(Vector<float>*)(dy + i), Vector<float>.Zero);
                }
                for (; i < n; i++) dx[i] = y[i] > 0f ? dy[i] : 0f;
                return;
            case Activation.Tanh:
                for (; i <= n - w; i += w)
                {
                    var yv = *(Vector<float>*)(y + i);
                    *(Vector<float>*)(dx + i) = *(Vector<float>*)(dy + i) * (Vector<float>.One - yv * yv);
                }
                for (; i < n; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation");
        }
    }
}
