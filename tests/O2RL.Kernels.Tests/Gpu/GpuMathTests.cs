using O2RL.Kernels;
using O2RL.Kernels.Tests.Threading;
using Xunit;

namespace O2RL.Kernels.Tests.Gpu;

/// <summary>
/// The device math of the GPU kernels (GpuMath) evaluated on the host against double precision, in float ulps of
/// the true value, over dense grids and the edges (denormals, overflow, NaN, ±∞). The kernels run the same code on
/// every device; a device that fuses a multiply and an add into one FMA can only round less.
/// </summary>
public sealed class GpuMathTests
{
    /// <summary>Distance from the float result to the exact value, in ulps of the exact value rounded to float.</summary>
    static double Ulps(float actual, double exact)
    {
        float rounded = (float)exact;
        double ulp = MathF.BitIncrement(MathF.Abs(rounded)) - MathF.Abs(rounded);
        if (ulp == 0 || double.IsInfinity(ulp)) ulp = float.Epsilon;
        return Math.Abs(actual - exact) / ulp;
    }

    /// <summary>ln(1 + u) in double without losing tiny u (1 + u rounds; ln w · u/(w − 1) undoes that rounding).</summary>
    static double Log1p(double u)
    {
        double w = 1 + u;
        return w == 1 ? u : Math.Log(w) * u / (w - 1);
    }

    /// <summary>
    /// Runs a check on a fresh thread with IEEE gradual underflow. These checks measure accuracy down to the subnormals
    /// (and the ulp of a value near 1e-38 is itself subnormal), while the CPU backend leaves flush-to-zero set on every
    /// thread that ran one of its ops (<see cref="DenormalFlush"/>) and the test runner reuses its threads: run on the
    /// test's own thread, they passed or failed by which tests had run on it before.
    /// </summary>
    static void WithGradualUnderflow(Action check) => FreshThread.Run(() =>
    {
        // A new thread inherits its creator's float mode, so clear it rather than assume it.
        DenormalFlush.SetOnThisThread(false);
        check();
    });

    static void AssertWithinUlps(Func<float, float> f, Func<double, double> exact, IEnumerable<float> inputs, double maxUlps, string name)
    {
        double worst = 0; float worstAt = 0;
        foreach (float x in inputs)
        {
            double error = Ulps(f(x), exact(x));
            if (!(error <= worst)) { worst = error; worstAt = x; }
        }
        Assert.True(worst <= maxUlps, $"{name}: {worst:F2} ulps at x = {worstAt:R} (bound {maxUlps})");
    }

