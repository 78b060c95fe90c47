using ILGPU;

namespace O2RL.Kernels;

/// <summary>Row gather, one thread per destination element (neighbouring threads copy neighbouring columns).</summary>
internal static class GatherGpu
{
    /// <summary>dst[i, c] ← src[indices[i], c]. Indices must lie in [0, source rows); the device does not check.</summary>
    public static void Rows(Index1D index, ArrayView<float> source, ArrayView<int> indices, ArrayView<float> destination, int cols)
    {
        int row = index / cols, c = index % cols;
        destination[index] = source[indices[row] * cols + c];
    }
}
