using O2RL.Data;
using Xunit;

namespace O2RL.Data.Tests;

public class ConversionTests
{
    static void AssertTransitionRows(TransitionDataset d, Transitions t, int[] expectedRows)
    {
        Assert.Equal(expectedRows, t.SourceRows!);
        for (int k = 0; k < expectedRows.Length; k++)
        {
            int i = expectedRows[k];
            Assert.Equal(d.Observation(i).ToArray(), t.Observations.AsSpan(k * 2, 2).ToArray());
            // D4RL takes s' from the next stored observation, never from next_observations.
            Assert.Equal(d.Observation(i + 1).ToArray(), t.NextObservations.AsSpan(k * 2, 2).ToArray());
            Assert.Equal(d.Actions[i], t.Actions[k]);
            Assert.Equal(d.Rewards[i], t.Rewards[k]);
            Assert.Equal(d.Terminals[i] ? 1f : 0f, t.Terminals[k]);
        }
    }

    [Fact]
    public void EpisodeCutAtTheEndOfTheFileLosesOnlyTheTimeoutRowAndTheLastRow()
    {
        var d = TestData.Build(10, timeoutRows: [4]);
        var t = d.ToQLearning();
        AssertTransitionRows(d, t, [0, 1, 2, 3, 5, 6, 7, 8]);
        Assert.Equal(0, t.TerminalCount);
        var episodes = d.Episodes();
        Assert.Equal(2, episodes.Count);
        Assert.Equal(new Episode(0, 5, 0 + 1 + 2 + 3 + 4, EpisodeEnd.TimeLimit), episodes[0]);
        Assert.Equal(new Episode(5, 5, 5 + 6 + 7 + 8 + 9, EpisodeEnd.CutOff), episodes[1]);
    }

    [Fact]
    public void TerminalAtTheLastRowIsDroppedButEarlierTerminalsAreKeptWithMaskOne()
    {
        var d = TestData.Build(6, terminalRows: [2, 5]);
        var t = d.ToQLearning();
        AssertTransitionRows(d, t, [0, 1, 2, 3, 4]);
        Assert.Equal(new float[] { 0, 0, 1, 0, 0 }, t.Terminals);
        var episodes = d.Episodes();
        Assert.Equal([EpisodeEnd.Terminal, EpisodeEnd.Terminal], episodes.Select(e => e.End));
        Assert.Equal([3, 3], episodes.Select(e => e.Length));
    }

    [Fact]
    public void ConsecutiveShortEpisodes()
    {
        var d = TestData.Build(6, terminalRows: [0, 1, 3], timeoutRows: [2, 4]);
        var t = d.ToQLearning();
        AssertTransitionRows(d, t, [0, 1, 3]);
        Assert.Equal(new float[] { 1, 1, 1 }, t.Terminals);
        var episodes = d.Episodes();
        Assert.Equal([1, 1, 1, 1, 1, 1], episodes.Select(e => e.Length));
        Assert.Equal([EpisodeEnd.Terminal, EpisodeEnd.Terminal, EpisodeEnd.TimeLimit, EpisodeEnd.Terminal, EpisodeEnd.TimeLimit, EpisodeEnd.CutOff],
            episodes.Select(e => e.End));
    }

