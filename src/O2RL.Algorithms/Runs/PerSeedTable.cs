using System.Globalization;
using System.Text;
using System.Text.Json;

namespace O2RL.Algorithms.Runs;

/// <summary>
/// One run's evaluation curve (points in step order, a repeated step keeping its last value) and its lowest score once
/// online updates have begun: the lowest point at a step past <see cref="WarmupSteps"/> (config.json's
/// <c>warmup_steps</c>, 0 for a run without one). A fine-tuning run's first points measure policies no online update
/// has touched (step 0 the offline actor, the warm-up's end the aligned one), so a collapse caused by the online
/// updates shows in this column and not in theirs. Null when no evaluation lies past the warm-up.
/// </summary>
public sealed record SeedCurve(RunInfo Info, string Directory, string Metric, IReadOnlyList<(long Step, double Value)> Points,
    long WarmupSteps, double? LowestAfterWarmup);

/// <summary>
/// The per-seed table of the evidence files: one row per run with its score at every evaluation step, and one mean
/// row per method × task, so that a drop which the across-seed cells average away can be seen seed by seed.
/// </summary>
public static class PerSeedTable
{
    /// <summary>The config.json key whose value ends the steps without online updates.</summary>
    public const string WarmupKey = "warmup_steps";

    /// <summary>
    /// One curve per run with evaluations (<paramref name="metric"/> null: each run's normalised return when it has
    /// one, else its raw return), ordered by task, method, seed and folder.
    /// </summary>
    public static IReadOnlyList<SeedCurve> Build(IReadOnlyList<RunFolder> runs, string? metric = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var curves = new List<SeedCurve>();
        foreach (var run in runs)
        {
            var (chosen, loaded) = LearningCurves.Load([run], metric);
            if (loaded.Count == 0 || loaded[0].Points.Count == 0) continue;
            var byStep = new SortedDictionary<long, double>();
            foreach (var (step, value) in loaded[0].Points) byStep[step] = value;
            long warmup = WarmupSteps(run);
            double[] online = [.. byStep.Where(p => p.Key > warmup).Select(p => p.Value)];
            curves.Add(new SeedCurve(run.Info, run.Directory, chosen, [.. byStep.Select(p => (p.Key, p.Value))], warmup,
                online.Length > 0 ? online.Min() : null));
        }
        return [.. curves.OrderBy(c => c.Info.Task, StringComparer.Ordinal).ThenBy(c => c.Info.Method, StringComparer.Ordinal)
            .ThenBy(c => c.Info.Seed).ThenBy(c => c.Directory, StringComparer.Ordinal)];
    }

    /// <summary>config.json's <c>warmup_steps</c> (0 when the file or the key is missing, or not a whole number).</summary>
    static long WarmupSteps(RunFolder run)
    {
        if (!File.Exists(run.ConfigPath)) return 0;
        try
        {
            using var config = JsonDocument.Parse(File.ReadAllText(run.ConfigPath));
            return config.RootElement.ValueKind == JsonValueKind.Object
                   && config.RootElement.TryGetProperty(WarmupKey, out var value)
                   && value.TryGetInt64(out long steps) && steps > 0 ? steps : 0;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{run.ConfigPath}: not valid JSON ({ex.Message})", ex);
        }
    }

