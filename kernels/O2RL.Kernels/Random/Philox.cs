namespace O2RL.Kernels;

/// <summary>
/// Philox4x32-10, a counter-based generator (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
/// Element i of a draw is a pure function of (seed, counter + i), so the CPU and every GPU backend produce the
/// same bits for the same seed, in any order and on any number of threads. Only integer math is used here; the
/// float transforms below are shared by all backends (uniform draws are bit-identical everywhere; normal draws
/// go through log/cos and agree to within a few ulps between CPU and GPU math libraries).
/// </summary>
public static class Philox
{
    const uint M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

    /// <summary>Ten Philox rounds on the 128-bit counter (counter, stream) under the 64-bit key seed.</summary>
    public static void Block(ulong seed, ulong counter, uint stream, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        uint c0 = (uint)counter, c1 = (uint)(counter >> 32), c2 = stream, c3 = 0u;
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            uint n0 = hi1 ^ c1 ^ k0;
            uint n2 = hi0 ^ c3 ^ k1;
            c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
            k0 += W0; k1 += W1;
        }
        r0 = c0; r1 = c1; r2 = c2; r3 = c3;
    }

    /// <summary>Maps 32 random bits to a float in [0, 1) with 24 bits of precision.</summary>
    public static float ToUnitFloat(uint bits) => (bits >> 8) * (1.0f / 16777216.0f);

    /// <summary>Maps 32 random bits to a float in (0, 1] (safe to take the log of).</summary>
    public static float ToOpenUnitFloat(uint bits) => ((bits >> 8) + 1u) * (1.0f / 16777216.0f);

    /// <summary>Maps 32 random bits to an integer in [0, n) by Lemire's multiply-shift (bias below 2^-32·n).</summary>
    public static int ToIndex(uint bits, int n) => (int)(((ulong)bits * (ulong)n) >> 32);

    /// <summary>Uniform float in [low, high) for one counter value.</summary>
    public static float Uniform(ulong seed, ulong counter, float low, float high)
    {
        Block(seed, counter, 0u, out uint r0, out _, out _, out _);
        return low + (high - low) * ToUnitFloat(r0);
    }

    /// <summary>Standard normal by Box–Muller from the first two words of one block.</summary>
    public static float Normal(ulong seed, ulong counter)
    {
        Block(seed, counter, 1u, out uint r0, out uint r1, out _, out _);
        float u1 = ToOpenUnitFloat(r0);
        float u2 = ToUnitFloat(r1);
        return MathF.Sqrt(-2f * MathF.Log(u1)) * MathF.Cos(2f * MathF.PI * u2);
    }

    /// <summary>Uniform integer in [0, n).</summary>
    public static int Index(ulong seed, ulong counter, int n)
    {
        Block(seed, counter, 2u, out uint r0, out _, out _, out _);
        return ToIndex(r0, n);
    }
}
