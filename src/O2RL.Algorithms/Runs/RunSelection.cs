using System.Globalization;
using System.Text.Json;

namespace O2RL.Algorithms.Runs;

/// <summary>The runs a table or plot should pool, and what the caller should be told about the choice.</summary>
/// <param name="Runs">The runs to report.</param>
/// <param name="Notes">One line each: runs left out, and groups whose runs differ in more than their seed.</param>
public sealed record RunSelection(IReadOnlyList<RunFolder> Runs, IReadOnlyList<string> Notes);

/// <summary>
/// Guards the pooling of <c>report</c> and <c>plot</c>, which treat the runs of one method on one task as seeds:
/// a run that never finished (no summary.json: stopped, diverged or still going) would put its last evaluation
/// before the stop in the "final" column, and runs of another budget, width or learning rate, or a seed counted twice,
/// would be averaged as if they were seeds of one experiment.
/// </summary>
public static class RunSelections
{
    /// <summary>
    /// Leaves out unfinished runs (unless <paramref name="includeIncomplete"/>) and notes every method × task group
    /// whose runs share a seed or differ in a config.json setting.
    /// </summary>
    public static RunSelection Select(IReadOnlyList<RunFolder> runs, bool includeIncomplete)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var notes = new List<string>();
        var kept = new List<RunFolder>();
        var unfinished = new List<string>();
        foreach (var run in runs)
        {
            if (File.Exists(run.SummaryPath)) { kept.Add(run); continue; }
            long? reached = run.ReadMetrics().Select(r => (long?)r.Step).Max();
            unfinished.Add(reached is long step ? $"{run.Directory} (step {step.ToString("N0", CultureInfo.InvariantCulture)})" : run.Directory);
            if (includeIncomplete) kept.Add(run);
        }
        if (unfinished.Count > 0)
            notes.Add(includeIncomplete
                ? $"{unfinished.Count} run(s) have not finished (no {RunFolder.SummaryFile}) and are reported as they stand: {string.Join(", ", unfinished)}"
                : $"left out {unfinished.Count} run(s) that have not finished (no {RunFolder.SummaryFile}: stopped, diverged or still running): " +
                  $"{string.Join(", ", unfinished)}; --include-incomplete reports them as they stand");

        foreach (var group in kept.GroupBy(r => (r.Info.Method, r.Info.Task)).OrderBy(g => g.Key.Task, StringComparer.Ordinal).ThenBy(g => g.Key.Method, StringComparer.Ordinal))
        {
            var members = group.ToList();
            if (members.Count < 2) continue;
            string what = $"{group.Key.Method} on {group.Key.Task}";
            foreach (var seed in members.GroupBy(r => r.Info.Seed).Where(s => s.Count() > 1))
                notes.Add($"{what}: seed {seed.Key} appears in {seed.Count()} runs ({string.Join(", ", seed.Select(r => r.Directory))}), each counted as a seed");
            var settings = members.Select(r => (Run: r, Config: ReadConfig(r))).ToList();
            var keys = settings.SelectMany(s => s.Config.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            var differing = new List<string>();
            foreach (string key in keys)
            {
                var values = settings.Select(s => s.Config.TryGetValue(key, out var v) ? v : "(absent)").ToList();
                if (values.Distinct(StringComparer.Ordinal).Count() < 2) continue;
                differing.Add($"{key} ({string.Join(" / ", values.Distinct(StringComparer.Ordinal))})");
            }
            if (differing.Count > 0)
                notes.Add($"{what} pools {members.Count} runs whose settings differ: {string.Join(", ", differing)}");
        }
        return new RunSelection(kept, notes);
    }

    /// <summary>The top-level settings of config.json as compact JSON text (empty when the run has none).</summary>
    static Dictionary<string, string> ReadConfig(RunFolder run)
    {
        string path = Path.Combine(run.Directory, RunFolder.ConfigFile);
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path)) return settings;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (document.RootElement.ValueKind != JsonValueKind.Object) return settings;
            // A "seed" key (none of ours has one; run.json keeps the seed) would differ by design.
            foreach (var property in document.RootElement.EnumerateObject().Where(p => p.Name != "seed"))
                settings[property.Name] = JsonSerializer.Serialize(property.Value);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e);
        }
        return settings;
    }
}
