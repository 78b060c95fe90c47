namespace O2RL.Inference;

/// <summary>
/// A small seeded stream of standard-normal numbers for sampled actions (SplitMix64 bits, Box–Muller pairs).
/// A value type the caller owns and passes by reference: no shared state, so concurrent callers each keep their
/// own, and the same seed always gives the same actions. (Training draws its noise with the device generator,
/// so a sampled action here is a draw from the same distribution, not the same draw.)
/// </summary>
public struct PolicyRandom(ulong seed)
{
    ulong state = seed;
    float spare;
    bool hasSpare;

    /// <summary>The next 64 random bits (SplitMix64).</summary>
    public ulong NextBits()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A standard-normal draw.</summary>
    public float NextNormal()
    {
        if (hasSpare) { hasSpare = false; return spare; }
        // u1 in (0, 1] so the logarithm is finite; 53 random bits each.
        double u1 = ((NextBits() >> 11) + 1) * (1.0 / (1UL << 53));
        double u2 = (NextBits() >> 11) * (1.0 / (1UL << 53));
        double radius = Math.Sqrt(-2.0 * Math.Log(u1)), angle = 2.0 * Math.PI * u2;
        spare = (float)(radius * Math.Sin(angle));
        hasSpare = true;
        return (float)(radius * Math.Cos(angle));
    }
}
