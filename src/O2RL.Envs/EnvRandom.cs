namespace O2RL.Envs;

/// <summary>
/// The environments' random generator: xoshiro256** seeded through SplitMix64. Its stream depends only on the
/// seed (never on the .NET version or the machine), so a seeded episode is reproducible everywhere.
/// </summary>
public sealed class EnvRandom
{
    private ulong s0, s1, s2, s3;
    private double spareNormal;
    private bool hasSpareNormal;

    /// <summary>Creates a generator seeded with <paramref name="seed"/>.</summary>
    public EnvRandom(long seed) => Reseed(seed);

    /// <summary>Restarts the stream from <paramref name="seed"/>.</summary>
    public void Reseed(long seed)
    {
        ulong x = (ulong)seed;
        s0 = SplitMix64(ref x);
        s1 = SplitMix64(ref x);
        s2 = SplitMix64(ref x);
        s3 = SplitMix64(ref x);
        hasSpareNormal = false;
    }

    /// <summary>
    /// Derives the seed of sub-stream <paramref name="index"/> from <paramref name="seed"/> (used to give every
    /// copy of a vector environment its own independent stream from one user seed).
    /// </summary>
    public static int DeriveSeed(int seed, int index)
    {
        ulong x = ((ulong)(uint)seed << 32) ^ (uint)index;
        ulong mixed = SplitMix64(ref x);
        return (int)(mixed >> 33); // non-negative, like the seeds users pass
    }

    /// <summary>A fresh seed from the process-wide generator, for episodes the user chose not to seed.</summary>
    internal static long EntropySeed() => Random.Shared.NextInt64();

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next raw 64-bit output.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform double in [low, high).</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, count).</summary>
    public int NextInt(int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be positive");
        return (int)((NextUInt64() >> 11) % (ulong)count);
    }

    /// <summary>Standard normal sample (Box–Muller; the second value of each pair is kept for the next call).</summary>
    public double Normal()
    {
        if (hasSpareNormal)
        {
            hasSpareNormal = false;
            return spareNormal;
        }
        double u1 = 1.0 - NextDouble(); // (0, 1], so the logarithm is finite
        double u2 = NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        double angle = 2.0 * Math.PI * u2;
        spareNormal = radius * Math.Sin(angle);
        hasSpareNormal = true;
        return radius * Math.Cos(angle);
    }
}
