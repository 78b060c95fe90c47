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
}
