using O2RL.Algorithms.FineTuning;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>The pieces shared by O2SAC, O2TD3 and O2PPO: λ dual step, threshold schedule, reference rules.</summary>
public sealed class ConstrainedFineTuningTests
{
    static double WeightedSlack(double[] divergence, double threshold, double tau)
    {
        double sum = 0;
        foreach (double d in divergence)
        {
            double u = threshold - d;
            sum += (u > 0 ? 1 - tau : tau) * u;
        }
        return sum / divergence.Length;
    }

    [Fact]
    public void DualGradient_MatchesTheAsymmetricWeightedSlackTimesLambda()
    {
        using var backend = new CpuBackend(1);
        float[] divergence = [0.1f, 0.5f, 2.5f, -0.3f, 1.0f, 0.25f];
        const float threshold = 0.4f, lambda0 = 1.7f;
        var multiplier = new LagrangeMultiplier(backend, divergence.Length, initialLambda: lambda0);
        var div = backend.FromArray(divergence, 2, 3);
        multiplier.DualGradient(div, threshold);

        double w = WeightedSlack(Array.ConvertAll(divergence, x => (double)x), threshold, 0.7);
        double lambda = Math.Exp(Math.Log(lambda0));
        Assert.Equal(w, backend.ReadScalar(multiplier.Weight), 5);
        Assert.Equal(lambda * w, backend.ReadScalar(multiplier.Loss), 5);
        Assert.Equal(lambda * w, backend.ReadScalar(multiplier.Optimizer.Gradients), 5);
        Assert.Equal(lambda0, backend.ReadScalar(multiplier.Lambda), 5);
    }

    [Fact]
    public void Lambda_RisesWhenViolated_FallsWithSlack_AndStaysPositive()
    {
        using var backend = new CpuBackend(1);
        var violated = new LagrangeMultiplier(backend, 4, learningRate: 0.5f);
        var slack = new LagrangeMultiplier(backend, 4, learningRate: 0.5f);
        var large = backend.FromArray([3f, 3f, 3f, 3f], 4);
        var small = backend.FromArray([0f, 0f, 0f, 0f], 4);
        float previousViolated = violated.ReadLambda(), previousSlack = slack.ReadLambda();
        for (int i = 0; i < 50; i++)
        {
            violated.Refresh(); violated.DualGradient(large, 0.1f); violated.Step();
            slack.Refresh(); slack.DualGradient(small, 0.1f); slack.Step();
            float v = violated.ReadLambda(), s = slack.ReadLambda();
            Assert.True(v > previousViolated, $"λ must rise while violated: {previousViolated} → {v}");
            Assert.True(s < previousSlack, $"λ must fall with slack: {previousSlack} → {s}");
            Assert.True(s > 0f && float.IsFinite(s));
            previousViolated = v; previousSlack = s;
        }
    }

    [Fact]
    public void Violations_WeighMoreThanSlack()
    {
        // Symmetric slacks ±1 around ε: the weighted mean is (0.3 − 0.7)/2 < 0, so λ rises.
        using var backend = new CpuBackend(1);
        var multiplier = new LagrangeMultiplier(backend, 2);
        multiplier.DualGradient(backend.FromArray([0f, 2f], 2), 1f);
        Assert.Equal(-0.2, backend.ReadScalar(multiplier.Weight), 6);
    }

