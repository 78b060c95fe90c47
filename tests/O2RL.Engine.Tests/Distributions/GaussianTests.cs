using O2RL.Engine.Distributions;
using Xunit;
using static O2RL.Engine.Tests.Distributions.GradientCheck;

namespace O2RL.Engine.Tests.Distributions;

public sealed class GaussianTests
{
    const int Batch = 6, Dim = 4;
    static readonly double HalfLogTwoPi = 0.5 * Math.Log(2 * Math.PI);

    // ───────────────── independent double-precision forward ─────────────────

    /// <summary>log N(a_j; μ_j, σ_j²) per coordinate, σ = exp(clamp(ψ, lo, 2)).</summary>
    static double[] ReferencePerCoordinate(double[] mean, double[] logStd, double[] action, double minLogStd)
    {
        var result = new double[mean.Length];
        for (int i = 0; i < mean.Length; i++)
        {
            double clamped = Math.Clamp(logStd[i % Dim], minLogStd, 2.0);
            double std = Math.Exp(clamped);
            double diff = action[i] - mean[i];
            result[i] = -diff * diff / (2 * std * std) - clamped - HalfLogTwoPi;
        }
        return result;
    }

    static double[] RowSums(double[] perCoordinate)
    {
        var sums = new double[perCoordinate.Length / Dim];
        for (int i = 0; i < perCoordinate.Length; i++) sums[i / Dim] += perCoordinate[i];
        return sums;
    }

    static double ReferenceEntropy(double[] logStd, double minLogStd) =>
        logStd.Sum(psi => 0.5 + HalfLogTwoPi + Math.Clamp(psi, minLogStd, 2.0));

