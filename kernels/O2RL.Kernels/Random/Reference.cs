namespace O2RL.Kernels;

/// <summary>Plain C# fills from the Philox generator; element i uses counter + i.</summary>
public static class RandomReference
{
    /// <summary>x[i] ← U[low, high).</summary>
    public static void Uniform(Span<float> x, ulong seed, ulong counter, float low, float high)
    {
        for (int i = 0; i < x.Length; i++) x[i] = Philox.Uniform(seed, counter + (ulong)i, low, high);
    }

    /// <summary>x[i] ← mean + std·N(0, 1).</summary>
    public static void Normal(Span<float> x, ulong seed, ulong counter, float mean, float std)
    {
        for (int i = 0; i < x.Length; i++) x[i] = mean + std * Philox.Normal(seed, counter + (ulong)i);
    }

    /// <summary>indices[i] ← offset + U{0, …, count − 1}.</summary>
    public static void Indices(Span<int> indices, ulong seed, ulong counter, int count, int offset)
    {
        for (int i = 0; i < indices.Length; i++) indices[i] = offset + Philox.Index(seed, counter + (ulong)i, count);
    }
}
