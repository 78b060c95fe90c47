using O2RL.Data;
using Xunit;

namespace O2RL.Data.Tests;

/// <summary>Files written by h5py (see Fixtures/make_fixtures.py for how each was made).</summary>
public class D4rlFixtureTests
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    const int N = 12;

    static float[] ExpectedObservations(int dim) =>
        Enumerable.Range(0, N).SelectMany(i => Enumerable.Range(0, dim).Select(j => (float)(i + j / 10.0))).ToArray();

    static float[] ExpectedActions(int dim) =>
        Enumerable.Range(0, N).SelectMany(i => Enumerable.Range(0, dim).Select(j => (float)Math.Sin(i + j))).ToArray();

    [Fact]
    public void D4rlStyleFileFromH5pyReadsRight()
    {
        var d = D4rlHdf5.Read(Fixture("h5py_d4rl_style.hdf5"), ValidationOptions.UnitActionBox(observationDim: 3, actionDim: 2, strict: true));
        Assert.Equal((N, 3, 2), (d.RowCount, d.ObservationDim, d.ActionDim));
        Assert.Equal(ExpectedObservations(3), d.Observations);
        var expectedActions = ExpectedActions(2);
        for (int k = 0; k < expectedActions.Length; k++) Assert.Equal(expectedActions[k], d.Actions[k], 6);
        Assert.Equal(Enumerable.Range(0, N).Select(i => i * 0.5f), d.Rewards);
        Assert.Equal(ExpectedObservations(3).Select(v => v + 0.5f), d.NextObservations!);
        Assert.Equal(Enumerable.Range(0, N).Select(i => i == 4), d.Terminals);
        Assert.Equal(Enumerable.Range(0, N).Select(i => i == 9), d.Timeouts!);
        Assert.Equal(new DatasetMetadata
        {
            EnvironmentId = "hopper-medium-v2", Level = "medium", BehaviourReturn = 1234.5, GeneratorVersion = "h5py fixture", Seed = 17, Algorithm = "SAC",
        }, d.Metadata);

        // Rows 0..10 minus the timeout row 9 (row 11 is the last, always dropped).
        var t = d.ToQLearning();
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 10], t.SourceRows!);
        Assert.Equal([EpisodeEnd.Terminal, EpisodeEnd.TimeLimit, EpisodeEnd.CutOff], d.Episodes().Select(e => e.End));
    }

    [Fact]
    public void SummaryOfTheH5pyFileUsesItsEnvironmentIdForTheScore()
    {
        var s = DatasetSummary.Of(D4rlHdf5.Read(Fixture("h5py_d4rl_style.hdf5")));
        Assert.Equal((12, 10, 3, 1, 1, 1), (s.Rows, s.Transitions, s.Episodes, s.CutOffEpisodes, s.Terminals, s.Timeouts!.Value));
        // Rewards are 0.5·i: episodes 0-4, 5-9, 10-11 return 5, 17.5 and 10.5.
        Assert.Equal(11.0, s.EpisodeReturns.Mean, 9);
        Assert.Equal("hopper-medium-v2", s.TaskId);
        Assert.Equal(100 * (11.0 + 20.272305) / (3234.3 + 20.272305), s.NormalizedReturnMean!.Value, 9);
    }

    [Fact]
    public void OlderLayoutFromH5pyReadsRight()
    {
        var result = D4rlHdf5.Load(Fixture("h5py_older_layout.hdf5"));
        var d = result.Dataset;
        Assert.NotNull(d);
        Assert.Equal(ExpectedObservations(3), d.Observations);
        Assert.Equal(Enumerable.Range(0, N).Select(i => i * 0.5f), d.Rewards);
        Assert.Equal(Enumerable.Range(0, N).Select(i => i == N - 1), d.Terminals);
        Assert.Null(d.Timeouts);
        Assert.Null(d.NextObservations);
        Assert.Equal("timeouts", Assert.Single(result.Report.Issues).Key);
    }

    [Theory]
    [InlineData("h5py_lzf.hdf5", "LZF")]
    [InlineData("h5py_szip.hdf5", "SZIP")]
    public void UnsupportedCompressionFromH5pyIsAClearError(string file, string filter)
    {
        var result = D4rlHdf5.Load(Fixture(file));
        Assert.Null(result.Dataset);
        var issue = Assert.Single(result.Report.Issues);
        Assert.Equal(("observations", IssueSeverity.Error), (issue.Key, issue.Severity));
        Assert.Contains($"compressed with the {filter} filter", issue.Message);
        Assert.StartsWith($"error: {file}: key 'observations': ", issue.ToString());
    }
}
