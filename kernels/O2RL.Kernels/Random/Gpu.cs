using ILGPU;
using ILGPU.Algorithms;

namespace O2RL.Kernels;

/// <summary>
/// Philox fills, one thread per element, calling the shared integer code of <see cref="Philox"/>. Uniform and index
/// draws use only integer math plus the same float mapping as the reference, so they match it bit for bit; normal
/// draws go through the device's log, sqrt and cos and match to within a few ulps.
/// </summary>
internal static class RandomGpu
{
    /// <summary>
    /// x[i] ← U[low, high) from counter + i: the reference's low + (high − low)·u, with the product formed in double
    /// (exact for two floats) and rounded once to float. CUDA's assembler may fuse a float multiply and add into
    /// one FMA, which rounds once instead of twice and can move the result by an ulp; forming the product this way
    /// leaves nothing to fuse, so the draw is bit-identical to <see cref="Philox.Uniform"/> on every device.
    /// </summary>
    public static void Uniform(Index1D i, ArrayView<float> x, ulong seed, ulong counter, float low, float high)
    {
        Philox.Block(seed, counter + (ulong)(long)i.X, 0u, out uint r0, out _, out _, out _);
        float scaled = (float)((double)(high - low) * Philox.ToUnitFloat(r0));
        x[i] = low + scaled;
    }

    /// <summary><see cref="Uniform"/> with (seed, counter, low, high) read from device memory (for captured graphs).</summary>
    public static void UniformWithDeviceScalars(Index1D i, ArrayView<float> x, ArrayView<ulong> scalars)
    {
        ulong seed = scalars[0], counter = scalars[1];
        Uniform(i, x, seed, counter, DeviceScalars.Float(scalars, 2), DeviceScalars.Float(scalars, 3));
    }

    /// <summary>x[i] ← mean + std·N(0, 1) from counter + i (Box–Muller on words 0 and 1 of stream 1, as the reference).</summary>
    public static void Normal(Index1D i, ArrayView<float> x, ulong seed, ulong counter, float mean, float std) =>
        x[i] = NormalAt(seed, counter + (ulong)(long)i.X, mean, std);

    /// <summary>The draw of <see cref="Normal"/> at one counter value (kernels that draw their own noise call it, for the same bits).</summary>
    internal static float NormalAt(ulong seed, ulong counter, float mean, float std)
    {
        Philox.Block(seed, counter, 1u, out uint r0, out uint r1, out _, out _);
        float u1 = Philox.ToOpenUnitFloat(r0);
        float u2 = Philox.ToUnitFloat(r1);
        return mean + std * (XMath.Sqrt(-2f * XMath.Log(u1)) * XMath.Cos(2f * XMath.PI * u2));
    }

    /// <summary><see cref="Normal"/> with (seed, counter, mean, std) read from device memory (for captured graphs).</summary>
    public static void NormalWithDeviceScalars(Index1D i, ArrayView<float> x, ArrayView<ulong> scalars)
    {
        ulong seed = scalars[0], counter = scalars[1];
        Normal(i, x, seed, counter, DeviceScalars.Float(scalars, 2), DeviceScalars.Float(scalars, 3));
    }

    /// <summary>indices[i] ← offset + U{0, …, count − 1} from counter + i.</summary>
    public static void Indices(Index1D i, ArrayView<int> indices, ulong seed, ulong counter, int count, int offset) =>
        indices[i] = offset + Philox.Index(seed, counter + (ulong)(long)i.X, count);

    /// <summary><see cref="Indices"/> with (seed, counter, count, offset) read from device memory (for captured graphs).</summary>
    public static void IndicesWithDeviceScalars(Index1D i, ArrayView<int> indices, ArrayView<ulong> scalars) =>
        Indices(i, indices, scalars[0], scalars[1], (int)scalars[2], (int)scalars[3]);
}
