using ILGPU;

namespace O2RL.Kernels;

/// <summary>Polyak averaging, one thread per parameter.</summary>
internal static class PolyakGpu
{
    /// <summary>θ̄ ← (1 − τ)·θ̄ + τ·θ.</summary>
    public static void Update(Index1D i, ArrayView<float> target, ArrayView<float> source, float tau) =>
        target[i] = (1f - tau) * target[i] + tau * source[i];
}
