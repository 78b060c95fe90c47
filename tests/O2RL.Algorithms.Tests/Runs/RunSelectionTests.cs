using O2RL.Algorithms.Runs;
using Xunit;

namespace O2RL.Algorithms.Tests.Runs;

/// <summary>What report and plot pool as seeds: finished runs only (by default), with a note on anything that is not a clean seed.</summary>
public sealed class RunSelectionTests
{
    static RunFolder Run(TemporaryFolder temp, string name, int seed, string config, bool finished)
    {
        var folder = RunFolder.Create(temp.Combine(name), new RunInfo { Algorithm = "sac", Environment = "Pendulum-v1", Seed = seed, Command = "test" }, config);
        using (var metrics = folder.OpenMetrics(flushToDisk: false))
            foreach (long step in new long[] { 1000, 2000 })
            {
                metrics.Log(step, LearningCurves.RawReturn, -500 + step / 10.0);
                metrics.Flush(step);
            }
        if (finished) folder.WriteSummary(2000, new Dictionary<string, double>());
        return RunFolder.Open(folder.Directory);
    }

    [Fact]
    public void UnfinishedRunsAreLeftOutAndNamed_UnlessAskedFor()
    {
        using var temp = new TemporaryFolder();
        var done = Run(temp, "done", 0, """{"actor_lr": 0.001}""", finished: true);
        var stopped = Run(temp, "stopped", 1, """{"actor_lr": 0.001}""", finished: false);
        var selection = RunSelections.Select([done, stopped], includeIncomplete: false);
        Assert.Equal([done.Directory], selection.Runs.Select(r => r.Directory));
        var note = Assert.Single(selection.Notes);
        Assert.Contains($"left out 1 run(s) that have not finished (no summary.json: stopped, diverged or still running): {stopped.Directory} (step 2,000)", note);

        selection = RunSelections.Select([done, stopped], includeIncomplete: true);
        Assert.Equal(2, selection.Runs.Count);
        Assert.Contains("reported as they stand", Assert.Single(selection.Notes));
    }

    [Fact]
    public void AGroupWithARepeatedSeedOrDifferentSettingsIsNoted()
    {
        using var temp = new TemporaryFolder();
        var a = Run(temp, "a", 0, """{"actor_lr": 0.001, "actor_hidden": [16]}""", finished: true);
        var b = Run(temp, "b", 1, """{"actor_lr": 0.001, "actor_hidden": [64, 64]}""", finished: true);
        var c = Run(temp, "c", 1, """{"actor_lr": 0.001, "actor_hidden": [16]}""", finished: true);
        var notes = RunSelections.Select([a, b, c], includeIncomplete: false).Notes;
        Assert.Equal(2, notes.Count);
        Assert.Contains($"sac on Pendulum-v1: seed 1 appears in 2 runs ({b.Directory}, {c.Directory}), each counted as a seed", notes);
        Assert.Contains("sac on Pendulum-v1 pools 3 runs whose settings differ: actor_hidden ([16] / [64,64])", notes);

        // Clean seeds of one experiment: nothing to say.
        var d = Run(temp, "d", 2, """{"actor_lr": 0.001, "actor_hidden": [16]}""", finished: true);
        Assert.Empty(RunSelections.Select([a, d], includeIncomplete: false).Notes);
    }
}
