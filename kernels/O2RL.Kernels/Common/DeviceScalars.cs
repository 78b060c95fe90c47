using ILGPU;

namespace O2RL.Kernels;

/// <summary>
/// Scalars a kernel reads from device memory instead of its arguments: a captured CUDA graph replays its launches
/// with the arguments they were recorded with, so whatever changes from one replay to the next (Adam's step size,
/// a random stream's counter, the size of the buffer indices are drawn from) is staged in a small device array of
/// 64-bit words before each replay. Floats are stored as their bits in the low half of a word.
/// </summary>
internal static class DeviceScalars
{
    /// <summary>The float stored at <paramref name="slot"/>.</summary>
    public static float Float(ArrayView<ulong> scalars, int slot) => Interop.IntAsFloat((uint)scalars[slot]);

    /// <summary>The word that stores <paramref name="value"/> (host side).</summary>
    public static ulong FromFloat(float value) => BitConverter.SingleToUInt32Bits(value);
}
