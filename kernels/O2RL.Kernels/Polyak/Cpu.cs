using System.Numerics;

namespace O2RL.Kernels;

/// <summary>SIMD Polyak averaging for the CPU backend.</summary>
public static unsafe class PolyakCpu
{
    /// <summary>θ̄ ← (1 − τ)·θ̄ + τ·θ.</summary>
    public static void Update(float* target, float* source, int n, float tau)
    {
        int i = 0, w = Vector<float>.Count;
        var keep = new Vector<float>(1f - tau); var take = new Vector<float>(tau);
        for (; i <= n - w; i += w) *(Vector<float>*)(target + i) = keep * *(Vector<float>*)(target + i) + take * *(Vector<float>*)(source + i);
        for (; i < n; i++) target[i] = (1f - tau) * target[i] + tau * source[i];
    }
}
