using ILGPU;

namespace O2RL.Kernels;

/// <summary>Scalars of <see cref="NoisyActionGpu"/>: σ, the noise clip c and the action limit L (0 for no clip / clamp).</summary>
internal struct NoisyActionArguments
{
    public float NoiseStd, NoiseClip, ActionLimit;
    public int ClipNoise, ClampAction;
    /// <summary>
    /// The affine offset (0) and the sum's weights (1, 1), passed rather than written as constants: a compiler may
    /// fold σε + 0 to σε, which leaves −0 where the affine op gives +0, and the bits must be the ops' own.
    /// </summary>
    public float NoiseOffset, MeanWeight, NoiseWeight;
    /// <summary>The normal draw's mean (0) and standard deviation (1), passed for the same reason.</summary>
    public float DrawMean, DrawStd;
}

/// <summary>
/// A deterministic actor's noisy action in one launch, one thread per element (TD3's target smoothing and
/// exploration, O2TD3's alignment noise): ε = N(0, 1) at Philox counter + i (written to the noise view),
/// n = clip(σ·ε + 0, ±c), u = μ + n, a = clamp(u, ±L): each step the expression of the op it replaces
/// (<see cref="RandomGpu.NormalAt"/>, Unary Affine and Clamp, Binary Add) so the bits are those of the five launches.
/// </summary>
internal static class NoisyActionGpu
{
    public static void Apply(Index1D i, ArrayView<float> mean, ArrayView<float> noise, ArrayView<float> clippedNoise, ArrayView<float> preClamp,
        ArrayView<float> action, NoisyActionArguments arguments, ulong seed, ulong counter) =>
        Element(i, mean, noise, clippedNoise, preClamp, action, arguments, seed, counter, arguments.DrawMean, arguments.DrawStd);

    /// <summary><see cref="Apply"/> with (seed, counter) read from device memory (for captured graphs), staged as RandomNormal's.</summary>
    public static void ApplyWithDeviceScalars(Index1D i, ArrayView<float> mean, ArrayView<float> noise, ArrayView<float> clippedNoise,
        ArrayView<float> preClamp, ArrayView<float> action, NoisyActionArguments arguments, ArrayView<ulong> scalars) =>
        Element(i, mean, noise, clippedNoise, preClamp, action, arguments, scalars[0], scalars[1], DeviceScalars.Float(scalars, 2), DeviceScalars.Float(scalars, 3));

    static void Element(int i, ArrayView<float> mean, ArrayView<float> noise, ArrayView<float> clippedNoise, ArrayView<float> preClamp,
        ArrayView<float> action, NoisyActionArguments arguments, ulong seed, ulong counter, float drawMean, float drawStd)
    {
        float epsilon = RandomGpu.NormalAt(seed, counter + (ulong)(long)i, drawMean, drawStd);
        noise[i] = epsilon;
        float n = GpuMath.Unary((int)UnaryOp.Affine, epsilon, arguments.NoiseStd, arguments.NoiseOffset);
        if (arguments.ClipNoise != 0) n = GpuMath.Unary((int)UnaryOp.Clamp, n, -arguments.NoiseClip, arguments.NoiseClip);
        clippedNoise[i] = n;
        float u = GpuMath.Binary((int)BinaryOp.Add, mean[i], n, arguments.MeanWeight, arguments.NoiseWeight);
        preClamp[i] = u;
        action[i] = arguments.ClampAction != 0 ? GpuMath.Unary((int)UnaryOp.Clamp, u, -arguments.ActionLimit, arguments.ActionLimit) : u;
    }
}
