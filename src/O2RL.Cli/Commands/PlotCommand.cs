using O2RL.Algorithms.Runs;

namespace O2RL.Cli.Commands;

/// <summary>
/// <c>o2rl plot RUN_DIR_OR_GLOB... --out curves.png</c>: learning curves of run folders, one line per method with
/// mean ± std across seeds.
/// </summary>
public static class PlotCommand
{
    const string Usage = """
        Usage: o2rl plot RUN_DIR_OR_GLOB... --out FILE.png [--metric NAME] [--title TEXT] [--width PX] [--height PX] [--include-incomplete]

        Plots evaluation curves against environment steps: one line per method (from run.json: label, else
        algorithm/variant and "from <source>", the algorithm of a fine-tuning run's starting policy), the mean across
        its runs (seeds) with a shaded band of ± one standard deviation.
        A folder without run.json contributes every run folder below it; '*' and '?' match folder names.
        A method's curve covers the steps all its runs reach (a note says when that cuts a longer run). Notes also
        name runs left out: unfinished ones (no summary.json) and ones without the plotted metric.
          --include-incomplete   plot unfinished runs as they stand
          --out      PNG file to write (required)
          --metric   metric to plot (default eval/normalized_return, or eval/return when no run has normalised scores)
          --title    plot title (default: the metric)
          --width, --height   image size in pixels (900 × 560)
        Text is drawn with DejaVu Sans (package fonts-dejavu-core); without it the command fails and says so.
        Exit codes: 0 ok, 1 failure, 2 bad arguments.
        """;

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Contains("--help") || args.Contains("-h")) { output.WriteLine(Usage); return 0; }
        // Bad arguments (exit 2) and unreadable runs or an unwritable output (exit 1) go to the dispatcher, which
        // names the command the way every other command does.
        var reader = new ArgumentReader(args, ["out", "metric", "title", "width", "height"], ["include-incomplete"]);
        if (reader.Positionals.Count == 0) throw new UsageException("give at least one run folder (o2rl plot --help)");
        string outPath = reader.Get("out") ?? throw new UsageException("--out FILE.png is required");
        int width = reader.GetInt("width", 900, 100, 8000), height = reader.GetInt("height", 560, 100, 8000);
        string? metric = reader.Get("metric");

        if (ReportCommand.SelectRuns(reader, "plot", notes: output, error) is not { } runs) return 1;
        var (chosen, curves) = LearningCurves.Load(runs, metric);
        var plotted = curves.Select(c => c.Directory).ToHashSet(StringComparer.Ordinal);
        var without = runs.Where(r => !plotted.Contains(r.Directory)).Select(r => r.Directory).ToList();
        if (curves.Count > 0 && without.Count > 0)
            output.WriteLine($"note: left out {without.Count} run(s) without '{chosen}': {string.Join(", ", without)} (plot them apart, or choose --metric)");
        if (curves.Count == 0)
        {
            error.WriteLine($"o2rl plot: none of the {runs.Count} run(s) has logged '{chosen}' yet");
            return 1;
        }
        if (metric is null && chosen == LearningCurves.RawReturn)
            output.WriteLine($"note: no run has {LearningCurves.NormalizedReturn}; plotting {LearningCurves.RawReturn}");
        foreach (string line in LearningCurves.NonFinitePoints(curves))
            output.WriteLine($"note: {line}; those points are left out of the plot");
        curves = LearningCurves.WithoutNonFinite(curves);
        if (curves.Count == 0)
        {
            error.WriteLine($"o2rl plot: no finite '{chosen}' value to plot");
            return 1;
        }
        var methods = LearningCurves.Aggregate(curves);
        foreach (var cut in LearningCurves.Cuts(curves))
            output.WriteLine($"note: {cut}");
        string yLabel = chosen switch
        {
            LearningCurves.NormalizedReturn => "normalised score (D4RL)",
            LearningCurves.RawReturn => "evaluation return",
            _ => chosen,
        };
        CurvePlot.Render(methods, outPath, reader.Get("title") ?? chosen, yLabel, width, height);
        output.WriteLine($"wrote {outPath}: {methods.Count} method(s), {curves.Count} run(s), metric {chosen}");
        return 0;
    }
}
