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

/// <summary>
/// Progress of long work (environment or gradient steps) with rate, ETA and a key metric, in one of two forms:
/// on an interactive terminal one bar redrawn in place with <c>\r</c> at most every 0.1 s; elsewhere (redirected
/// output, CI logs) a plain line every 10 s. The first report and the end are always shown.
/// </summary>
public sealed class ProgressReporter
{
    /// <summary>Characters of the bar between the brackets.</summary>
    public const int BarWidth = 24;
    readonly TextWriter? output;
    readonly string label;
    readonly long total, startedAt;
    readonly bool redraw;
    readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
    readonly TimeSpan interval;
    TimeSpan? lastPrint;
    int lastWidth;
    bool lineOpen, finished;

    /// <summary>
    /// Reports to <paramref name="output"/> (null: silent). <paramref name="redrawInPlace"/> chooses the bar (true) or
    /// plain lines (false); null decides by whether <paramref name="output"/> is a <see cref="TerminalWriter"/>.
    /// <paramref name="interval"/> defaults to 0.1 s for the bar and 10 s for lines. <paramref name="startedAt"/> is
    /// the count already done when this reporter starts (a resumed run), so the rate counts only new work.
    /// </summary>
    public ProgressReporter(TextWriter? output, string label, long total, TimeSpan? interval = null, bool? redrawInPlace = null, long startedAt = 0)
    {
        this.output = output;
        this.label = label;
        this.total = total;
        this.startedAt = startedAt;
        redraw = redrawInPlace ?? output is TerminalWriter;
        this.interval = interval ?? (redraw ? TimeSpan.FromSeconds(0.1) : TimeSpan.FromSeconds(10));
    }

    /// <summary>Whether this reporter redraws a bar in place.</summary>
    public bool RedrawsInPlace => redraw;

    /// <summary>Prints when the interval has passed (and at the first report and the end).</summary>
    public void Report(long done, string? keyMetric = null)
    {
        if (IsDue(done)) Print(done, keyMetric);
    }

    /// <summary>As <see cref="Report(long, string?)"/> with the latest evaluation score (NaN: none yet); the text is
    /// only formatted when it is printed, so calling this every environment step allocates nothing.</summary>
    public void Report(long done, double evaluationScore)
    {
        if (IsDue(done)) Print(done, double.IsNaN(evaluationScore) ? null : $"eval {evaluationScore:F1}");
    }

    /// <summary>Ends an open bar line (work stopped early: an error, a cancellation) so later output starts on a new line.</summary>
    public void Close()
    {
        if (lineOpen) output!.WriteLine();
        lineOpen = false;
        finished = true;
    }

    bool IsDue(long done)
    {
        if (output is null || finished) return false;
        return done >= total || lastPrint is not TimeSpan previous || clock.Elapsed - previous >= interval;
    }

    void Print(long done, string? keyMetric)
    {
        var elapsed = clock.Elapsed;
        lastPrint = elapsed;
        double rate = (done - startedAt) / Math.Max(elapsed.TotalSeconds, 1e-9);
        var eta = rate > 0 ? TimeSpan.FromSeconds(Math.Min((total - done) / rate, TimeSpan.MaxValue.TotalSeconds / 2)) : TimeSpan.Zero;
        double fraction = Math.Clamp((double)done / Math.Max(total, 1), 0, 1);
        string etaText = eta.TotalHours >= 100 ? ">99h" : $"{(int)eta.TotalHours:00}:{eta.Minutes:00}:{eta.Seconds:00}";
        string metric = keyMetric is null ? "" : "  " + keyMetric;
        if (!redraw)
        {
            output!.WriteLine($"{label}: {done:N0}/{total:N0} ({100 * fraction:F0}%) {rate:F0}/s ETA {etaText}{metric}");
            return;
        }
        int filled = (int)Math.Round(fraction * BarWidth);
        string text = $"{label} [{new string('#', filled)}{new string('.', BarWidth - filled)}] {100 * fraction,3:F0}% {done:N0}/{total:N0} {rate:F0}/s ETA {etaText}{metric}";
        // Pad over the previous, longer text so no stale characters remain after the carriage return.
        int width = text.Length;
        if (width < lastWidth) text += new string(' ', lastWidth - width);
        lastWidth = width;
        output!.Write('\r');
        output.Write(text);
        lineOpen = true;
        if (done >= total) Close();
        else output.Flush();
    }
}

/// <summary>
/// Marks a writer as an interactive terminal (the CLI wraps standard output in it when it is not redirected), so
/// <see cref="ProgressReporter"/> draws a bar in place instead of printing lines.
/// </summary>
public sealed class TerminalWriter(TextWriter inner) : TextWriter
{
    /// <inheritdoc/>
    public override System.Text.Encoding Encoding => inner.Encoding;

    /// <inheritdoc/>
    public override IFormatProvider FormatProvider => inner.FormatProvider;

    /// <inheritdoc/>
    public override void Write(char value) => inner.Write(value);

    /// <inheritdoc/>
    public override void Write(string? value) => inner.Write(value);

    /// <inheritdoc/>
    public override void WriteLine(string? value) => inner.WriteLine(value);

    /// <inheritdoc/>
    public override void WriteLine() => inner.WriteLine();

    /// <inheritdoc/>
    public override void Flush() => inner.Flush();
}
