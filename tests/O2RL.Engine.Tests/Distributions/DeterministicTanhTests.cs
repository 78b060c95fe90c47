using O2RL.Engine.Distributions;
using Xunit;
using static O2RL.Engine.Tests.Distributions.GradientCheck;

namespace O2RL.Engine.Tests.Distributions;

public sealed class DeterministicTanhTests
{
    const int Batch = 8, Dim = 3;

    static double[] ReferenceNoisyAction(double[] mean, double[] noise, double std, double clip, double limit)
    {
        var action = new double[mean.Length];
        for (int i = 0; i < mean.Length; i++)
            action[i] = Math.Clamp(mean[i] + Math.Clamp(std * noise[i], -clip, clip), -limit, limit);
        return action;
    }

    [Fact]
    public void TargetSmoothingNoiseIsClippedAndTheActionClamped()
    {
        var random = new Random(31);
        using var backend = new CpuBackend(1);
        var mean = Uniform(random, Batch * Dim, -0.95, 0.95);
        var noise = Normal(random, Batch * Dim, 4);
        mean[0] = 0.2f; noise[0] = 3.5f;       // 0.2·ε beyond the 0.5 clip
        mean[1] = -0.1f; noise[1] = -3.2f;
        mean[2] = 0.9f; noise[2] = 1.5f;         // 0.9 + 0.3 beyond the action limit
        var helper = new DeterministicTanh(backend, Dim);

        var action = helper.NoisyAction(backend.FromArray(mean, Batch, Dim), backend.FromArray(noise, Batch, Dim), 0.2f, 0.5f, 1f).ToArray();

        AssertClose(ReferenceNoisyAction(ToDouble(mean), ToDouble(noise), 0.2, 0.5, 1.0), action, 1e-6, 1.0, "noisy action");
        Assert.Equal(mean[0] + 0.5f, action[0], tolerance: 1e-6);
        Assert.Equal(mean[1] - 0.5f, action[1], tolerance: 1e-6);
        Assert.Equal(1f, action[2]);
    }

    [Fact]
    public void ExplorationNoiseIsNeitherClippedNorClamped()
    {
        var random = new Random(32);
        using var backend = new CpuBackend(1);
        var mean = Uniform(random, Batch * Dim, -0.99, 0.99);
        mean[0] = 0.99f;
        var noise = backend.Allocate(Batch, Dim);
        backend.RandomNormal(noise, seed: 3, counter: 0);
        backend.Upload(new float[] { 25f }, noise.Slice(0, 1));   // 0.1·25 = 2.5: far outside any clip
        var helper = new DeterministicTanh(backend, Dim);

        var action = helper.NoisyAction(backend.FromArray(mean, Batch, Dim), noise, 0.1f).ToArray();

        var expected = ReferenceNoisyAction(ToDouble(mean), ToDouble(noise.ToArray()), 0.1, double.PositiveInfinity, double.PositiveInfinity);
        AssertClose(expected, action, 1e-6, 1.0, "exploration action");
        Assert.True(action[0] > 3f);
    }

    [Fact]
    public void BackwardPassesTheGradientWhereTheActionIsNotClampedAndMatchesFiniteDifferences()
    {
        var random = new Random(33);
        using var backend = new CpuBackend(1);
        var mean = Uniform(random, Batch * Dim, -0.6, 0.6);
        var noise = Normal(random, Batch * Dim, 2);
        mean[4] = 0.95f; noise[4] = 2f;      // 0.95 + 0.4 → clamped at 1
        mean[9] = -0.9f; noise[9] = -2.4f;   // −0.9 − 0.48 → clamped at −1
        var weights = Uniform(random, Batch * Dim, -1, 1);
        var helper = new DeterministicTanh(backend, Dim);

        helper.NoisyAction(backend.FromArray(mean, Batch, Dim), backend.FromArray(noise, Batch, Dim), 0.2f, 0.5f, 1f);
        var meanGradient = helper.NoisyActionBackward(backend.FromArray(weights, Batch, Dim)).ToArray();

        var noiseD = ToDouble(noise);
        double Loss(double[] x)
        {
            var a = ReferenceNoisyAction(x, noiseD, 0.2, 0.5, 1.0);
            double sum = 0;
            for (int i = 0; i < a.Length; i++) sum += a[i] * weights[i];
            return sum;
        }
        AssertClose(CentralDifference(Loss, ToDouble(mean)), meanGradient, 1e-3, 0.05, "∂L/∂μ");
        Assert.Equal(0f, meanGradient[4]);
        Assert.Equal(0f, meanGradient[9]);
        Assert.Equal(weights[0], meanGradient[0]);
    }

    [Fact]
    public void RepeatedCallsAllocateNothingAndShapesAreValidated()
    {
        var random = new Random(34);
        using var backend = new CpuBackend(1);
        var helper = new DeterministicTanh(backend, Dim);
        var mean = backend.FromArray(Uniform(random, Batch * Dim, -1, 1), Batch, Dim);
        var noise = backend.FromArray(Normal(random, Batch * Dim, 3), Batch, Dim);
        var weights = backend.FromArray(Uniform(random, Batch * Dim, -1, 1), Batch, Dim);

        void Step()
        {
            helper.NoisyAction(mean, noise, 0.2f, 0.5f, 1f);
            helper.NoisyActionBackward(weights);
        }
        Step();
        Step();
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(Step));

        var wrongNoise = Assert.Throws<ArgumentException>(() => helper.NoisyAction(mean, backend.Allocate(Batch, Dim + 1), 0.2f));
        Assert.Contains($"[{Batch}, {Dim + 1}]", wrongNoise.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => helper.NoisyAction(mean, noise, -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => helper.NoisyAction(mean, noise, 0.2f, 0f));
        Assert.Throws<ArgumentException>(() => helper.NoisyActionBackward(backend.Allocate(Batch - 1, Dim)));
    }
}
