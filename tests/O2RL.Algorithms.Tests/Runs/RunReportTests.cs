using Xunit;
using System.Text.Json;
using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.Tests.Runs;

public class RunReportTests
{
    // Eleven evaluations (steps 0 … 10,000): the first ⌈10% of 11⌉ = 2 count as early. Sum = 778.
    static readonly double[] Seed0 = [50, 40, 45, 60, 70, 80, 75, 90, 85, 95, 88];

    static RunReportResult BuildFixture(TemporaryFolder temp)
    {
        temp.CreateRun("o2sac-0", "o2sac", "Hopper-v2", "hopper-medium-v2", 0, LearningCurves.NormalizedReturn,
            [.. Seed0.Select((s, i) => ((long)i * 1000, s))]);
        temp.CreateRun("o2sac-1", "o2sac", "Hopper-v2", "hopper-medium-v2", 1, LearningCurves.NormalizedReturn,
            [.. Seed0.Select((s, i) => ((long)i * 1000, s + 10))]);
        temp.CreateRun("sac-0", "sac", "Pendulum-v1", null, 0, LearningCurves.RawReturn, [(0, -1200), (1000, -800), (2000, -300)]);
        RunFolder.Create(temp.Combine("empty"), new RunInfo { Algorithm = "td3", Environment = "Hopper-v2" }, "{}");
        return RunReport.Build(LearningCurves.FindRuns([temp.Path]));
    }

    [Fact]
    public void Build_ComputesScoresByHand()
    {
        using var temp = new TemporaryFolder();
        var report = BuildFixture(temp);
        Assert.Equal(2, report.Rows.Count);
        Assert.EndsWith("empty", Assert.Single(report.SkippedRuns));

        // Rows are ordered by task, then method (ordinal: "Pendulum-v1" sorts before "hopper-medium-v2").
        var pendulum = report.Rows[0];
        var hopper = report.Rows[1];
        Assert.Equal(("o2sac", "hopper-medium-v2", LearningCurves.NormalizedReturn, 2), (hopper.Method, hopper.Task, hopper.Metric, hopper.Seeds));
        double spread = Math.Sqrt(50); // two seeds 10 apart: sample std = sqrt((5² + 5²) / 1)
        Assert.Equal([88.0, 98], hopper.Last.Values);
        Assert.Equal(93, hopper.Last.Mean, 12);
        Assert.Equal(spread, hopper.Last.Std, 12);
        Assert.Equal(100, hopper.Best.Mean, 12);   // 95 and 105
        Assert.Equal(45, hopper.LowestEarly.Mean, 12); // min(50, 40) and min(60, 50)
        Assert.NotNull(hopper.Regret);
        Assert.Equal(100 - 778 / 11.0, hopper.Regret.Values[0], 12);
        Assert.Equal(100 - 888 / 11.0, hopper.Regret.Values[1], 12);
        Assert.Equal(spread, hopper.Regret.Std, 12);

        Assert.Equal(("sac", "Pendulum-v1", LearningCurves.RawReturn, 1), (pendulum.Method, pendulum.Task, pendulum.Metric, pendulum.Seeds));
        Assert.Equal(-300, pendulum.Last.Mean);
        Assert.Equal(0, pendulum.Last.Std);
        Assert.Equal(-300, pendulum.Best.Mean);
        Assert.Equal(-1200, pendulum.LowestEarly.Mean); // ⌈10% of 3⌉ = 1: only the first evaluation
        Assert.Null(pendulum.Regret);
    }

    [Fact]
    public void Markdown_And_Json_ShowTheSameNumbers()
    {
        using var temp = new TemporaryFolder();
        var report = BuildFixture(temp);
        string markdown = RunReport.ToMarkdown(report);
        Assert.Contains("| o2sac | hopper-medium-v2 | eval/normalized_return | 2 | 93.0 ± 7.1 | 100.0 ± 7.1 | 45.0 ± 7.1 | 24.3 ± 7.1 |", markdown);
        Assert.Contains("| sac | Pendulum-v1 | eval/return | 1 | -300.0 ± 0.0 | -300.0 ± 0.0 | -1200.0 ± 0.0 | n/a |", markdown);
        Assert.Contains("skipped (no evaluations):", markdown);

        using var json = JsonDocument.Parse(RunReport.ToJson(report));
        var rows = json.RootElement.GetProperty("rows");
        Assert.Equal(2, rows.GetArrayLength());
        Assert.Equal(93, rows[1].GetProperty("last").GetProperty("mean").GetDouble(), 12);
        Assert.Equal(45, rows[1].GetProperty("lowest_early").GetProperty("mean").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, rows[0].GetProperty("regret").ValueKind);
        Assert.Equal(1, json.RootElement.GetProperty("skipped").GetArrayLength());
    }
}
