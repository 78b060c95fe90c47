using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.Tests.Runs;

/// <summary>A temporary folder removed at dispose, and helpers that fill it with run folders.</summary>
sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "o2rl-runs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>A run folder with one flush per evaluation step holding the given metric's values.</summary>
    public RunFolder CreateRun(string name, string algorithm, string environment, string? scoreTaskId, int seed, string metric,
        IReadOnlyList<(long Step, double Value)> evaluations)
    {
        var info = new RunInfo { Algorithm = algorithm, Environment = environment, ScoreTaskId = scoreTaskId, Seed = seed, Command = "test" };
        var folder = RunFolder.Create(Combine(name), info, "{\"seed\": " + seed + "}");
        using var metrics = folder.OpenMetrics(flushToDisk: false);
        foreach (var (step, value) in evaluations)
        {
            metrics.Log(step, "charts/sps", 1000 + step);
            metrics.Log(step, metric, value);
            metrics.Flush(step);
        }
        return folder;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