    static double Dot(double[] x, float[] weights)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i] * weights[i];
        return sum;
    }

    static double[] Range(double[] x, int start, int count) => x.AsSpan(start, count).ToArray();

    // ───────────────── forward ─────────────────

    [Theory]
    [InlineData(Gaussian.IqlMinLogStd)]
    [InlineData(Gaussian.PpoMinLogStd)]
    public void LogProbMatchesTheDoublePrecisionForward(float minLogStd)
    {
        var random = new Random(21);
        using var backend = new CpuBackend(1);
        var mean = Uniform(random, Batch * Dim, -0.9, 0.9);
        var action = Uniform(random, Batch * Dim, -1.5, 1.5);
        float[] logStd = [-0.5f, 0.3f, -12f, 2.5f];   // −12 is clamped only by the PPO bound, 2.5 by both
        var psi = backend.FromArray(logStd, Dim);
        var gaussian = new Gaussian(backend, Dim, psi, backend.Allocate(Dim), minLogStd);
        var meanTensor = backend.FromArray(mean, Batch, Dim);
        var actionTensor = backend.FromArray(action, Batch, Dim);
        // Coordinate 2 has σ ≈ e^−12 (or e^−10): keep its action at the mean so the density stays finite.
        for (int b = 0; b < Batch; b++) action[b * Dim + 2] = mean[b * Dim + 2];
        backend.Upload(action, actionTensor);

        var perCoordinate = gaussian.LogProbPerCoordinate(meanTensor, actionTensor).ToArray();
        var total = gaussian.LogProb(meanTensor, actionTensor).ToArray();

        var expected = ReferencePerCoordinate(ToDouble(mean), ToDouble(logStd), ToDouble(action), minLogStd);
        AssertClose(expected, perCoordinate, 1e-5, 1.0, "per-coordinate log-prob");
        AssertClose(RowSums(expected), total, 1e-5, 1.0, "log-prob");
    }

    [Theory]
    [InlineData(Gaussian.IqlMinLogStd)]
    [InlineData(Gaussian.PpoMinLogStd)]
    public void EntropyMatchesTheClosedFormAndItsGradientIsZeroWhereClamped(float minLogStd)
    {
        using var backend = new CpuBackend(1);
        float[] logStd = [-0.5f, 0.3f, -15f, 2.5f];
        var gradient = backend.Allocate(Dim);
        var gaussian = new Gaussian(backend, Dim, backend.FromArray(logStd, Dim), gradient, minLogStd);

        float entropy = gaussian.Entropy().ToArray()[0];
        gaussian.EntropyBackward(-0.01f);

        // H = Σ_j (½ + ½ ln 2π + log σ_j): with the −20 bound ψ = −15 counts as is, with −10 it counts as −10.
        double expected = 4 * (0.5 + HalfLogTwoPi) - 0.5 + 0.3 + Math.Max(-15.0, minLogStd) + 2.0;
        AssertClose(expected, entropy, 1e-6, 1.0, "entropy");
        var numeric = CentralDifference(x => -0.01 * ReferenceEntropy(x, minLogStd), ToDouble(logStd));
        AssertClose(numeric, gradient.ToArray(), 1e-3, 0.05, "∂L/∂ψ");
        Assert.Equal(minLogStd < -15f ? -0.01f : 0f, gradient.ToArray()[2]);
        Assert.Equal(0f, gradient.ToArray()[3]);
    }

    [Fact]
    public void SampleIsMeanPlusStdTimesNoiseAndCanBeClamped()
    {
        var random = new Random(22);
        using var backend = new CpuBackend(1);
        var mean = Uniform(random, Batch * Dim, -0.9, 0.9);
        float[] logStd = [-1f, 0f, 0.5f, 3f];
        var gaussian = new Gaussian(backend, Dim, backend.FromArray(logStd, Dim), null, Gaussian.PpoMinLogStd);
        var noise = backend.Allocate(Batch, Dim);
        backend.RandomNormal(noise, seed: 5, counter: 0);
        var noiseHost = noise.ToArray();
        var meanTensor = backend.FromArray(mean, Batch, Dim);

        var raw = gaussian.Sample(meanTensor, noise).ToArray();
        var expected = new double[Batch * Dim];
        for (int i = 0; i < expected.Length; i++) expected[i] = mean[i] + Math.Exp(Math.Min(logStd[i % Dim], 2.0)) * noiseHost[i];
        AssertClose(expected, raw, 1e-5, 1.0, "sample");
        Assert.Contains(raw, a => Math.Abs(a) > 1f);

        var clamped = gaussian.Sample(meanTensor, noise, actionLimit: 1f).ToArray();
        AssertClose(expected.Select(a => Math.Clamp(a, -1.0, 1.0)).ToArray(), clamped, 1e-5, 1.0, "clamped sample");

        var again = gaussian.Sample(meanTensor, noise, actionLimit: 1f).ToArray();
        Assert.Equal(clamped, again);
    }

    // ───────────────── gradients ─────────────────

    [Theory]
    [InlineData(Gaussian.IqlMinLogStd, false)]
    [InlineData(Gaussian.PpoMinLogStd, false)]
    [InlineData(Gaussian.PpoMinLogStd, true)]
    public void LogProbBackwardMatchesDoubleFiniteDifferences(float minLogStd, bool perCoordinate)
    {
        var random = new Random(23);
        using var backend = new CpuBackend(1);
        var mean = Uniform(random, Batch * Dim, -0.9, 0.9);
        var action = Uniform(random, Batch * Dim, -1.2, 1.2);
        float[] logStd = [-0.7f, 0.2f, -1.3f, 0.6f];
        var weights = Uniform(random, perCoordinate ? Batch * Dim : Batch, -1, 1);
        var gradient = backend.Allocate(Dim);
        var gaussian = new Gaussian(backend, Dim, backend.FromArray(logStd, Dim), gradient, minLogStd);
        var meanTensor = backend.FromArray(mean, Batch, Dim);
        var actionTensor = backend.FromArray(action, Batch, Dim);

        if (perCoordinate) gaussian.LogProbPerCoordinate(meanTensor, actionTensor);
        else gaussian.LogProb(meanTensor, actionTensor);
        var weightTensor = perCoordinate ? backend.FromArray(weights, Batch, Dim) : backend.FromArray(weights, Batch);
        var meanGradient = gaussian.LogProbBackward(weightTensor).ToArray();

        var actionD = ToDouble(action);
        double Loss(double[] x)
        {
            var logProb = ReferencePerCoordinate(Range(x, 0, Batch * Dim), Range(x, Batch * Dim, Dim), actionD, minLogStd);
            return Dot(perCoordinate ? logProb : RowSums(logProb), weights);
        }
        var numeric = CentralDifference(Loss, Concat(ToDouble(mean), ToDouble(logStd)));
        AssertClose(Range(numeric, 0, Batch * Dim), meanGradient, 1e-3, 0.05, "∂L/∂μ");
        AssertClose(Range(numeric, Batch * Dim, Dim), gradient.ToArray(), 1e-3, 0.05, "∂L/∂ψ");
    }

    [Fact]
    public void LogStdClampBoundDecidesWhetherPsiGetsAGradient()
    {
        var random = new Random(24);
        using var backend = new CpuBackend(1);
        var mean = Uniform(random, Batch * Dim, -0.9, 0.9);
        var action = Uniform(random, Batch * Dim, -1.2, 1.2);
        for (int b = 0; b < Batch; b++) action[b * Dim + 2] = mean[b * Dim + 2];   // z = 0 where σ is tiny
        float[] logStd = [-0.7f, 2.5f, -15f, 0.6f];
        var weights = backend.FromArray(Uniform(random, Batch, 0.5, 1), Batch);

        float[] PsiGradient(float minLogStd)
        {
            var gradient = backend.Allocate(Dim);
            var gaussian = new Gaussian(backend, Dim, backend.FromArray(logStd, Dim), gradient, minLogStd);
            gaussian.LogProb(backend.FromArray(mean, Batch, Dim), backend.FromArray(action, Batch, Dim));
            gaussian.LogProbBackward(weights);
            return gradient.ToArray();
        }
        var iql = PsiGradient(Gaussian.IqlMinLogStd);
        var ppo = PsiGradient(Gaussian.PpoMinLogStd);

        Assert.Equal(0f, iql[1]);
        Assert.Equal(0f, ppo[1]);
        // With z = 0, ∂log π/∂log σ = −1 per row: −Σ weights under IQL's bound, clamped away under PPO's.
        AssertClose(-weights.ToArray().Sum(w => (double)w), iql[2], 1e-5, 1.0, "IQL ∂L/∂ψ₂");
        Assert.Equal(0f, ppo[2]);
        Assert.NotEqual(0f, iql[0]);
        Assert.Equal(iql[0], ppo[0]);
    }

    [Fact]
    public void FrozenGaussianReturnsMeanGradientOnly()
    {
        var random = new Random(25);
        using var backend = new CpuBackend(1);
        var gaussian = new Gaussian(backend, Dim, backend.FromArray([0.1f, 0.2f, 0.3f, 0.4f], Dim), null, Gaussian.IqlMinLogStd);
        gaussian.LogProb(backend.FromArray(Uniform(random, Batch * Dim, -1, 1), Batch, Dim), backend.FromArray(Uniform(random, Batch * Dim, -1, 1), Batch, Dim));

        var meanGradient = gaussian.LogProbBackward(backend.FromArray(Uniform(random, Batch, 0.5, 1), Batch));

        Assert.Contains(meanGradient.ToArray(), g => g != 0f);
        gaussian.Entropy();
        Assert.Throws<InvalidOperationException>(() => gaussian.EntropyBackward(1f));
    }

    [Fact]
    public void RepeatedCallsAllocateNothingAndShapesAreValidated()
    {
        var random = new Random(26);
        using var backend = new CpuBackend(1);
        var gaussian = new Gaussian(backend, Dim, backend.FromArray([0.1f, 0.2f, 0.3f, 0.4f], Dim), backend.Allocate(Dim), Gaussian.PpoMinLogStd);
        var mean = backend.FromArray(Uniform(random, Batch * Dim, -1, 1), Batch, Dim);
        var noise = backend.FromArray(Normal(random, Batch * Dim, 3), Batch, Dim);
        var weights = backend.FromArray(Uniform(random, Batch, -1, 1), Batch);

        void Step()
        {
            var action = gaussian.Sample(mean, noise, 1f);
            gaussian.LogProbPerCoordinate(mean, action);
            gaussian.LogProbBackward(weights);
            gaussian.Entropy();
            gaussian.EntropyBackward(-0.01f);
        }
        Step();
        Step();
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(Step));

        var wrongMean = Assert.Throws<ArgumentException>(() => gaussian.LogProb(backend.Allocate(Batch, Dim + 1), backend.Allocate(Batch, Dim + 1)));
        Assert.Contains($"[{Batch}, {Dim + 1}]", wrongMean.Message);
        Assert.Throws<ArgumentException>(() => gaussian.LogProb(mean, backend.Allocate(Batch - 1, Dim)));
        Assert.Throws<ArgumentException>(() => gaussian.LogProbBackward(backend.Allocate(Batch + 1)));
        Assert.Throws<ArgumentException>(() => new Gaussian(backend, Dim, backend.Allocate(Dim + 1), null, Gaussian.IqlMinLogStd));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Gaussian(backend, Dim, backend.Allocate(Dim), null, 3f));
    }
}
