namespace O2RL.Kernels;

/// <summary>Plain C# Polyak averaging.</summary>
public static class PolyakReference
{
    /// <summary>θ̄ ← (1 − τ)·θ̄ + τ·θ.</summary>
    public static void Update(Span<float> target, ReadOnlySpan<float> source, float tau)
    {
        for (int i = 0; i < target.Length; i++) target[i] = (1f - tau) * target[i] + tau * source[i];
    }
}
