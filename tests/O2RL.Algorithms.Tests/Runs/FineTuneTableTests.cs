using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.Runs;
using Xunit;

namespace O2RL.Algorithms.Tests.Runs;

/// <summary>The offline → reconstruction → lowest early → final table over fixture run folders.</summary>
public sealed class FineTuneTableTests
{
    static RunFolder Run(TemporaryFolder temp, string name, string algorithm, int seed, double? aligned, params double[] curve)
    {
        var info = new RunInfo { Algorithm = algorithm, Environment = "Pendulum-v1", Seed = seed, Command = "test" };
        var folder = RunFolder.Create(temp.Combine(name), info, "{}");
        using (var metrics = folder.OpenMetrics(flushToDisk: false))
        {
            for (int i = 0; i < curve.Length; i++)
            {
                metrics.Log(i * 1000L, LearningCurves.RawReturn, curve[i]);
                if (i == 0 && aligned is double a) metrics.Log(0, FineTuneTable.AlignedScore, a);
                metrics.Flush(i * 1000L);
            }
        }
        return RunFolder.Open(folder.Directory);
    }

    [Fact]
    public void Scores_OfflineIsTheStepZeroPoint_LowestEarlyCoversTheFirstTenth()
    {
        using var temp = new TemporaryFolder();
        // 21 evaluations: the first ⌈2.1⌉ = 3 (steps 0, 1000, 2000) are "early".
        double[] curve = [-400, -700, -650, -800, .. Enumerable.Range(0, 17).Select(i => -300.0 + i)];
        var scores = FineTuneTable.Score(Run(temp, "a", "o2sac", 0, -350, curve))!;
        Assert.Equal(-400, scores.Offline);
        Assert.Equal(-350, scores.Aligned);
        Assert.Equal(-700, scores.LowestEarly);
        Assert.Equal(-284, scores.Final);
        Assert.Equal(-284, scores.Best);
    }

    [Fact]
    public void Scores_ARunWithoutAStepZeroPointHasNoOfflineScore()
    {
        // A run from scratch (or an online run) evaluates first after online steps: its first point is not an offline
        // policy's score, and the table said it was.
        using var temp = new TemporaryFolder();
        var run = Run(temp, "s", "sac", 0, null, -900, -700, -500);
        string metrics = Path.Combine(run.Directory, RunFolder.MetricsCsvFile);
        File.WriteAllLines(metrics, File.ReadAllLines(metrics).Where(line => !line.StartsWith("0,", StringComparison.Ordinal)));
        var scores = FineTuneTable.Score(RunFolder.Open(run.Directory))!;
        Assert.Null(scores.Offline);
        Assert.Equal(-700, scores.LowestEarly);
        var rows = FineTuneTable.Build([RunFolder.Open(run.Directory)]);
        Assert.Null(rows[0].Offline);
        Assert.Contains("| Pendulum-v1 | sac | 1 | — | — | -700.0 ± 0.0 | -500.0 ± 0.0 |", FineTuneTable.ToMarkdown(rows));
    }

    [Fact]
    public void ALabelWithAPipeStaysInItsCell()
    {
        using var temp = new TemporaryFolder();
        var info = new RunInfo { Algorithm = "sac", Label = "SAC|ours", Environment = "Pendulum-v1", Seed = 0, Command = "test" };
        var folder = RunFolder.Create(temp.Combine("p"), info, "{}");
        using (var metrics = folder.OpenMetrics(flushToDisk: false)) { metrics.Log(0, LearningCurves.RawReturn, -300); metrics.Flush(0); }
        var run = RunFolder.Open(folder.Directory);
        Assert.Contains("| Pendulum-v1 | SAC\\|ours | 1 |", FineTuneTable.ToMarkdown(FineTuneTable.Build([run])));
        Assert.Contains("| SAC\\|ours | Pendulum-v1 |", RunReport.ToMarkdown(RunReport.Build([run])));
    }

    [Fact]
    public void Build_GroupsSeedsPerMethod_AndBaselinesHaveNoReconstructionScore()
    {
        using var temp = new TemporaryFolder();
        var runs = new[]
        {
            Run(temp, "o0", "o2sac", 0, -300, -400, -380, -200),
            Run(temp, "o1", "o2sac", 1, -320, -420, -390, -180),
            // 11 evaluations: the first two are early, so the dip to −900 counts.
            Run(temp, "n0", "TD3+BC→SAC (naive)", 0, null, -400, -900, -800, -700, -600, -500, -450, -400, -350, -300, -250),
        };
        var rows = FineTuneTable.Build(runs);
        Assert.Equal(2, rows.Count);
        var naive = rows.Single(r => r.Method == "TD3+BC→SAC (naive)");
        var o2sac = rows.Single(r => r.Method == "o2sac");
        Assert.Null(naive.Aligned);
        Assert.Equal(-900, naive.LowestEarly.Mean);
        Assert.Equal(2, o2sac.Seeds);
        Assert.Equal(-310, o2sac.Aligned!.Mean, 9);
        Assert.Equal(-190, o2sac.Final.Mean, 9);
        string markdown = FineTuneTable.ToMarkdown(rows);
        Assert.Contains("| Pendulum-v1 | TD3+BC→SAC (naive) | 1 | -400.0 ± 0.0 | — | -900.0 ± 0.0 | -250.0 ± 0.0 |", markdown);
        string json = FineTuneTable.ToJson(rows);
        // Labels are written as they read, not as \u002B and \u2192.
        Assert.Contains("\"method\": \"TD3+BC→SAC (naive)\"", json);
        using var document = System.Text.Json.JsonDocument.Parse(json);
        var first = document.RootElement.GetProperty("rows")[0];
        Assert.Equal(System.Text.Json.JsonValueKind.Null, first.GetProperty("after_reconstruction").ValueKind);
        Assert.Equal(-250, first.GetProperty("final").GetProperty("mean").GetDouble());
    }
}
