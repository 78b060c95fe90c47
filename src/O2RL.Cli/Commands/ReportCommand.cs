using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.Runs;

namespace O2RL.Cli.Commands;

/// <summary><c>o2rl report RUN_DIRS... [--json] [--out FILE]</c>: score tables over run folders.</summary>
public static class ReportCommand
{
    const string Usage = """
        Usage: o2rl report RUN_DIR_OR_GLOB... [--json] [--out FILE] [--metric NAME] [--finetune | --per-seed [--every N]] [--include-incomplete]

        One row per method × task (method: run.json's label, else algorithm/variant and "from <source>", the
        algorithm of a fine-tuning run's starting policy), each cell mean ± std across the runs (seeds):
          last           the final evaluation score
          best           the highest evaluation score
          lowest early   the lowest score among the first 10% of evaluations (rounded up, step 0 included)
          regret         mean over all evaluations of (100 − score) for D4RL-normalised scores; n/a for raw returns
        Scores are eval/normalized_return where a run has it, else eval/return (or --metric NAME for every run).
        A folder without run.json contributes every run folder below it; '*' and '?' match folder names.
        Runs that have not finished (no summary.json) are left out and named; a note names any group whose runs
        share a seed or differ in a config.json setting (they are still pooled as seeds).
          --include-incomplete   report unfinished runs as they stand (their last evaluation counts as "last")
          --finetune   the fine-tuning table instead: offline score (step 0) → after reconstruction (stages A–B)
                       → lowest early → final → best, per method × task
          --per-seed   every run's score at every evaluation step instead (a row per run, "method, seed N", and
                       a mean row per method; a table per task), with each run's lowest score after its warm-up
                       (config.json warmup_steps, else after step 0): a drop once online updates began, seed by seed
          --every N    with --per-seed, fewer columns for long runs: the steps up to the end of the warm-up and every
                       multiple of N (the lowest column still counts every evaluation; --json keeps every point)
          --json   JSON instead of a Markdown table
          --out    write to FILE instead of standard output
        Exit codes: 0 ok, 1 failure, 2 bad arguments.
        """;

    /// <summary>
    /// The run folders the positionals name, less the unfinished ones unless --include-incomplete (report and plot
    /// share this); each note goes to <paramref name="notes"/>. Null, after an error line, when none is left.
    /// </summary>
    internal static IReadOnlyList<RunFolder>? SelectRuns(ArgumentReader reader, string command, TextWriter notes, TextWriter error)
    {
        IReadOnlyList<RunFolder> runs;
        try { runs = LearningCurves.FindRuns(reader.Positionals); }
        catch (ArgumentException ex) { throw new UsageException(ex.Message); }
        var selection = RunSelections.Select(runs, reader.Has("include-incomplete"));
        foreach (string note in selection.Notes) notes.WriteLine($"note: {note}");
        if (selection.Runs.Count > 0) return selection.Runs;
        error.WriteLine($"o2rl {command}: none of the {runs.Count} run(s) has finished; --include-incomplete takes them as they stand");
        return null;
    }

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Contains("--help") || args.Contains("-h")) { output.WriteLine(Usage); return 0; }
        // Bad arguments (exit 2) and unreadable runs or an unwritable output (exit 1) go to the dispatcher, which
        // names the command the way every other command does.
        var reader = new ArgumentReader(args, ["out", "metric", "every"], ["json", "finetune", "per-seed", "include-incomplete"]);
        if (reader.Positionals.Count == 0) throw new UsageException("give at least one run folder (o2rl report --help)");
        if (reader.Has("finetune") && reader.Has("per-seed")) throw new UsageException("--finetune and --per-seed are two different tables: give one");
        if (reader.Has("every") && !reader.Has("per-seed")) throw new UsageException("--every picks the columns of the --per-seed table: give --per-seed too");
        int columnEvery = reader.GetInt("every", 0, min: 1);
        if (SelectRuns(reader, "report", notes: error, error) is not { } runs) return 1;
        // Each run's own curve (its own metric choice, as the tables score it), read once for both notes.
        var curves = runs.SelectMany(r => LearningCurves.Load([r], reader.Get("metric")).Curves).ToList();
        foreach (string line in LearningCurves.NonFinitePoints(curves))
            error.WriteLine($"note: {line}; its cells show it (\"best\" skips NaN)");
        // ⌈10 %⌉ of ≤ 10 evaluations is one point: "lowest early" is then the first point alone (the offline score of a
        // fine-tuning run), and a dip right after the switch to online cannot show in that column.
        int coarse = curves.Count(c => c.Points.Select(p => p.Step).Distinct().Count() <= 10);
        if (coarse > 0 && !reader.Has("per-seed"))
            error.WriteLine($"note: {coarse} of {runs.Count} run(s) have 10 evaluations or fewer, so their \"lowest early\" is their first evaluation alone; " +
                "a drop just after it shows only in the curves (o2rl plot) or with more evaluations");
        string text;
        int rowCount;
        if (reader.Has("per-seed"))
        {
            var seedCurves = PerSeedTable.Build(runs, reader.Get("metric"));
            rowCount = seedCurves.Count;
            text = reader.Has("json") ? PerSeedTable.ToJson(seedCurves) : PerSeedTable.ToMarkdown(seedCurves, columnEvery);
        }
        else if (reader.Has("finetune"))
        {
            var rows = FineTuneTable.Build(runs, reader.Get("metric"));
            rowCount = rows.Count;
            text = reader.Has("json") ? FineTuneTable.ToJson(rows) : FineTuneTable.ToMarkdown(rows);
        }
        else
        {
            var report = RunReport.Build(runs, reader.Get("metric"));
            rowCount = report.Rows.Count;
            text = reader.Has("json") ? RunReport.ToJson(report) : RunReport.ToMarkdown(report);
        }
        if (rowCount == 0)
        {
            error.WriteLine($"o2rl report: none of the {runs.Count} run(s) has evaluations to report");
            return 1;
        }
        if (reader.Get("out") is string path)
        {
            AtomicFile.WriteAllText(path, text);
            output.WriteLine($"wrote {path}: {rowCount} row(s) from {runs.Count} run(s)");
        }
        else output.Write(text);
        return 0;
    }
}
