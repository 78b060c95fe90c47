using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.Networks;
using O2RL.Data;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>O2SAC's target-entropy rule and the measurement of a policy's entropy on dataset states.</summary>
public sealed class EntropyTargetTests : IDisposable
{
    const int ObsDim = 4, ActionDim = 3;
    readonly CpuBackend backend = new(1);

    public void Dispose() => backend.Dispose();

    [Theory]
    [InlineData("auto", ActorFamily.TanhGaussian, EntropyTargetSource.ActionDim)]
    [InlineData("auto", ActorFamily.Deterministic, EntropyTargetSource.Policy)]
    [InlineData("auto", ActorFamily.Gaussian, EntropyTargetSource.Policy)]
    [InlineData("action-dim", ActorFamily.Deterministic, EntropyTargetSource.ActionDim)]
    [InlineData("policy", ActorFamily.TanhGaussian, EntropyTargetSource.Policy)]
    [InlineData(" Policy ", ActorFamily.TanhGaussian, EntropyTargetSource.Policy)]
    public void TheRuleFollowsTheSourceFamilyUnlessSetExplicitly(string rule, ActorFamily family, EntropyTargetSource expected)
    {
        Assert.Equal(expected, EntropyTarget.Resolve(rule, null, 2f, family));
        // A configured number always wins.
        Assert.Equal(EntropyTargetSource.Configured, EntropyTarget.Resolve(rule, -4f, 2f, family));
    }

    [Fact]
    public void TheTargetIsTheMeasuredEntropyLessTheMarginPerDimension()
    {
        Assert.Equal(-13f - 2f * 6, EntropyTarget.Target(EntropyTargetSource.Policy, null, 6, -13.0, 2f));
        Assert.Equal(-13f, EntropyTarget.Target(EntropyTargetSource.Policy, null, 6, -13.0, 0f));
        Assert.Equal(-6f, EntropyTarget.Target(EntropyTargetSource.ActionDim, null, 6, -13.0, 2f));
        Assert.Equal(-30f, EntropyTarget.Target(EntropyTargetSource.Configured, -30f, 6, -13.0, 2f));
        Assert.Contains("target_entropy_margin", Assert.Throws<ArgumentException>(() => EntropyTarget.Target(EntropyTargetSource.Policy, null, 6, -13.0, -1f)).Message);
        Assert.Throws<ArgumentException>(() => EntropyTarget.Target(EntropyTargetSource.Policy, null, 6, double.NaN, 2f));
    }

    [Fact]
    public void BadRulesAndTargetsAreRejectedWithTheirNames()
    {
        Assert.Contains("target_entropy_rule 'bogus'", Assert.Throws<ArgumentException>(() => EntropyTarget.Resolve("bogus", null, 2f, ActorFamily.Deterministic)).Message);
        Assert.Contains("target_entropy", Assert.Throws<ArgumentException>(() => EntropyTarget.Resolve("auto", float.NaN, 2f, ActorFamily.Deterministic)).Message);
        Assert.Contains("target_entropy_margin", Assert.Throws<ArgumentException>(() => EntropyTarget.Resolve("auto", null, float.NaN, ActorFamily.Deterministic)).Message);
        var sac = new Online.SoftActorCritic(backend, ObsDim, ActionDim, new Online.SoftActorCriticOptions { ActorHidden = [8], CriticHidden = [8] }, 1);
        Assert.Equal(-ActionDim, sac.TargetEntropy);
        Assert.Throws<ArgumentOutOfRangeException>(() => sac.TargetEntropy = float.PositiveInfinity);
    }

