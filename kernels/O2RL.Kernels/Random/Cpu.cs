namespace O2RL.Kernels;

/// <summary>Philox fills for the CPU backend: element i uses counter + i, exactly as on every other backend.</summary>
public static unsafe class RandomCpu
{
    /// <summary>x[i] ← U[low, high).</summary>
    public static void Uniform(float* x, int n, ulong seed, ulong counter, float low, float high)
    {
        for (int i = 0; i < n; i++) x[i] = Philox.Uniform(seed, counter + (ulong)i, low, high);
    }

    /// <summary>x[i] ← mean + std·N(0, 1).</summary>
    public static void Normal(float* x, int n, ulong seed, ulong counter, float mean, float std)
    {
        for (int i = 0; i < n; i++) x[i] = mean + std * Philox.Normal(seed, counter + (ulong)i);
    }

    /// <summary>indices[i] ← offset + U{0, …, count − 1}.</summary>
    public static void Indices(int* indices, int n, ulong seed, ulong counter, int count, int offset)
    {
        for (int i = 0; i < n; i++) indices[i] = offset + Philox.Index(seed, counter + (ulong)i, count);
    }
}
