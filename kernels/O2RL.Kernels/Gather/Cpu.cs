namespace O2RL.Kernels;

/// <summary>Row gather for the CPU backend (one block copy per row).</summary>
public static unsafe class GatherCpu
{
    /// <summary>dst[i, :] ← src[indices[i], :]; indices are checked against sourceRows.</summary>
    public static void Rows(float* source, int sourceRows, int cols, int* indices, int count, float* destination)
    {
        long bytes = (long)cols * sizeof(float);
        for (int i = 0; i < count; i++)
        {
            int row = indices[i];
            if ((uint)row >= (uint)sourceRows)
                throw new IndexOutOfRangeException($"gather index {row} at position {i} is outside [0, {sourceRows})");
            Buffer.MemoryCopy(source + (long)row * cols, destination + (long)i * cols, bytes, bytes);
        }
    }
}
