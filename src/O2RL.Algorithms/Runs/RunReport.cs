using System.Globalization;
using System.Text;
using System.Text.Json;

namespace O2RL.Algorithms.Runs;

/// <summary>
/// The scores of one run's evaluation curve (<c>Evaluations</c> points in step order):
/// <list type="bullet">
/// <item><c>Last</c>: the final evaluation.</item>
/// <item><c>Best</c>: the highest evaluation.</item>
/// <item><c>LowestEarly</c>: the lowest of the first ⌈10%⌉ of evaluations (at least one; the step-0 offline score
/// counts), which shows an initial performance drop after the offline-to-online switch.</item>
/// <item><c>Regret</c>: for normalised scores, the mean over all evaluations of (100 − score), i.e. the average
/// shortfall from expert level along the whole curve (lower is better); null for raw returns, which have no
/// common ceiling.</item>
/// </list>
/// </summary>
public sealed record RunScores(RunInfo Info, string Directory, string Metric, int Evaluations, double Last, double Best, double LowestEarly, double? Regret);

/// <summary>Mean and sample standard deviation (0 for one value) of one score across seeds, with the values.</summary>
public sealed record SeedStatistic(double Mean, double Std, IReadOnlyList<double> Values);

/// <summary>One table row: a method on a task, its scores across <c>Seeds</c> runs.</summary>
public sealed record ReportRow(string Method, string Task, string Metric, int Seeds, SeedStatistic Last, SeedStatistic Best,
    SeedStatistic LowestEarly, SeedStatistic? Regret);

/// <summary>The rows, plus the runs that had no evaluations to score.</summary>
public sealed record RunReportResult(IReadOnlyList<ReportRow> Rows, IReadOnlyList<string> SkippedRuns);

/// <summary>Tables over run folders: last, best and lowest early score and regret, per method × task, across seeds.</summary>
public static class RunReport
{
    /// <summary>Share of the first evaluations that <see cref="RunScores.LowestEarly"/> looks at.</summary>
    public const double EarlyFraction = 0.1;

    /// <summary>Expert level of a D4RL-normalised score, the ceiling regret is measured against.</summary>
    public const double NormalizedCeiling = 100;

    /// <summary>Scores one curve (points in any order; sorted by step, a repeated step keeps its last value).</summary>
    public static RunScores Score(RunCurve curve)
    {
        ArgumentNullException.ThrowIfNull(curve);
        if (curve.Points.Count == 0) throw new ArgumentException($"{curve.Directory}: no '{curve.Metric}' values to score", nameof(curve));
        var byStep = new SortedDictionary<long, double>();
        foreach (var (step, value) in curve.Points) byStep[step] = value;
        double[] scores = [.. byStep.Values];
        int early = Math.Max(1, (int)Math.Ceiling(scores.Length * EarlyFraction));
        double? regret = curve.Metric == LearningCurves.NormalizedReturn ? scores.Average(s => NormalizedCeiling - s) : null;
        return new RunScores(curve.Info, curve.Directory, curve.Metric, scores.Length, scores[^1], scores.Max(), scores.Take(early).Min(), regret);
    }

    /// <summary>
    /// Scores every run (<paramref name="metric"/> null: each run's normalised return when it has one, else its
    /// raw return) and groups them by method, task and metric.
    /// </summary>
    public static RunReportResult Build(IReadOnlyList<RunFolder> runs, string? metric = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var scored = new List<RunScores>();
        var skipped = new List<string>();
        foreach (var run in runs)
        {
            var (_, curves) = LearningCurves.Load([run], metric);
            if (curves.Count == 0) skipped.Add(run.Directory);
            else scored.Add(Score(curves[0]));
        }
        var rows = scored
            .GroupBy(s => (s.Info.Method, s.Info.Task, s.Metric))
            .OrderBy(g => g.Key.Task, StringComparer.Ordinal).ThenBy(g => g.Key.Method, StringComparer.Ordinal)
            .Select(g => new ReportRow(g.Key.Method, g.Key.Task, g.Key.Metric, g.Count(),
                Statistic(g.Select(s => s.Last)), Statistic(g.Select(s => s.Best)), Statistic(g.Select(s => s.LowestEarly)),
                g.All(s => s.Regret is not null) ? Statistic(g.Select(s => s.Regret!.Value)) : null))
            .ToList();
        return new RunReportResult(rows, skipped);
    }

    /// <summary>A Markdown table, cells "mean ± std" with one decimal.</summary>
    public static string ToMarkdown(RunReportResult report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        text.AppendLine("| method | task | metric | seeds | last | best | lowest early (first 10%) | regret (100 − score) |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---:|");
        foreach (var row in report.Rows)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Text(row.Method)} | {Text(row.Task)} | {row.Metric} | {row.Seeds} | {Cell(row.Last)} | {Cell(row.Best)} | {Cell(row.LowestEarly)} | {(row.Regret is null ? "n/a" : Cell(row.Regret))} |"));
        foreach (var run in report.SkippedRuns) text.AppendLine().Append("skipped (no evaluations): ").Append(run).AppendLine();
        return text.ToString();
    }

    /// <summary>The same table as JSON: {"rows": [{method, task, metric, seeds, last: {mean, std, values}, ...}], "skipped": [...]}.</summary>
    public static string ToJson(RunReportResult report)
    {
        ArgumentNullException.ThrowIfNull(report);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonFiles.Writer))
        {
            json.WriteStartObject();
            json.WriteStartArray("rows");
            foreach (var row in report.Rows)
            {
                json.WriteStartObject();
                json.WriteString("method", row.Method);
                json.WriteString("task", row.Task);
                json.WriteString("metric", row.Metric);
                json.WriteNumber("seeds", row.Seeds);
                WriteStatistic(json, "last", row.Last);
                WriteStatistic(json, "best", row.Best);
                WriteStatistic(json, "lowest_early", row.LowestEarly);
                if (row.Regret is null) json.WriteNull("regret");
                else WriteStatistic(json, "regret", row.Regret);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("skipped");
            foreach (var run in report.SkippedRuns) json.WriteStringValue(run);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    internal static SeedStatistic Statistic(IEnumerable<double> values)
    {
        double[] array = [.. values];
        double mean = array.Average();
        double std = array.Length > 1 ? MathNet.Numerics.Statistics.Statistics.StandardDeviation(array) : 0;
        return new SeedStatistic(mean, std, array);
    }

    /// <summary>A label as a Markdown table cell: a '|' in it would end the cell.</summary>
    internal static string Text(string value) => value.Replace("|", "\\|", StringComparison.Ordinal);

    internal static string Cell(SeedStatistic s) => string.Create(CultureInfo.InvariantCulture, $"{s.Mean:F1} ± {s.Std:F1}");

    internal static void WriteStatistic(Utf8JsonWriter json, string name, SeedStatistic s)
    {
        json.WriteStartObject(name);
        RunFolder.WriteJsonNumber(json, "mean", s.Mean);
        RunFolder.WriteJsonNumber(json, "std", s.Std);
        json.WriteStartArray("values");
        foreach (var v in s.Values)
        {
            if (double.IsFinite(v)) json.WriteNumberValue(v);
            else json.WriteNullValue();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
