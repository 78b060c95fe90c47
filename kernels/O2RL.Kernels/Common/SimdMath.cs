using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace O2RL.Kernels;

/// <summary>Vectorized elementary functions shared by the SIMD kernels.</summary>
internal static class SimdMath
{
    /// <summary>
    /// tanh of each lane, within a few float ulps of <see cref="MathF.Tanh"/>. For |x| ≥ 1/8 it uses
    /// (1 − e)/(1 + e) with e = exp(−2|x|) and the sign of x; below that the cancellation in 1 − e would lose
    /// relative precision, so an odd Taylor polynomial (error below 1e-11 relative there) takes over.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        Vector256<float> signMask = Vector256.Create(-0f);
        Vector256<float> magnitude = Vector256.AndNot(x, signMask);
        Vector256<float> one = Vector256<float>.One;
        Vector256<float> e = Vector256.Exp(magnitude * Vector256.Create(-2f));
        Vector256<float> large = (one - e) / (one + e);
        large |= x & signMask;

        Vector256<float> x2 = x * x;
        Vector256<float> polynomial = Vector256.Create(62f / 2835f);
        polynomial = polynomial * x2 + Vector256.Create(-17f / 315f);
        polynomial = polynomial * x2 + Vector256.Create(2f / 15f);
        polynomial = polynomial * x2 + Vector256.Create(-1f / 3f);
        polynomial = polynomial * x2 + one;
        Vector256<float> small = polynomial * x;

        return Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create(0.125f)), small, large);
    }
}
