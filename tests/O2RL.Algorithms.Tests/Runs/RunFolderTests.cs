using Xunit;
using System.Text.Json;
using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.Tests.Runs;

public class RunFolderTests
{
    static RunInfo Info(int seed = 3) => new() { Algorithm = "o2sac", Environment = "Hopper-v2", Dataset = "medium", ScoreTaskId = "hopper-medium-v2", Seed = seed, Command = "o2rl finetune" };

    [Fact]
    public void Create_WritesRunInfoConfigAndFolders_AndRefusesASecondRun()
    {
        using var temp = new TemporaryFolder();
        var folder = RunFolder.Create(temp.Combine("run"), Info(), "{\"batch_size\": 256}");
        Assert.Equal("{\"batch_size\": 256}", File.ReadAllText(folder.ConfigPath));
        Assert.True(Directory.Exists(folder.CheckpointsDirectory));
        Assert.True(Directory.Exists(folder.StagesDirectory));
        var reopened = RunFolder.Open(temp.Combine("run"));
        Assert.Equal("o2sac", reopened.Info.Algorithm);
        Assert.Equal("hopper-medium-v2", reopened.Info.Task);
        Assert.Equal(3, reopened.Info.Seed);
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Directory, "run.json"))))
        {
            Assert.Equal("Hopper-v2", json.RootElement.GetProperty("environment").GetString());
            // The build that made the run: the version, and the commit when built from a git checkout.
            string build = json.RootElement.GetProperty("library_version").GetString()!;
            Assert.Equal(O2RL.Engine.BuildInfo.Version, build);
            Assert.StartsWith("0.1.0", build);
        }
        var ex = Assert.Throws<IOException>(() => RunFolder.Create(temp.Combine("run"), Info(), "{}"));
        Assert.Contains("already holds a run", ex.Message);
    }

    [Fact]
    public void Metrics_AreWrittenAsCsvJsonLinesAndTensorBoard()
    {
        using var temp = new TemporaryFolder();
        var folder = RunFolder.Create(temp.Combine("run"), Info(), "{}");
        using (var metrics = folder.OpenMetrics())
        {
            metrics.Log(0, "eval/normalized_return", 45.5);
            metrics.Flush(0);
            metrics.Log(1000, "losses/qf_loss", 0.25);
            metrics.Log(1000, "charts/sps", 812);
            metrics.Log(1000, "losses/qf_loss", 0.125); // logged twice before a flush: the last value wins
            metrics.Log(1000, "eval/return", double.NaN);
            metrics.Flush(1000);
            Assert.Equal(0.125, metrics.LastValues["losses/qf_loss"]);
        }
        Assert.Equal(
            "step,name,value\n0,eval/normalized_return,45.5\n1000,losses/qf_loss,0.125\n1000,charts/sps,812\n1000,eval/return,NaN\n",
            File.ReadAllText(folder.MetricsCsvPath));
        Assert.Equal(
            "{\"step\":0,\"eval/normalized_return\":45.5}\n{\"step\":1000,\"losses/qf_loss\":0.125,\"charts/sps\":812,\"eval/return\":null}\n",
            File.ReadAllText(folder.MetricsJsonlPath));
        var scalars = TensorBoardEventReader.ReadScalars(Assert.Single(folder.EventFiles()));
        Assert.Equal(
            [(0L, "eval/normalized_return", 45.5f), (1000L, "losses/qf_loss", 0.125f), (1000L, "charts/sps", 812f)],
            scalars.Where(s => !float.IsNaN(s.Value)).Select(s => (s.Step, s.Tag, s.Value)));
        Assert.Equal([(0L, 45.5), (1000L, double.NaN)], folder.ReadSeries("eval/normalized_return").Concat(folder.ReadSeries("eval/return")));
    }

    [Fact]
    public void MetricNames_WithCommasAreRejected()
    {
        using var temp = new TemporaryFolder();
        using var metrics = RunFolder.Create(temp.Combine("run"), Info(), "{}").OpenMetrics(flushToDisk: false);
        var ex = Assert.Throws<ArgumentException>(() => metrics.Log(1, "losses/a,b", 1));
        Assert.Contains("losses/a,b", ex.Message);
    }

    /// <summary>The same values at every step in both runs: flushes every 50 steps, evaluations every 100.</summary>
    static void LogSteps(RunFolderMetrics metrics, long from, long to)
    {
        for (long step = from; step <= to; step += 50)
        {
            metrics.Log(step, "charts/sps", 1000 + step * 0.5);
            metrics.Log(step, "losses/qf_loss", 1.0 / (step + 1));
            if (step % 100 == 0) metrics.Log(step, "eval/normalized_return", step / 10.0);
            metrics.Flush(step);
        }
    }

    [Fact]
    public void ResumeFromCheckpoint_ReproducesAnUninterruptedRunExactly()
    {
        using var temp = new TemporaryFolder();
        var straight = RunFolder.Create(temp.Combine("straight"), Info(), "{}");
        using (var metrics = straight.OpenMetrics(flushToDisk: false)) LogSteps(metrics, 0, 300);

        var crashed = RunFolder.Create(temp.Combine("crashed"), Info(), "{}");
        using (var metrics = crashed.OpenMetrics(flushToDisk: false)) LogSteps(metrics, 0, 300);
        // The kill lands mid-append: a torn CSV line, a torn JSON line and half an event record.
        File.AppendAllText(crashed.MetricsCsvPath, "350,charts/s");
        File.AppendAllText(crashed.MetricsJsonlPath, "{\"step\":350,\"cha");
        var eventFile = Assert.Single(crashed.EventFiles());
        File.AppendAllText(eventFile, "\x10\0\0\0\0\0");
        AtomicFile.WriteAllBytes(crashed.CheckpointPath(200), [0]);
        AtomicFile.WriteAllBytes(crashed.CheckpointPath(100), [0]);

        var resumed = RunFolder.OpenForResume(temp.Combine("crashed"));
        Assert.Equal(200, resumed.ResumedFromStep);
        Assert.Equal(200, resumed.ReadMetrics().Max(r => r.Step));
        using (var metrics = resumed.OpenMetrics(flushToDisk: false)) LogSteps(metrics, 250, 300);

        Assert.Equal(File.ReadAllText(straight.MetricsCsvPath), File.ReadAllText(resumed.MetricsCsvPath));
        Assert.Equal(File.ReadAllText(straight.MetricsJsonlPath), File.ReadAllText(resumed.MetricsJsonlPath));
        // TensorBoard: the merged old file plus a new one, together the same scalars once each.
        Assert.Equal(2, resumed.EventFiles().Count);
        static List<(long, string, float)> Scalars(RunFolder f) =>
            [.. f.EventFiles().SelectMany(p => TensorBoardEventReader.ReadScalars(p)).Select(s => (s.Step, s.Tag, s.Value))];
        Assert.Equal(Scalars(straight), Scalars(resumed));

        // A second crash right after resuming, then resuming again, still neither loses nor duplicates rows.
        var again = RunFolder.OpenForResume(temp.Combine("crashed"), 250);
        Assert.Single(again.EventFiles());
        using (var metrics = again.OpenMetrics(flushToDisk: false)) LogSteps(metrics, 300, 300);
        Assert.Equal(File.ReadAllText(straight.MetricsCsvPath), File.ReadAllText(again.MetricsCsvPath));
        Assert.Equal(Scalars(straight), Scalars(again));
    }

    [Fact]
    public void ResumeKeepingSelectedMetrics_KeepsTheirRowsAtEveryStepInAllThreeFiles()
    {
        // A fine-tuning run: an offline stage logs steps 100…400 on its own axis, then the online loop starts at 0.
        static void Stage(RunFolderMetrics metrics)
        {
            for (long step = 100; step <= 400; step += 100)
            {
                metrics.Log(step, "stage/a_qf_loss", 1.0 / step);
                metrics.Flush(step);
            }
        }
        using var temp = new TemporaryFolder();
        var straight = RunFolder.Create(temp.Combine("straight"), Info(), "{}");
        using (var metrics = straight.OpenMetrics(flushToDisk: false)) { Stage(metrics); LogSteps(metrics, 0, 300); }

        var crashed = RunFolder.Create(temp.Combine("crashed"), Info(), "{}");
        using (var metrics = crashed.OpenMetrics(flushToDisk: false)) { Stage(metrics); LogSteps(metrics, 0, 300); }
        File.AppendAllText(crashed.MetricsJsonlPath, "{\"step\":350,\"cha");
        var resumed = RunFolder.OpenForResume(crashed.Directory, 150, name => name.StartsWith("stage/", StringComparison.Ordinal));
        Assert.Equal([100L, 200, 300, 400], resumed.ReadSeries("stage/a_qf_loss").Select(p => p.Step));
        Assert.All(resumed.ReadMetrics(), r => Assert.True(r.Step <= 150 || r.Name == "stage/a_qf_loss", r.ToString()));
        using (var metrics = resumed.OpenMetrics(flushToDisk: false)) LogSteps(metrics, 200, 300);

        Assert.Equal(File.ReadAllText(straight.MetricsCsvPath), File.ReadAllText(resumed.MetricsCsvPath));
        Assert.Equal(File.ReadAllText(straight.MetricsJsonlPath), File.ReadAllText(resumed.MetricsJsonlPath));
        static List<(long, string, float)> Scalars(RunFolder f) =>
            [.. f.EventFiles().SelectMany(p => TensorBoardEventReader.ReadScalars(p)).Select(s => (s.Step, s.Tag, s.Value))];
        Assert.Equal(Scalars(straight).Order(), Scalars(resumed).Order());
    }

    [Fact]
    public void OpeningMetricsAfterATornWrite_WithoutResuming_IsRefused()
    {
        using var temp = new TemporaryFolder();
        var folder = RunFolder.Create(temp.Combine("run"), Info(), "{}");
        using (var metrics = folder.OpenMetrics(flushToDisk: false)) LogSteps(metrics, 0, 50);
        File.AppendAllText(folder.MetricsCsvPath, "100,charts/s");
        var ex = Assert.Throws<InvalidDataException>(() => folder.OpenMetrics());
        Assert.Contains("OpenForResume", ex.Message);
        using (RunFolder.OpenForResume(folder.Directory, 50).OpenMetrics()) { }
    }

    [Fact]
    public void ResumeWithoutCheckpoint_StartsTheMetricsOver()
    {
        using var temp = new TemporaryFolder();
        var folder = RunFolder.Create(temp.Combine("run"), Info(), "{}");
        using (var metrics = folder.OpenMetrics(flushToDisk: false)) LogSteps(metrics, 0, 100);
        folder.WriteSummary(100, new Dictionary<string, double> { ["eval/normalized_return"] = 10 });
        var resumed = RunFolder.OpenForResume(folder.Directory);
        Assert.Equal(-1, resumed.ResumedFromStep);
        Assert.Empty(resumed.ReadMetrics());
        Assert.Equal("step,name,value\n", File.ReadAllText(resumed.MetricsCsvPath));
        Assert.Equal("", File.ReadAllText(resumed.MetricsJsonlPath));
        Assert.False(File.Exists(resumed.SummaryPath));
    }

    [Fact]
    public void Checkpoints_LatestIsTheHighestStep_AndSummaryHoldsLastValues()
    {
        using var temp = new TemporaryFolder();
        var folder = RunFolder.Create(temp.Combine("run"), Info(), "{}");
        Assert.Null(folder.LatestCheckpoint());
        foreach (long step in new long[] { 5000, 100000, 20000 }) AtomicFile.WriteAllBytes(folder.CheckpointPath(step), [1]);
        var latest = folder.LatestCheckpoint();
        Assert.Equal(100000, latest?.Step);
        Assert.EndsWith(Path.Combine("checkpoints", "step_0000100000.safetensors"), latest?.Path);
        Assert.EndsWith(Path.Combine("stages", "stage-a.safetensors"), folder.StageCachePath("stage-a"));
        Assert.Throws<ArgumentException>(() => folder.StageCachePath("../x"));

        using (var metrics = folder.OpenMetrics(flushToDisk: false))
        {
            LogSteps(metrics, 0, 200);
            folder.WriteSummary(200, metrics.LastValues, wallSeconds: 1.5, sessions: 2);
        }
        using var summary = JsonDocument.Parse(File.ReadAllText(folder.SummaryPath));
        Assert.Equal(200, summary.RootElement.GetProperty("final_step").GetInt64());
        Assert.Equal(1.5, summary.RootElement.GetProperty("wall_seconds").GetDouble());
        Assert.Equal(2, summary.RootElement.GetProperty("sessions").GetInt32());
        // Text is written as it reads: the time's "+00:00" and the build's "0.1.0+commit", not \u002B.
        Assert.EndsWith("+00:00", summary.RootElement.GetProperty("completed_utc").GetString());
        Assert.Contains("+00:00\"", File.ReadAllText(folder.SummaryPath));
        Assert.DoesNotContain("\\u002B", File.ReadAllText(folder.SummaryPath));
        Assert.DoesNotContain("\\u002B", File.ReadAllText(Path.Combine(folder.Directory, RunFolder.RunInfoFile)));
        Assert.Equal("o2sac", summary.RootElement.GetProperty("method").GetString());
        Assert.Equal(20.0, summary.RootElement.GetProperty("last").GetProperty("eval/normalized_return").GetDouble());
        Assert.Equal(1100.0, summary.RootElement.GetProperty("last").GetProperty("charts/sps").GetDouble());
    }
}
