using ILGPU;

namespace O2RL.Kernels;

/// <summary>Polyak averaging, one thread per parameter.</summary>
internal static class PolyakGpu
{
    /// <summary>θ̄ ← (1 − τ)·θ̄ + τ·θ.</summary>
    public static void Update(Index1D i, ArrayView<float> target, ArrayView<float> source, float tau) =>
        target[i] = Average(target[i], source[i], tau);

    /// <summary>(1 − τ)·θ̄ + τ·θ for one value (kernels that average right after a step call it, for the same bits).</summary>
    internal static float Average(float target, float source, float tau) => (1f - tau) * target + tau * source;
}
