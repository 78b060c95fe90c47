using System.Text.Json;
using O2RL.Algorithms.Runs;
using Xunit;

namespace O2RL.Algorithms.Tests.Runs;

/// <summary>The per-seed table: every run's curve by step, a mean row per method, the lowest score after the warm-up.</summary>
public sealed class PerSeedTableTests
{
    /// <summary>A finished run folder; <paramref name="points"/> are (step, score) pairs, config.json carries warmup_steps when given.</summary>
    static RunFolder Run(TemporaryFolder temp, string name, string method, int seed, long? warmupSteps, params (long Step, double Score)[] points)
    {
        var info = new RunInfo { Algorithm = "o2sac", Label = method, Environment = "Pendulum-v1", Seed = seed, Command = "test" };
        string config = warmupSteps is long w ? $"{{\"warmup_steps\": {w}, \"eval_every\": 1000}}" : "{}";
        var folder = RunFolder.Create(temp.Combine(name), info, config);
        using (var metrics = folder.OpenMetrics(flushToDisk: false))
            foreach (var (step, score) in points)
            {
                metrics.Log(step, LearningCurves.RawReturn, score);
                metrics.Flush(step);
            }
        return RunFolder.Open(folder.Directory);
    }

    [Fact]
    public void TheLowestAfterWarmupSkipsThePointsNoOnlineUpdateHasTouched()
    {
        using var temp = new TemporaryFolder();
        // Step 0 is the offline actor, step 1000 the aligned one (the warm-up's end): both lower than anything after.
        var withWarmup = Run(temp, "a", "O2SAC", 0, 1000, (0, -400), (1000, -900), (2000, -700), (3000, -200));
        var withoutWarmup = Run(temp, "b", "PPO", 0, null, (0, -400), (1000, -900), (2000, -700), (3000, -200));
        var curves = PerSeedTable.Build([withWarmup, withoutWarmup]);
        Assert.Equal(1000, curves.Single(c => c.Info.Method == "O2SAC").WarmupSteps);
        Assert.Equal(-700, curves.Single(c => c.Info.Method == "O2SAC").LowestAfterWarmup);
        Assert.Equal(0, curves.Single(c => c.Info.Method == "PPO").WarmupSteps);
        Assert.Equal(-900, curves.Single(c => c.Info.Method == "PPO").LowestAfterWarmup);
        // A run that ends inside its warm-up has no such score.
        var short_ = Run(temp, "c", "SAC", 0, 5000, (0, -400), (1000, -380));
        Assert.Null(PerSeedTable.Build([short_])[0].LowestAfterWarmup);
        Assert.Contains("| SAC, seed 0 | -400.0 | -380.0 | — |", PerSeedTable.ToMarkdown(PerSeedTable.Build([short_])));
    }

    [Fact]
    public void RowsPerSeedThenAMeanRowPerMethod_AMissingStepIsADash()
    {
        using var temp = new TemporaryFolder();
        var runs = new[]
        {
            Run(temp, "o1", "O2SAC", 1, 1000, (0, -300), (1000, -320), (2000, -250), (3000, -150)),
            Run(temp, "o0", "O2SAC", 0, 1000, (0, -500), (1000, -480), (2000, -350), (3000, -250)),
            // The naive run skipped its step-2000 evaluation: its cell and the naive mean there are "—".
            Run(temp, "n0", "naive SAC", 0, 1000, (0, -500), (1000, -500), (3000, -900), (2500, -1000)),
        };
        string markdown = PerSeedTable.ToMarkdown(PerSeedTable.Build(runs));
        string[] lines = markdown.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Pendulum-v1, eval/return, by step:", lines[0]);
        Assert.Equal("| run | 0 | 1k | 2k | 2.5k | 3k | lowest after warm-up |", lines[1]);
        Assert.Equal("|---|---:|---:|---:|---:|---:|---:|", lines[2]);
        // Methods in ordinal order, seeds in order, then the mean rows.
        Assert.Equal("| O2SAC, seed 0 | -500.0 | -480.0 | -350.0 | — | -250.0 | -350.0 |", lines[3]);
        Assert.Equal("| O2SAC, seed 1 | -300.0 | -320.0 | -250.0 | — | -150.0 | -250.0 |", lines[4]);
        Assert.Equal("| naive SAC, seed 0 | -500.0 | -500.0 | — | -1000.0 | -900.0 | -1000.0 |", lines[5]);
        Assert.Equal("| O2SAC, mean of 2 | -400.0 | -400.0 | -300.0 | — | -200.0 | -300.0 |", lines[6]);
        Assert.Equal("| naive SAC, mean of 1 | -500.0 | -500.0 | — | -1000.0 | -900.0 | -1000.0 |", lines[7]);
        Assert.Equal(8, lines.Length);
    }