    [Fact]
    public void LagrangeMultiplier_RejectsBadSettingsAndShapes()
    {
        using var backend = new CpuBackend(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LagrangeMultiplier(backend, 4, initialLambda: 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LagrangeMultiplier(backend, 4, initialLambda: float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LagrangeMultiplier(backend, 4, tau: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LagrangeMultiplier(backend, 0));
        var multiplier = new LagrangeMultiplier(backend, 4);
        var error = Assert.Throws<ArgumentException>(() => multiplier.DualGradient(backend.Allocate(3), 0.1f));
        Assert.Contains("3 elements", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => multiplier.DualGradient(backend.Allocate(4), float.NaN));
    }

    [Fact]
    public void ThresholdSchedule_LoosensLinearlyThenHolds()
    {
        var schedule = new ThresholdSchedule(0.125f, 2.0f, 100_000).Validated();
        Assert.Equal(0.125f, schedule.At(0));
        Assert.Equal(0.125 + 1.875 * 0.25, schedule.At(25_000), 6);
        Assert.Equal(2.0f, schedule.At(100_000));
        Assert.Equal(2.0f, schedule.At(250_000));
        Assert.Equal(0.5f, schedule.ForPeriodicReference().At(1_000_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.At(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThresholdSchedule(0.1f, 1f, 0).Validated());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThresholdSchedule(float.NaN, 1f, 10).Validated());
    }

    [Fact]
    public void Reference_InitialChoiceNeedsAStrictlyBetterAlignedActor()
    {
        var tracker = new ReferencePolicyTracker(ReferenceRule.BestSoFar, 1, 1000);
        Assert.False(tracker.ChooseInitial(offlineScore: 50, alignedScore: 50));
        Assert.Equal(50, tracker.BestScore);
        Assert.True(tracker.ChooseInitial(offlineScore: 50, alignedScore: 50.5));
        Assert.Equal(50.5, tracker.BestScore);
        Assert.False(tracker.ChooseInitial(offlineScore: 50, alignedScore: double.NaN));
        Assert.Equal(50, tracker.BestScore);
    }

    [Fact]
    public void Reference_InitialReferenceAlignedTakesTheAlignedActorWhateverItsScore()
    {
        var tracker = new ReferencePolicyTracker(ReferenceRule.BestSoFar, 1, 1000);
        Assert.True(tracker.ChooseInitial(offlineScore: 50, alignedScore: 20, alwaysAligned: true));
        Assert.Equal(20, tracker.BestScore);
        // best_score is the aligned actor's: the first online policy above it replaces π_ref, even below π_off's 50.
        Assert.False(tracker.ShouldReplace(1000, 19));
        Assert.True(tracker.ShouldReplace(2000, 21));
        Assert.True(tracker.ChooseInitial(offlineScore: 50, alignedScore: 60, alwaysAligned: true));
        Assert.Equal(60, tracker.BestScore);
    }

    [Fact]
    public void Reference_ToleranceTakesAnAlignedActorLessThanThatFractionWorse()
    {
        var tracker = new ReferencePolicyTracker(ReferenceRule.BestSoFar, 1, 1000);
        // 10 % of |38.6| = 3.86: 37.2 is within it, 34.6 is not; with a negative score the fraction is of its magnitude.
        Assert.True(tracker.ChooseInitial(offlineScore: 38.6, alignedScore: 37.2, tolerance: 0.1));
        Assert.Equal(37.2, tracker.BestScore);
        Assert.False(tracker.ChooseInitial(offlineScore: 38.6, alignedScore: 34.6, tolerance: 0.1));
        Assert.Equal(38.6, tracker.BestScore);
        Assert.True(tracker.ChooseInitial(offlineScore: -124.5, alignedScore: -130, tolerance: 0.1));
        Assert.False(tracker.ChooseInitial(offlineScore: -124.5, alignedScore: -341.7, tolerance: 0.1));
        Assert.False(tracker.ChooseInitial(offlineScore: 38.6, alignedScore: double.NaN, tolerance: 0.1));
        Assert.False(tracker.ChooseInitial(offlineScore: 38.6, alignedScore: 37.2, tolerance: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => tracker.ChooseInitial(1, 1, tolerance: -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => tracker.ChooseInitial(1, 1, tolerance: double.NaN));
    }

    [Fact]
    public void Reference_BestSoFarReplacesOnlyOnStrictImprovement()
    {
        var tracker = new ReferencePolicyTracker(ReferenceRule.BestSoFar, 1, 1000);
        tracker.ChooseInitial(10, 5);
        Assert.False(tracker.ShouldReplace(1000, 10));
        Assert.True(tracker.ShouldReplace(2000, 12));
        Assert.False(tracker.ShouldReplace(3000, 11));
        Assert.False(tracker.ShouldReplace(4000, double.NaN));
        Assert.True(tracker.ShouldReplace(5000, 13));
        Assert.Equal(13, tracker.BestScore);
        Assert.Equal(2, tracker.Replacements);
    }

    [Fact]
    public void Reference_EveryNReplacesOnMultiplesOfUpdateNTimesEvalFreq()
    {
        var tracker = new ReferencePolicyTracker(ReferenceRule.EveryN, updateEvery: 10, evaluateEvery: 1000);
        tracker.ChooseInitial(10, 5);
        Assert.False(tracker.ShouldReplace(1000, 100));
        Assert.False(tracker.ShouldReplace(9000, 100));
        Assert.True(tracker.ShouldReplace(10_000, -100));
        Assert.True(tracker.ShouldReplace(20_000, -100));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReferencePolicyTracker(ReferenceRule.EveryN, 0, 1000));
    }
}
