using O2RL.Data;
using Xunit;

namespace O2RL.Data.Tests;

public class NormalizationTests
{
    [Fact]
    public void StateConstantsArePopulationStdPlusEpsilon()
    {
        // Column 0: 1, 2, 3, 4 → mean 2.5, population variance 1.25. Column 1 constant 7 → std = epsilon.
        float[] rows = [1, 7, 2, 7, 3, 7, 4, 7];
        var n = StateNormalizer.FromRows(rows, 2);
        Assert.Equal(2.5f, n.Mean[0]);
        Assert.Equal((float)(Math.Sqrt(1.25) + 1e-3), n.Std[0]);
        Assert.Equal(7f, n.Mean[1]);
        Assert.Equal(1e-3f, n.Std[1]);
        float[] x = [4, 7];
        n.NormalizeInPlace(x);
        Assert.Equal((float)(1.5 / (Math.Sqrt(1.25) + 1e-3)), x[0], 6);
        Assert.Equal(0f, x[1]);
    }

    [Fact]
    public void AZeroDimensionNormaliserIsRefused()
    {
        // It used to be accepted and fail later with a DivideByZeroException inside NormalizeInPlace.
        Assert.Throws<ArgumentOutOfRangeException>(() => StateNormalizer.Identity(0));
        Assert.Contains("at least one dimension", Assert.Throws<ArgumentException>(() => new StateNormalizer([], [])).Message);
    }

    [Fact]
    public void RunningStatisticsRefuseANonFiniteSampleAndStayUnchanged()
    {
        // One NaN would make the mean, and every value normalised with it afterwards, NaN.
        var stats = new RunningMeanStd(2);
        stats.Add([1f, 2f]);
        var error = Assert.Throws<ArgumentException>(() => stats.Add([3f, float.NaN]));
        Assert.Contains("sample value NaN in dimension 1 is not finite (sample 2)", error.Message);
        Assert.Equal((1L, 1.0, 2.0), (stats.Count, stats.Mean(0), stats.Mean(1)));

        var scaler = new RunningRewardScaler(0.99);
        scaler.Scale(1f);
        Assert.Throws<ArgumentException>(() => scaler.Scale(float.NaN));
        Assert.Throws<ArgumentException>(() => scaler.Scale(float.PositiveInfinity, terminal: true));
        Assert.Equal(1L, scaler.Count);
        Assert.True(double.IsFinite(scaler.Std));
    }

    [Fact]
    public void QLearningConstantsComeFromTheConvertedObservations()
    {
        var d = TestData.Build(10, timeoutRows: [4]);
        var t = d.ToQLearning();
        var n = StateNormalizer.ForQLearning(t);
        // Kept rows 0,1,2,3,5,6,7,8: mean of their first observation column is 32/8 = 4.
        Assert.Equal(4f, n.Mean[0]);
        Assert.Equal(40f, n.Mean[1]);
        n.NormalizeInPlace(t);
        // Transition 4 is row 5; its s' is row 6's observation (6, 60).
        Assert.Equal((6 - 4) / n.Std[0], t.NextObservations[8], 5);
    }

    [Fact]
    public void WelfordMatchesTwoPassAndMergesInAnyOrder()
    {
        var random = new Random(3);
        float[] all = Enumerable.Range(0, 3 * 101).Select(_ => (float)(random.NextDouble() * 10 - 2)).ToArray();
        var whole = new RunningMeanStd(3);
        whole.AddRows(all);
        var a = new RunningMeanStd(3);
        var b = new RunningMeanStd(3);
        var c = new RunningMeanStd(3);
        a.AddRows(all.AsSpan(0, 3 * 40));
        b.AddRows(all.AsSpan(3 * 40, 3 * 60));
        c.AddRows(all.AsSpan(3 * 100));
        b.Merge(c);
        a.Merge(b);
        Assert.Equal(101, a.Count);
        var reference = StateNormalizer.FromRows(all, 3, 0);
        for (int j = 0; j < 3; j++)
        {
            Assert.Equal(whole.Mean(j), a.Mean(j), 10);
            Assert.Equal(whole.PopulationVariance(j), a.PopulationVariance(j), 9);
            Assert.Equal(reference.Mean[j], (float)a.Mean(j), 5);
            Assert.Equal(reference.Std[j], (float)Math.Sqrt(a.PopulationVariance(j)), 5);
        }
        a.Merge(new RunningMeanStd(3));
        Assert.Equal(101, a.Count);
    }