    /// <summary>
    /// Markdown: per task a line naming it and the metric, then a table whose columns are every evaluation step of
    /// its runs ("—" where a run has no point), a row per run ("method, seed N") and a mean row per method; the last
    /// column is the lowest score past the warm-up (the mean row: the mean of the runs' lowest).
    /// <paramref name="columnEvery"/> &gt; 0 keeps fewer columns, for long runs: the steps up to the end of the
    /// task's longest warm-up (the offline and aligned policies) and the multiples of <paramref name="columnEvery"/>.
    /// The lowest column still looks at every evaluation, shown or not.
    /// </summary>
    public static string ToMarkdown(IReadOnlyList<SeedCurve> curves, long columnEvery = 0)
    {
        ArgumentNullException.ThrowIfNull(curves);
        ArgumentOutOfRangeException.ThrowIfNegative(columnEvery);
        var text = new StringBuilder();
        foreach (var task in curves.GroupBy(c => (c.Info.Task, c.Metric)))
        {
            long warmup = task.Max(c => c.WarmupSteps);
            long[] steps = [.. task.SelectMany(c => c.Points.Select(p => p.Step)).Distinct().Order()
                .Where(step => columnEvery == 0 || step <= warmup || step % columnEvery == 0)];
            if (text.Length > 0) text.AppendLine();
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{RunReport.Text(task.Key.Task)}, {task.Key.Metric}, by step:"));
            text.AppendLine();
            text.Append("| run | ").AppendJoin(" | ", steps.Select(StepLabel)).AppendLine(" | lowest after warm-up |");
            text.Append("|---|").Append(string.Concat(Enumerable.Repeat("---:|", steps.Length + 1))).AppendLine();
            var methods = task.GroupBy(c => c.Info.Method).ToList();
            foreach (var method in methods)
            {
                // Two runs of one method with the same seed (a re-run beside the original) keep apart by folder name.
                var repeated = method.GroupBy(c => c.Info.Seed).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
                foreach (var curve in method)
                {
                    var values = curve.Points.ToDictionary(p => p.Step, p => p.Value);
                    string name = $"{method.Key}, seed {curve.Info.Seed}" + (repeated.Contains(curve.Info.Seed) ? $" ({Path.GetFileName(curve.Directory)})" : "");
                    Row(text, name, steps.Select(s => values.TryGetValue(s, out double v) ? v : (double?)null), curve.LowestAfterWarmup);
                }
            }
            foreach (var method in methods)
            {
                var byStep = method.Select(c => c.Points.ToDictionary(p => p.Step, p => p.Value)).ToList();
                var means = steps.Select(s => byStep.All(v => v.ContainsKey(s)) ? byStep.Average(v => v[s]) : (double?)null);
                double? lowest = method.All(c => c.LowestAfterWarmup is not null) ? method.Average(c => c.LowestAfterWarmup!.Value) : null;
                Row(text, $"{method.Key}, mean of {method.Count()}", means, lowest);
            }
        }
        return text.ToString();
    }

    static void Row(StringBuilder text, string name, IEnumerable<double?> values, double? lowest)
    {
        text.Append("| ").Append(RunReport.Text(name)).Append(" | ");
        text.AppendJoin(" | ", values.Append(lowest).Select(v => v is double x ? x.ToString("F1", CultureInfo.InvariantCulture) : "—"));
        text.AppendLine(" |");
    }

    /// <summary>A step as a column header: 1k, 2.5k, 12k; a step under 1,000 or not a whole hundred as it is (0, 200, 20480).</summary>
    internal static string StepLabel(long step) =>
        step < 1000 || step % 100 != 0 ? step.ToString(CultureInfo.InvariantCulture)
            : (step / 1000.0).ToString("0.#", CultureInfo.InvariantCulture) + "k";

    /// <summary>JSON: {"runs": [{task, method, seed, directory, metric, warmup_steps, steps: [...], values: [...], lowest_after_warmup}]}.</summary>
    public static string ToJson(IReadOnlyList<SeedCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonFiles.Writer))
        {
            json.WriteStartObject();
            json.WriteStartArray("runs");
            foreach (var curve in curves)
            {
                json.WriteStartObject();
                json.WriteString("task", curve.Info.Task);
                json.WriteString("method", curve.Info.Method);
                json.WriteNumber("seed", curve.Info.Seed);
                json.WriteString("directory", curve.Directory);
                json.WriteString("metric", curve.Metric);
                json.WriteNumber("warmup_steps", curve.WarmupSteps);
                json.WriteStartArray("steps");
                foreach (var (step, _) in curve.Points) json.WriteNumberValue(step);
                json.WriteEndArray();
                json.WriteStartArray("values");
                foreach (var (_, value) in curve.Points)
                {
                    if (double.IsFinite(value)) json.WriteNumberValue(value);
                    else json.WriteNullValue();
                }
                json.WriteEndArray();
                if (curve.LowestAfterWarmup is double lowest) RunFolder.WriteJsonNumber(json, "lowest_after_warmup", lowest);
                else json.WriteNull("lowest_after_warmup");
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
