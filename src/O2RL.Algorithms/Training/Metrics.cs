namespace O2RL.Algorithms.Training;

/// <summary>
/// Where training writes scalar metrics, with the RL ecosystem's names (<c>eval/normalized_return</c>,
/// <c>losses/qf_loss</c>, <c>charts/sps</c>, <c>time/update</c> …) against the environment (or gradient) step.
/// </summary>
public interface IMetricsSink
{
    /// <summary>Records one value.</summary>
    void Log(long step, string name, double value);

    /// <summary>Marks the end of a group of values logged at one step (sinks that write rows flush here).</summary>
    void Flush(long step);
}

/// <summary>Keeps every logged value in memory (tests, reports, the demo's table).</summary>
public sealed class MemoryMetrics : IMetricsSink
{
    readonly List<(long Step, string Name, double Value)> rows = [];

    /// <summary>All values in logging order.</summary>
    public IReadOnlyList<(long Step, string Name, double Value)> Rows => rows;

    /// <inheritdoc/>
    public void Log(long step, string name, double value) => rows.Add((step, name, value));

    /// <inheritdoc/>
    public void Flush(long step) { }

    /// <summary>The (step, value) series of one metric.</summary>
    public IReadOnlyList<(long Step, double Value)> Series(string name) =>
        [.. rows.Where(r => r.Name == name).Select(r => (r.Step, r.Value))];

    /// <summary>The last value of a metric, or NaN.</summary>
    public double Last(string name) => rows.LastOrDefault(r => r.Name == name) is var r && r.Name == name ? r.Value : double.NaN;
}

/// <summary>Progress lines for long work: a periodic plain line with rate, ETA and a key metric.</summary>
public sealed class ProgressReporter(TextWriter? output, string label, long total, TimeSpan? interval = null)
{
    readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
    readonly TimeSpan interval = interval ?? TimeSpan.FromSeconds(10);
    TimeSpan? lastPrint;

    /// <summary>Prints a line when the interval has passed (and at the end).</summary>
    public void Report(long done, string? keyMetric = null)
    {
        if (IsDue(done)) Print(done, keyMetric);
    }

    /// <summary>As <see cref="Report(long, string?)"/> with the latest evaluation score (NaN: none yet); the text is
    /// only formatted when a line is printed, so calling this every environment step allocates nothing.</summary>
    public void Report(long done, double evaluationScore)
    {
        if (IsDue(done)) Print(done, double.IsNaN(evaluationScore) ? null : $"eval {evaluationScore:F1}");
    }

    bool IsDue(long done)
    {
        if (output is null) return false;
        return done >= total || lastPrint is not TimeSpan previous || clock.Elapsed - previous >= interval;
    }

    void Print(long done, string? keyMetric)
    {
        var elapsed = clock.Elapsed;
        lastPrint = elapsed;
        double rate = done / Math.Max(elapsed.TotalSeconds, 1e-9);
        var eta = rate > 0 ? TimeSpan.FromSeconds((total - done) / rate) : TimeSpan.Zero;
        output!.WriteLine($"{label}: {done:N0}/{total:N0} ({100.0 * done / Math.Max(total, 1):F0}%) {rate:F0}/s ETA {eta:hh\\:mm\\:ss}{(keyMetric is null ? "" : "  " + keyMetric)}");
    }
}