    /// <summary>n points spread evenly over [low, high], plus random points between them.</summary>
    static IEnumerable<float> Grid(float low, float high, int n, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < n; i++)
        {
            yield return low + (high - low) * i / (n - 1);
            yield return low + (high - low) * random.NextSingle();
        }
    }

    /// <summary>Positive floats over many binades: m·2ᵉ for random m in [1, 2) and every e in [−149, 127].</summary>
    static IEnumerable<float> Binades(int perBinade, int seed)
    {
        var random = new Random(seed);
        for (int e = -149; e <= 127; e++)
            for (int i = 0; i < perBinade; i++)
            {
                float value = MathF.ScaleB(1f + random.NextSingle(), e);
                if (value > 0 && float.IsFinite(value)) yield return value;
            }
    }

    [Fact]
    public void ExpIsWithinTwoUlpsDownToTheDenormals() => WithGradualUnderflow(() =>
    {
        AssertWithinUlps(GpuMath.Exp, Math.Exp, Grid(-87.3f, 88.7f, 20_000, 1), 2, "exp");
        AssertWithinUlps(GpuMath.Exp, Math.Exp, Grid(-1f, 1f, 5_000, 2), 2, "exp near 0");
        // Denormal results keep their absolute accuracy (the two-factor 2ᵏ scaling rounds once at the end).
        foreach (float x in Grid(-103.9f, -87.4f, 2_000, 3))
            Assert.True(Math.Abs(GpuMath.Exp(x) - Math.Exp(x)) <= 2 * float.Epsilon, $"exp({x:R}) = {GpuMath.Exp(x):R}, exact {Math.Exp(x):R}");
        Assert.Equal(1f, GpuMath.Exp(0f));
        Assert.Equal(float.PositiveInfinity, GpuMath.Exp(89f));
        Assert.Equal(float.PositiveInfinity, GpuMath.Exp(float.PositiveInfinity));
        Assert.Equal(0f, GpuMath.Exp(-104f));
        Assert.Equal(0f, GpuMath.Exp(float.NegativeInfinity));
        Assert.True(float.IsNaN(GpuMath.Exp(float.NaN)));
    });

    [Fact]
    public void LogIsWithinThreeUlpsEverywhereAndRelativeNearOne() => WithGradualUnderflow(() =>
    {
        AssertWithinUlps(GpuMath.Log, Math.Log, Binades(64, 4), 3, "log over all binades");
        // Near 1 the result is small: lg2.approx's absolute error made this the failing case on CUDA.
        AssertWithinUlps(GpuMath.Log, Math.Log, Grid(0.9f, 1.1f, 20_000, 5).Where(x => x != 1f), 3, "log near 1");
        Assert.Equal(0f, GpuMath.Log(1f));
        Assert.Equal(float.NegativeInfinity, GpuMath.Log(0f));
        Assert.Equal(float.PositiveInfinity, GpuMath.Log(float.PositiveInfinity));
        Assert.True(float.IsNaN(GpuMath.Log(-1f)));
        Assert.True(float.IsNaN(GpuMath.Log(float.NaN)));
    });

    [Fact]
    public void Log1pIsAccurateForTinyArguments() => WithGradualUnderflow(() =>
    {
        AssertWithinUlps(GpuMath.Log1p, x => Log1p(x), Grid(-0.5f, 1f, 20_000, 6), 3, "log1p");
        AssertWithinUlps(GpuMath.Log1p, x => Log1p(x), Binades(8, 7).Where(x => x < 1e-3f), 3, "log1p tiny");
        AssertWithinUlps(GpuMath.Log1p, x => Log1p(x), Binades(8, 8).Where(x => x < 1e-3f).Select(x => -x), 3, "log1p tiny negative");
        Assert.Equal(float.NegativeInfinity, GpuMath.Log1p(-1f));
    });

    [Fact]
    public void TanhIsWithinFourUlpsOnBothBranches() => WithGradualUnderflow(() =>
    {
        AssertWithinUlps(GpuMath.Tanh, Math.Tanh, Grid(-10f, 10f, 40_000, 9), 4, "tanh");
        AssertWithinUlps(GpuMath.Tanh, Math.Tanh, Grid(-0.2f, 0.2f, 20_000, 10), 4, "tanh at the branch point 1/8 (just above it 1 − e cancels about two bits)");
        AssertWithinUlps(GpuMath.Tanh, Math.Tanh, Binades(4, 11).Where(x => x < 0.1f), 4, "tanh tiny");
        Assert.Equal(1f, GpuMath.Tanh(float.PositiveInfinity));
        Assert.Equal(-1f, GpuMath.Tanh(float.NegativeInfinity));
        Assert.Equal(0f, GpuMath.Tanh(0f));
        Assert.True(float.IsNaN(GpuMath.Tanh(float.NaN)));
    });

    [Fact]
    public void SoftplusAndAtanhAreWithinFourUlps() => WithGradualUnderflow(() =>
    {
        static double Softplus(double x) => Math.Max(x, 0) + Log1p(Math.Exp(-Math.Abs(x)));
        AssertWithinUlps(GpuMath.Softplus, Softplus, Grid(-30f, 30f, 40_000, 12), 4, "softplus");
        Assert.Equal(float.PositiveInfinity, GpuMath.Softplus(float.PositiveInfinity));
        Assert.Equal(0f, GpuMath.Softplus(float.NegativeInfinity));
        Assert.True(float.IsNaN(GpuMath.Softplus(float.NaN)));

        float Atanh(float x) => GpuMath.Unary((int)UnaryOp.Atanh, x, 0f, 0f);
        AssertWithinUlps(Atanh, Math.Atanh, Grid(-0.999f, 0.999f, 40_000, 13), 4, "atanh");
        AssertWithinUlps(Atanh, Math.Atanh, Binades(4, 14).Where(x => x < 0.01f), 4, "atanh tiny");
    });

    [Fact]
    public void UnaryAndActivationUseTheAccurateFunctions()
    {
        Assert.Equal(GpuMath.Tanh(0.6f), GpuMath.Activate((int)Activation.Tanh, 0.6f));
        Assert.Equal(GpuMath.Tanh(0.6f), GpuMath.Unary((int)UnaryOp.Tanh, 0.6f, 0f, 0f));
        Assert.Equal(GpuMath.Exp(-3.5f), GpuMath.Unary((int)UnaryOp.Exp, -3.5f, 0f, 0f));
        Assert.Equal(GpuMath.Log(1.01f), GpuMath.Unary((int)UnaryOp.Log, 1.01f, 0f, 0f));
        Assert.Equal(GpuMath.Softplus(-4.7f), GpuMath.Unary((int)UnaryOp.Softplus, -4.7f, 0f, 0f));
    }

    [Fact]
    public void TheChecksHoldOnAThreadThatFlushesSubnormals()
    {
        if (!DenormalFlush.IsSupported) Assert.Skip("flush-to-zero is set through glibc on Linux x86-64 only, so no thread here flushes");
        // What a test-runner thread looks like after a CPU-backend test ran on it.
        FreshThread.Run(() =>
        {
            DenormalFlush.SetOnThisThread(true);
            Assert.True(DenormalFlush.IsFlushingOnThisThread());
            ExpIsWithinTwoUlpsDownToTheDenormals();
            Log1pIsAccurateForTinyArguments();
            SoftplusAndAtanhAreWithinFourUlps();
            Assert.True(DenormalFlush.IsFlushingOnThisThread(), "the caller's mode is its own and stays as it was");
        });
    }
}
