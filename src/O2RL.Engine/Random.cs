using O2RL.Kernels;

namespace O2RL.Engine;

/// <summary>
/// A device random stream: a seed and a counter for the backend's Philox draws. Each draw consumes one counter
/// value per element, so the stream's state is two integers (checkpointed with a run) and every backend draws
/// the same numbers for the same state.
/// </summary>
public sealed class DeviceRandom(ulong seed, ulong counter = 0)
{
    /// <summary>Philox key.</summary>
    public ulong Seed { get; } = seed;

    /// <summary>Next unused counter value.</summary>
    public ulong Counter { get; set; } = counter;

    /// <summary>x ← mean + std·N(0, 1).</summary>
    public void Normal(Tensor x, float mean = 0f, float std = 1f)
    {
        x.Backend.RandomNormal(x, Seed, Counter, mean, std);
        Counter += (ulong)x.Length;
    }

    /// <summary>
    /// The stream's next <paramref name="count"/> counter values, for an op that draws them itself (as
    /// <see cref="Backend.TanhGaussianSample(Tensor, Tensor, PhiloxDraw, Tensor, Tensor, float, float, Tensor, Tensor, Tensor)"/>):
    /// the same numbers <see cref="Normal"/> of that many elements would draw.
    /// </summary>
    public PhiloxDraw Take(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var draw = new PhiloxDraw(Seed, Counter);
        Counter += (ulong)count;
        return draw;
    }

    /// <summary>x ← U[low, high).</summary>
    public void Uniform(Tensor x, float low = 0f, float high = 1f)
    {
        x.Backend.RandomUniform(x, Seed, Counter, low, high);
        Counter += (ulong)x.Length;
    }

    /// <summary>indices ← U{offset, …, offset + count − 1}.</summary>
    public void Indices(IndexTensor indices, int count, int offset = 0)
    {
        indices.Backend.RandomIndices(indices, Seed, Counter, count, offset);
        Counter += (ulong)indices.Length;
    }
}

/// <summary>A host-side Philox stream (initialisation, environment noise): same generator, no device.</summary>
public sealed class HostRandom(ulong seed, ulong counter = 0)
{
    /// <summary>Philox key.</summary>
    public ulong Seed { get; } = seed;

    /// <summary>Next unused counter value.</summary>
    public ulong Counter { get; set; } = counter;

    /// <summary>U[low, high).</summary>
    public float Uniform(float low = 0f, float high = 1f) => Philox.Uniform(Seed, Counter++, low, high);

    /// <summary>N(0, 1) in double from two uniform words (for initialisers that want double precision).</summary>
    public double NormalDouble()
    {
        Philox.Block(Seed, Counter++, 3u, out uint r0, out uint r1, out uint r2, out uint r3);
        double u1 = (((ulong)r0 << 21 ^ r1) + 1.0) / (1UL << 53 | 1);
        double u2 = ((ulong)r2 << 21 ^ r3) / (double)(1UL << 53);
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>N(0, 1).</summary>
    public float Normal() => Philox.Normal(Seed, Counter++);
}
