using System.Globalization;
using System.Text;
using System.Text.Json;
using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.FineTuning;

/// <summary>
/// One fine-tuning run's story in four numbers: the offline policy's score (the curve's step-0 point, measured before
/// any online step, §8; null for a run without one, e.g. from scratch or online, whose first point is already online), the score after optimistic critic reconstruction (stages A–B; absent for baselines and PPO),
/// the lowest score among the first 10% of evaluations (an initial collapse shows here) and the final score.
/// </summary>
public sealed record FineTuneScores(RunInfo Info, string Directory, string Metric, double? Offline, double? Aligned, double LowestEarly, double Final, double Best);

/// <summary>A method on a task across seeds.</summary>
public sealed record FineTuneRow(string Method, string Task, string Metric, int Seeds, SeedStatistic? Offline, SeedStatistic? Aligned,
    SeedStatistic LowestEarly, SeedStatistic Final, SeedStatistic Best);

/// <summary>The table of issue "OCR-CFT … evidence": offline → after reconstruction → lowest early → final, per method and task.</summary>
public static class FineTuneTable
{
    /// <summary>The offline actor's raw score, logged at step 0 by every fine-tuning run.</summary>
    public const string OfflineScore = "eval/offline_score";
    /// <summary>The aligned actor's raw score after stage B.</summary>
    public const string AlignedScore = "eval/aligned_score";
    /// <summary>The aligned actor's normalised score after stage B (tasks with reference scores).</summary>
    public const string AlignedNormalizedScore = "eval/aligned_normalized_score";

    /// <summary>Scores one run on <paramref name="metric"/> (null: normalised return when present, else raw return).</summary>
    public static FineTuneScores? Score(RunFolder run, string? metric = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (chosen, curves) = LearningCurves.Load([run], metric);
        if (curves.Count == 0) return null;
        var scores = RunReport.Score(curves[0]);
        var rows = run.ReadMetrics();
        var byStep = new SortedDictionary<long, double>();
        foreach (var (step, value) in curves[0].Points) byStep[step] = value;
        double? offline = byStep.TryGetValue(0, out double atStart) ? atStart : null;
        string alignedName = chosen == LearningCurves.NormalizedReturn ? AlignedNormalizedScore : AlignedScore;
        double? aligned = rows.Where(r => r.Name == alignedName).Select(r => (double?)r.Value).LastOrDefault();
        return new FineTuneScores(run.Info, run.Directory, chosen, offline, aligned, scores.LowestEarly, scores.Last, scores.Best);
    }

    /// <summary>Scores every run and groups by method and task (runs with no evaluations are left out).</summary>
    public static IReadOnlyList<FineTuneRow> Build(IReadOnlyList<RunFolder> runs, string? metric = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return [.. runs.Select(r => Score(r, metric)).OfType<FineTuneScores>()
            .GroupBy(s => (s.Info.Task, s.Info.Method, s.Metric))
            .OrderBy(g => g.Key.Task, StringComparer.Ordinal).ThenBy(g => g.Key.Method, StringComparer.Ordinal)
            .Select(g => new FineTuneRow(g.Key.Method, g.Key.Task, g.Key.Metric, g.Count(),
                g.All(s => s.Offline is not null) ? RunReport.Statistic(g.Select(s => s.Offline!.Value)) : null,
                g.All(s => s.Aligned is not null) ? RunReport.Statistic(g.Select(s => s.Aligned!.Value)) : null,
                RunReport.Statistic(g.Select(s => s.LowestEarly)), RunReport.Statistic(g.Select(s => s.Final)), RunReport.Statistic(g.Select(s => s.Best))))];
    }

    /// <summary>A Markdown table, cells "mean ± std" over seeds.</summary>
    public static string ToMarkdown(IReadOnlyList<FineTuneRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var text = new StringBuilder();
        text.AppendLine("| task | method | seeds | offline | after reconstruction | lowest early (first 10%) | final | best |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {RunReport.Text(row.Task)} | {RunReport.Text(row.Method)} | {row.Seeds} | {(row.Offline is null ? "—" : RunReport.Cell(row.Offline))} | {(row.Aligned is null ? "—" : RunReport.Cell(row.Aligned))} | {RunReport.Cell(row.LowestEarly)} | {RunReport.Cell(row.Final)} | {RunReport.Cell(row.Best)} |"));
        return text.ToString();
    }

    /// <summary>The same rows as JSON: {"rows": [{task, method, metric, seeds, offline: {mean, std, values}, aligned, lowest_early, final, best}]}.</summary>
    public static string ToJson(IReadOnlyList<FineTuneRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonFiles.Writer))
        {
            json.WriteStartObject();
            json.WriteStartArray("rows");
            foreach (var row in rows)
            {
                json.WriteStartObject();
                json.WriteString("task", row.Task);
                json.WriteString("method", row.Method);
                json.WriteString("metric", row.Metric);
                json.WriteNumber("seeds", row.Seeds);
                if (row.Offline is null) json.WriteNull("offline");
                else RunReport.WriteStatistic(json, "offline", row.Offline);
                if (row.Aligned is null) json.WriteNull("after_reconstruction");
                else RunReport.WriteStatistic(json, "after_reconstruction", row.Aligned);
                RunReport.WriteStatistic(json, "lowest_early", row.LowestEarly);
                RunReport.WriteStatistic(json, "final", row.Final);
                RunReport.WriteStatistic(json, "best", row.Best);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