    /// <summary>
    /// A state-independent tanh-Gaussian (zero weights into the head; bias μ_j and ln σ_j): its entropy is
    /// Σ_j [½ + ln σ_j + ½ ln 2π + E log(1 − tanh² u_j)], u_j ~ N(μ_j, σ_j²), which we integrate in double precision.
    /// </summary>
    static double ExactEntropy(double[] means, double[] stds)
    {
        double entropy = 0;
        for (int j = 0; j < means.Length; j++)
        {
            // E over the Gaussian by the midpoint rule on ±10σ (the integrand is smooth; 20,000 points are plenty).
            const int points = 20_000;
            double width = 20.0 / points, expectation = 0;
            for (int i = 0; i < points; i++)
            {
                double z = -10 + (i + 0.5) * width, u = means[j] + stds[j] * z;
                double logJacobian = 2 * (Math.Log(2) - u - Softplus(-2 * u));
                expectation += Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI) * logJacobian * width;
            }
            entropy += 0.5 + Math.Log(stds[j]) + 0.5 * Math.Log(2 * Math.PI) + expectation;
        }
        return entropy;
    }

    static double Softplus(double x) => Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x)));

    TanhGaussianActor StateIndependentActor(double[] means, double[] stds)
    {
        var actor = new TanhGaussianActor(backend, ObsDim, ActionDim, seed: 3, trainable: false, hiddenDims: [8]);
        var output = actor.Parameters.Entries.Last(e => e.Name.EndsWith(".weight", StringComparison.Ordinal));
        actor.Parameters.Write(output.Name, new float[output.Length]);
        string bias = output.Name[..^".weight".Length] + ".bias";
        actor.Parameters.Write(bias, [.. means.Select(m => (float)m), .. stds.Select(s => MathF.Log((float)s))]);
        // log σ = m·ρ + o with m = 1, o = 0 (CORL initialises o at −1).
        actor.Parameters.Write("log_std_multiplier.constant", [1f]);
        actor.Parameters.Write("log_std_offset.constant", [0f]);
        return actor;
    }

    static Transitions RandomStates(int count)
    {
        var random = new Random(9);
        float[] observations = new float[count * ObsDim];
        for (int i = 0; i < observations.Length; i++) observations[i] = (float)(random.NextDouble() * 4 - 2);
        return new Transitions(ObsDim, ActionDim, observations, new float[count * ActionDim], new float[count], (float[])observations.Clone(), new float[count]);
    }

    [Theory]
    [InlineData(0.0, 0.5, 0.0, 1.0, 0.0, 0.3)]    // near the centre: close to a plain Gaussian's entropy
    [InlineData(3.0, 0.1, -4.0, 0.1, 2.5, 0.2)]   // saturated, as a converted TD3+BC actor on HalfCheetah: far below −d
    public void MeasuredEntropyMatchesTheIntegralWithinMonteCarloError(double mean0, double std0, double mean1, double std1, double mean2, double std2)
    {
        double[] means = [mean0, mean1, mean2], stds = [std0, std1, std2];
        var actor = StateIndependentActor(means, stds);
        var transitions = RandomStates(5000);
        double measured = EntropyTarget.MeasurePolicyEntropy(backend, actor, transitions, seed: 4, slot: 5);
        double exact = ExactEntropy(means, stds);
        // 4096 samples; the per-sample standard deviation of log π is below 3 nats here, so 4 standard errors < 0.2.
        Assert.InRange(measured, exact - 0.2, exact + 0.2);
        // Deterministic for a seed; another seed gives another (but close) estimate; the last chunk may be partial.
        Assert.Equal(measured, EntropyTarget.MeasurePolicyEntropy(backend, actor, transitions, seed: 4, slot: 5));
        double otherSeed = EntropyTarget.MeasurePolicyEntropy(backend, actor, transitions, seed: 5, slot: 5);
        Assert.NotEqual(measured, otherSeed);
        Assert.InRange(otherSeed, exact - 0.2, exact + 0.2);
        double partial = EntropyTarget.MeasurePolicyEntropy(backend, actor, transitions, seed: 4, slot: 5, states: 1000, chunkRows: 256);
        Assert.InRange(partial, exact - 0.4, exact + 0.4);
    }

    [Fact]
    public void EmptyOrMismatchedDataIsRejected()
    {
        var actor = StateIndependentActor([0, 0, 0], [1, 1, 1]);
        Assert.Throws<ArgumentException>(() => EntropyTarget.MeasurePolicyEntropy(backend, actor, RandomStates(0), 1, 5));
        var wrong = new Transitions(ObsDim + 1, ActionDim, new float[2 * (ObsDim + 1)], new float[2 * ActionDim], new float[2], new float[2 * (ObsDim + 1)], new float[2]);
        Assert.Contains("observation features", Assert.Throws<ArgumentException>(() => EntropyTarget.MeasurePolicyEntropy(backend, actor, wrong, 1, 5)).Message);
    }
}
