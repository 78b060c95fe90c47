namespace O2RL.Algorithms.FineTuning;

/// <summary>
/// How fine-tuning runs lay out their metrics on one run folder: the offline stages (A, B) log on their own step
/// axes (1 … their step count) under names of their own, then the curve starts at step 0 (offline score) and the
/// online stage C logs at its environment steps. Stage rows therefore share step numbers with stage C rows but
/// never a name.
/// </summary>
public static class FineTuneMetrics
{
    /// <summary>
    /// Whether a metric belongs to the offline stages (<c>stage/…</c> losses, <c>time/stage_…</c> timings). Once stage C
    /// has a checkpoint these rows are complete and a resume does not log them again, so truncating a run folder to
    /// that checkpoint's step keeps them (<see cref="Runs.RunFolder.OpenForResume(string, long, Func{string, bool})"/>).
    /// </summary>
    public static bool IsOfflineStageMetric(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.StartsWith("stage/", StringComparison.Ordinal) || name.StartsWith("time/stage_", StringComparison.Ordinal);
    }

    /// <summary>
    /// The rows of the offline stages that a run folder has finished, for a resume with no stage-C checkpoint: stage A
    /// is finished when <c>stage-a.safetensors</c> or <c>stage-b.safetensors</c> exists, stage B when
    /// <c>stage-b.safetensors</c> does. The run continues after its last finished stage and logs only what follows,
    /// so these rows (<c>stage/a_…</c>, <c>time/stage_a_…</c> and the same for b) are kept and the rest dropped; the
    /// rows of a stage that was interrupted are logged again from its start.
    /// </summary>
    public static Func<string, bool> FinishedStageMetrics(string runDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(runDirectory);
        bool stageB = File.Exists(Path.Combine(runDirectory, "stage-b.safetensors"));
        bool stageA = stageB || File.Exists(Path.Combine(runDirectory, "stage-a.safetensors"));
        var finished = new List<string>();
        if (stageA) finished.Add("a");
        if (stageB) finished.Add("b");
        string[] prefixes = [.. finished.SelectMany(x => new[] { $"stage/{x}_", $"time/stage_{x}_" })];
        return name => prefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal));
    }
}