    [Fact]
    public void RewardScalerFollowsTheFaithfulRunningRule()
    {
        var scaler = new RunningRewardScaler(gamma: 0.5);
        // R1 = 2: first value, std stays 1 → 2 / (1 + 1e-8).
        Assert.Equal(2f / (float)(1 + 1e-8), scaler.Scale(2f), 6);
        // R2 = 0.5·2 + 4 = 5: M = 2 + 3/2 = 3.5, S = 1 + (5 − 2)(5 − 3.5) = 5.5, std = √(5.5/2).
        double std = Math.Sqrt(5.5 / 2);
        Assert.Equal((float)(4 / (std + 1e-8)), scaler.Scale(4f), 6);
        Assert.Equal(std, scaler.Std, 12);
        // A terminal leaves the reward unscaled and resets R; statistics are kept.
        Assert.Equal(7f, scaler.Scale(7f, terminal: true));
        Assert.Equal(2, scaler.Count);
        // R3 = 0 + 1 = 1: M = 3.5 + (1 − 3.5)/3, S = 5.5 + (1 − 3.5)(1 − M3).
        double m3 = 3.5 + (1 - 3.5) / 3, s3 = 5.5 + (1 - 3.5) * (1 - m3);
        Assert.Equal((float)(1 / (Math.Sqrt(s3 / 3) + 1e-8)), scaler.Scale(1f), 6);
    }

    [Fact]
    public void NormaliserRejectsNonPositiveStd()
    {
        var ex = Assert.Throws<ArgumentException>(() => new StateNormalizer([0f, 1f], [1f, 0f]));
        Assert.Contains("dimension 1", ex.Message);
    }
}

public class NormalizedScoreTests
{
    [Theory]
    [InlineData("hopper-medium-v2", 3234.3, 100.0)]
    [InlineData("hopper-medium-replay-v2", -20.272305, 0.0)]
    [InlineData("halfcheetah-expert-v2", 12135.0, 100.0)]
    [InlineData("walker2d-random-v2", 1.629008, 0.0)]
    [InlineData("antmaze-large-diverse-v2", 0.75, 75.0)]
    [InlineData("maze2d-umaze-v1", 161.86, 100.0)]
    [InlineData("maze2d-large-dense-v1", 30.569041, 0.0)]
    [InlineData("maze2d-open-dense-v0", 27.166538620695782, 100.0)]
    [InlineData("maze2d-eval-medium-v1", 13.07, 0.0)]
    public void D4rlTableGivesTheReferenceEnds(string task, double ret, double expected) =>
        Assert.Equal(expected, NormalizedScores.Normalize(task, ret), 9);

    [Fact]
    public void MidpointOfWalker()
    {
        double mid = (1.629008 + 4592.3) / 2;
        Assert.Equal(50.0, NormalizedScores.Normalize("walker2d-medium-expert-v2", mid), 9);
    }

    [Fact]
    public void OwnTasksRegisterFromRandomAndExpertRuns()
    {
        string task = "TestPendulum-" + Guid.NewGuid().ToString("N");
        Assert.False(NormalizedScores.TryGet(task, out _));
        var scores = NormalizedScores.RegisterFromRuns(task, [-1200.0, -1400.0], [-150.0, -170.0]);
        Assert.Equal(new ReferenceScores(-1300.0, -160.0), scores);
        Assert.Equal(100.0, NormalizedScores.Normalize(task, -160.0), 9);
        Assert.True(NormalizedScores.Unregister(task));
        Assert.Throws<ArgumentException>(() => NormalizedScores.Register(task, 5, 5));
    }

    [Fact]
    public void UnknownTasksAndBareMaze2dAreRejected()
    {
        var ex = Assert.Throws<KeyNotFoundException>(() => NormalizedScores.Normalize("nosuchtask-v0", 1));
        Assert.Contains("nosuchtask-v0", ex.Message);
        Assert.False(NormalizedScores.TryGet("maze2d-tiny-v9", out _));
    }
}
