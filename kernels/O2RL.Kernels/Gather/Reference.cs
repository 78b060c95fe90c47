namespace O2RL.Kernels;

/// <summary>Plain C# row gather.</summary>
public static class GatherReference
{
    /// <summary>dst[i, :] ← src[indices[i], :].</summary>
    public static void Rows(ReadOnlySpan<float> source, int cols, ReadOnlySpan<int> indices, Span<float> destination)
    {
        for (int i = 0; i < indices.Length; i++)
            source.Slice(indices[i] * cols, cols).CopyTo(destination.Slice(i * cols, cols));
    }
}
