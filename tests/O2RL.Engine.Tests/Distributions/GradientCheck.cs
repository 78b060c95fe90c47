using Xunit;

namespace O2RL.Engine.Tests.Distributions;

/// <summary>Double-precision finite differences and tolerant comparisons for the distribution tests.</summary>
internal static class GradientCheck
{
    /// <summary>Central differences of f at x, one coordinate at a time, step h.</summary>
    public static double[] CentralDifference(Func<double[], double> f, double[] x, double h = 1e-6)
    {
        var gradient = new double[x.Length];
        var probe = (double[])x.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            probe[i] = x[i] + h;
            double plus = f(probe);
            probe[i] = x[i] - h;
            double minus = f(probe);
            probe[i] = x[i];
            gradient[i] = (plus - minus) / (2 * h);
        }
        return gradient;
    }

    /// <summary>
    /// Asserts |actual − expected| ≤ relative·max(|expected|, floor) element by element, naming the first
    /// offending element.
    /// </summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double relative, double floor, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = relative * Math.Max(Math.Abs(expected[i]), floor);
            double error = Math.Abs(actual[i] - expected[i]);
            Assert.True(error <= tolerance,
                $"{what}[{i}]: engine {actual[i]:R}, double reference {expected[i]:R}, error {error:E3} > tolerance {tolerance:E3}");
        }
    }

    /// <summary>Single-value form of <see cref="AssertClose(ReadOnlySpan{double}, ReadOnlySpan{float}, double, double, string)"/>.</summary>
    public static void AssertClose(double expected, float actual, double relative, double floor, string what) =>
        AssertClose([expected], [actual], relative, floor, what);

    /// <summary>Uniform values in [low, high), rounded to float so the engine and the reference see the same inputs.</summary>
    public static float[] Uniform(Random random, int count, double low, double high)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(low + (high - low) * random.NextDouble());
        return values;
    }

    /// <summary>Standard normal values (Box–Muller) clipped to ±limit, keeping tanh away from saturation.</summary>
    public static float[] Normal(Random random, int count, double limit)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
            values[i] = (float)Math.Clamp(z, -limit, limit);
        }
        return values;
    }

    /// <summary>Widens a float array.</summary>
    public static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>x₀ ‖ x₁ ‖ … as one vector, for differentiating with respect to several inputs at once.</summary>
    public static double[] Concat(params double[][] parts) => parts.SelectMany(p => p).ToArray();
}
