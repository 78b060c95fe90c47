using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace O2RL.Kernels;

/// <summary>
/// Philox fills for the CPU backend: element i uses counter + i, exactly as on every other backend. With AVX2 the
/// ten Philox rounds run on four counters at once (32×32→64-bit multiplies in 64-bit lanes, bit-identical to
/// the scalar rounds) and Box–Muller's log/cos run eight-wide; normal draws then agree with the scalar
/// reference to a few ulps (the documented cross-backend tolerance), uniform draws and indices exactly.
/// </summary>
public static unsafe class RandomCpu
{
    const int Chunk = 64;

    /// <summary>x[i] ← U[low, high).</summary>
    public static void Uniform(float* x, int n, ulong seed, ulong counter, float low, float high)
    {
        if (!Avx2.IsSupported)
        {
            for (int i = 0; i < n; i++) x[i] = Philox.Uniform(seed, counter + (ulong)i, low, high);
            return;
        }
        uint* r0 = stackalloc uint[Chunk];
        for (int start = 0; start < n; start += Chunk)
        {
            int count = Math.Min(Chunk, n - start);
            Blocks(seed, counter + (ulong)start, 0u, count, r0, null);
            for (int i = 0; i < count; i++) x[start + i] = low + (high - low) * Philox.ToUnitFloat(r0[i]);
        }
    }

    /// <summary>x[i] ← mean + std·N(0, 1) (Box–Muller on the first two words of block counter + i, stream 1).</summary>
    public static void Normal(float* x, int n, ulong seed, ulong counter, float mean, float std)
    {
        if (!Avx2.IsSupported)
        {
            for (int i = 0; i < n; i++) x[i] = mean + std * Philox.Normal(seed, counter + (ulong)i);
            return;
        }
        uint* r0 = stackalloc uint[Chunk];
        uint* r1 = stackalloc uint[Chunk];
        var twoPi = Vector256.Create(2f * MathF.PI);
        var minusTwo = Vector256.Create(-2f);
        var scale = Vector256.Create(1.0f / 16777216.0f);
        var one = Vector256.Create(1u);
        var meanV = Vector256.Create(mean); var stdV = Vector256.Create(std);
        for (int start = 0; start < n; start += Chunk)
        {
            int count = Math.Min(Chunk, n - start);
            Blocks(seed, counter + (ulong)start, 1u, count, r0, r1);
            int i = 0;
            for (; i <= count - 8; i += 8)
            {
                var w0 = Vector256.Load(r0 + i); var w1 = Vector256.Load(r1 + i);
                // Same maps as Philox.ToOpenUnitFloat / ToUnitFloat: 24-bit integers are exact in float.
                var u1 = Vector256.ConvertToSingle((Vector256.ShiftRightLogical(w0, 8) + one).AsInt32()) * scale;
                var u2 = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(w1, 8).AsInt32()) * scale;
                var z = Vector256.Sqrt(minusTwo * Vector256.Log(u1)) * Vector256.Cos(twoPi * u2);
                (meanV + stdV * z).Store(x + start + i);
            }
            for (; i < count; i++)
            {
                float u1 = Philox.ToOpenUnitFloat(r0[i]), u2 = Philox.ToUnitFloat(r1[i]);
                x[start + i] = mean + std * (MathF.Sqrt(-2f * MathF.Log(u1)) * MathF.Cos(2f * MathF.PI * u2));
            }
        }
    }

    /// <summary>indices[i] ← offset + U{0, …, count − 1}.</summary>
    public static void Indices(int* indices, int n, ulong seed, ulong counter, int count, int offset)
    {
        if (!Avx2.IsSupported)
        {
            for (int i = 0; i < n; i++) indices[i] = offset + Philox.Index(seed, counter + (ulong)i, count);
            return;
        }
        uint* r0 = stackalloc uint[Chunk];
        for (int start = 0; start < n; start += Chunk)
        {
            int chunk = Math.Min(Chunk, n - start);
            Blocks(seed, counter + (ulong)start, 2u, chunk, r0, null);
            for (int i = 0; i < chunk; i++) indices[start + i] = offset + Philox.ToIndex(r0[i], count);
        }
    }

    /// <summary>
    /// Words r0 (and r1 when asked) of Philox blocks counter … counter + count − 1 under one key and stream,
    /// four blocks per vector iteration. Identical bits to <see cref="Philox.Block"/>.
    /// </summary>
    static void Blocks(ulong seed, ulong counter, uint stream, int count, uint* r0, uint* r1)
    {
        var lowMask = Vector256.Create(0xFFFF_FFFFUL);
        var m0 = Vector256.Create((ulong)0xD2511F53u);
        var m1 = Vector256.Create((ulong)0xCD9E8D57u);
        int i = 0;
        for (; i <= count - 4; i += 4)
        {
            ulong c = counter + (ulong)i;
            // Each 64-bit lane holds one 32-bit Philox word (upper half zero).
            var c0 = Vector256.Create(c & 0xFFFF_FFFF, (c + 1) & 0xFFFF_FFFF, (c + 2) & 0xFFFF_FFFF, (c + 3) & 0xFFFF_FFFF);
            var c1 = Vector256.Create(c >> 32, (c + 1) >> 32, (c + 2) >> 32, (c + 3) >> 32);
            var c2 = Vector256.Create((ulong)stream);
            var c3 = Vector256<ulong>.Zero;
            uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
            for (int round = 0; round < 10; round++)
            {
                var p0 = Avx2.Multiply(c0.AsUInt32(), m0.AsUInt32());   // M0·c0, full 64-bit product per lane
                var p1 = Avx2.Multiply(c2.AsUInt32(), m1.AsUInt32());   // M1·c2
                var hi0 = Vector256.ShiftRightLogical(p0, 32); var lo0 = p0 & lowMask;
                var hi1 = Vector256.ShiftRightLogical(p1, 32); var lo1 = p1 & lowMask;
                c0 = hi1 ^ c1 ^ Vector256.Create((ulong)k0);
                c1 = lo1;
                c2 = hi0 ^ c3 ^ Vector256.Create((ulong)k1);
                c3 = lo0;
                k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
            }
            for (int lane = 0; lane < 4; lane++)
            {
                r0[i + lane] = (uint)c0.GetElement(lane);
                if (r1 is not null) r1[i + lane] = (uint)c1.GetElement(lane);
            }
        }
        for (; i < count; i++)
        {
            Philox.Block(seed, counter + (ulong)i, stream, out uint w0, out uint w1, out _, out _);
            r0[i] = w0;
            if (r1 is not null) r1[i] = w1;
        }
    }
}