    [Fact]
    public void WithoutATimeoutsKeyAStepCounterMarksTimeLimitEnds()
    {
        var d = TestData.Build(10, terminalRows: [1], withTimeouts: false);
        // limit 3: row 1 terminal resets the count; rows 2,3,4 → 4 is the 3rd step; rows 5,6,7 → 7; rows 8,9 cut off.
        var t = d.ToQLearning(new QLearningOptions { TimeLimitWithoutTimeouts = 3 });
        AssertTransitionRows(d, t, [0, 1, 2, 3, 5, 6, 8]);
        Assert.Equal([EpisodeEnd.Terminal, EpisodeEnd.TimeLimit, EpisodeEnd.TimeLimit, EpisodeEnd.CutOff], d.Episodes(3).Select(e => e.End));

        var noLimit = d.ToQLearning(new QLearningOptions { TimeLimitWithoutTimeouts = null });
        AssertTransitionRows(d, noLimit, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
        // The default is the MuJoCo limit of 1000 steps, which these 10 rows never reach.
        Assert.Equal(9, d.ToQLearning().Count);
    }

    [Fact]
    public void KeepAllRowsUsesStoredNextObservationsAndKeepsTimeoutRows()
    {
        var d = TestData.Build(6, terminalRows: [2], timeoutRows: [4]);
        var t = d.ToQLearning(new QLearningOptions { Mode = QLearningMode.KeepAllRows });
        Assert.Equal(6, t.Count);
        Assert.Equal(d.NextObservations, t.NextObservations);
        Assert.Equal(new float[] { 0, 0, 1, 0, 0, 0 }, t.Terminals);
        var withoutNext = TestData.Build(6, withNext: false);
        var ex = Assert.Throws<InvalidOperationException>(() => withoutNext.ToQLearning(new QLearningOptions { Mode = QLearningMode.KeepAllRows }));
        Assert.Contains("next_observations", ex.Message);
    }

    [Fact]
    public void PpoConversionIgnoresTimeoutsClipsActionsAndComputesMonteCarloReturns()
    {
        var d = TestData.Build(6, terminalRows: [2], timeoutRows: [4]);
        d.Actions[1] = 1f;
        d.Actions[3] = -3f;
        var t = d.ToPpo(gamma: 0.5);
        Assert.Equal(5, t.Count);
        Assert.Equal([0, 1, 2, 3, 4], t.SourceRows!);
        Assert.Equal(1f - 1e-5f, t.Actions[1]);
        Assert.Equal(-(1f - 1e-5f), t.Actions[3]);
        Assert.Equal(new float[] { 0, 0, 1, 0, 0 }, t.Terminals);
        // Rewards are 0..4. Backwards: G4 = 4; G3 = 3 + 0.5·4 = 5 (the timeout at row 4 does not stop it);
        // G2 = 2 (terminal); G1 = 1 + 0.5·2 = 2; G0 = 0 + 0.5·2 = 1.
        Assert.Equal(new float[] { 1, 2, 2, 5, 4 }, t.MonteCarloReturns);
        // s' crosses the time-limit boundary: row 4's s' is row 5's observation.
        Assert.Equal(d.Observation(5).ToArray(), t.NextObservations.AsSpan(8, 2).ToArray());
    }

    [Fact]
    public void DatasetRejectsArraysOfDifferentLengths()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TransitionDataset(2, 1, new float[6], new float[3], new float[3], new bool[2]));
        Assert.Contains("terminals has 2 rows", ex.Message);
    }

    [Fact]
    public void SummaryCountsRowsTransitionsEpisodesAndNormalisesKnownTasks()
    {
        var d = TestData.Build(10, terminalRows: [2], timeoutRows: [6], metadata: new DatasetMetadata { EnvironmentId = "hopper-medium-v2" });
        var s = DatasetSummary.Of(d);
        Assert.Equal(10, s.Rows);
        Assert.Equal(8, s.Transitions);
        Assert.Equal(3, s.Episodes);
        Assert.Equal(1, s.CutOffEpisodes);
        Assert.Equal(1, s.Terminals);
        Assert.Equal(1, s.Timeouts);
        // Episode returns: 0+1+2 = 3, 3+4+5+6 = 18, 7+8+9 = 24.
        Assert.Equal(15.0, s.EpisodeReturns.Mean, 12);
        Assert.Equal(3.0, s.EpisodeReturns.Min);
        Assert.Equal(24.0, s.EpisodeReturns.Max);
        Assert.Equal("hopper-medium-v2", s.TaskId);
        Assert.Equal(100 * (15 + 20.272305) / (3234.3 + 20.272305), s.NormalizedReturnMean!.Value, 9);
        Assert.Null(DatasetSummary.Of(TestData.Build(3)).TaskId);
    }
}