    [Fact]
    public void EveryNKeepsTheWarmupStepsAndTheMultiplesOfN_TheLowestStillCountsTheHiddenSteps()
    {
        using var temp = new TemporaryFolder();
        var runs = new[]
        {
            // The lowest points after the warm-up (3000 and 5000) fall on steps the 2,000-step columns leave out.
            Run(temp, "o0", "O2TD3", 0, 1000, (0, 40), (1000, 41), (2000, 42), (3000, 30), (4000, 43), (5000, 44), (6000, 45)),
            Run(temp, "n0", "naive TD3", 0, 1000, (0, 40), (1000, 40), (2000, 20), (3000, 25), (4000, 35), (5000, 10), (6000, 44)),
        };
        string[] lines = PerSeedTable.ToMarkdown(PerSeedTable.Build(runs), columnEvery: 2000).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("| run | 0 | 1k | 2k | 4k | 6k | lowest after warm-up |", lines[1]);
        Assert.Equal("| O2TD3, seed 0 | 40.0 | 41.0 | 42.0 | 43.0 | 45.0 | 30.0 |", lines[3]);
        Assert.Equal("| naive TD3, seed 0 | 40.0 | 40.0 | 20.0 | 35.0 | 44.0 | 10.0 |", lines[4]);
        // 0 keeps every column.
        Assert.Contains("| run | 0 | 1k | 2k | 3k | 4k | 5k | 6k | lowest after warm-up |", PerSeedTable.ToMarkdown(PerSeedTable.Build(runs)));
    }

    [Fact]
    public void TwoRunsWithOneSeedKeepApartByFolder_AndJsonCarriesEveryPoint()
    {
        using var temp = new TemporaryFolder();
        var runs = new[]
        {
            Run(temp, "first", "O2SAC", 0, 1000, (0, -300), (1000, -310), (2000, -200)),
            Run(temp, "rerun", "O2SAC", 0, 1000, (0, -300), (1000, -330), (2000, -180)),
        };
        var curves = PerSeedTable.Build(runs);
        string markdown = PerSeedTable.ToMarkdown(curves);
        Assert.Contains("| O2SAC, seed 0 (first) | -300.0 | -310.0 | -200.0 | -200.0 |", markdown);
        Assert.Contains("| O2SAC, seed 0 (rerun) | -300.0 | -330.0 | -180.0 | -180.0 |", markdown);
        using var json = JsonDocument.Parse(PerSeedTable.ToJson(curves));
        var first = json.RootElement.GetProperty("runs")[0];
        Assert.Equal("O2SAC", first.GetProperty("method").GetString());
        Assert.Equal(1000, first.GetProperty("warmup_steps").GetInt64());
        Assert.Equal([0L, 1000L, 2000L], first.GetProperty("steps").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([-300.0, -310.0, -200.0], first.GetProperty("values").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(-200, first.GetProperty("lowest_after_warmup").GetDouble());
    }

    [Theory]
    [InlineData(0, "0")]
    [InlineData(1000, "1k")]
    [InlineData(2500, "2.5k")]
    [InlineData(12000, "12k")]
    [InlineData(20480, "20480")]
    [InlineData(150, "150")]
    [InlineData(200, "200")]
    public void StepLabels(long step, string label) => Assert.Equal(label, PerSeedTable.StepLabel(step));

    [Fact]
    public void AConfigThatIsNotJsonIsNamed()
    {
        using var temp = new TemporaryFolder();
        var run = Run(temp, "bad", "O2SAC", 0, 1000, (0, -300), (1000, -310));
        File.WriteAllText(run.ConfigPath, "{ not json");
        var error = Assert.Throws<InvalidDataException>(() => PerSeedTable.Build([run]));
        Assert.Contains(run.ConfigPath, error.Message);
    }
}
