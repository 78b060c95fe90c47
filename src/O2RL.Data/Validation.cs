using System.Text;
using static System.FormattableString;

namespace O2RL.Data;

/// <summary>How serious a dataset problem is.</summary>
public enum IssueSeverity
{
    /// <summary>Suspicious but loadable (non-finite values, flags on the same row, out-of-bounds actions, no timeouts key). Fails only in strict mode.</summary>
    Warning,
    /// <summary>The dataset cannot be used (missing keys, wrong ranks, row-count or dimension mismatches, unreadable data).</summary>
    Error,
}

/// <summary>One problem found in a dataset: which file, which key, which row (when it is about one row).</summary>
/// <param name="Severity">Warning or error.</param>
/// <param name="File">File name (or a description of the in-memory source).</param>
/// <param name="Key">HDF5 key, e.g. "actions".</param>
/// <param name="Row">Row index, when the problem is about one row.</param>
/// <param name="Message">What is wrong, with the offending values.</param>
public sealed record ValidationIssue(IssueSeverity Severity, string File, string Key, long? Row, string Message)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{(Severity == IssueSeverity.Error ? "error" : "warning")}: {File}: key '{Key}'{(Row is long r ? $" row {r}" : "")}: {Message}";
}

/// <summary>What to check on load. Dimensions and bounds are plain numbers so no environment class is needed.</summary>
public sealed record ValidationOptions
{
    /// <summary>Expected obs_dim, or null to accept the file's.</summary>
    public int? ObservationDim { get; init; }

    /// <summary>Expected act_dim, or null to accept the file's.</summary>
    public int? ActionDim { get; init; }

    /// <summary>Lower action bounds: one value per action dimension (or one value for all), or null for no check.</summary>
    public float[]? ActionLow { get; init; }

    /// <summary>Upper action bounds: one value per action dimension (or one value for all), or null for no check.</summary>
    public float[]? ActionHigh { get; init; }

    /// <summary>Strict mode: warnings fail the validation too.</summary>
    public bool Strict { get; init; }

    /// <summary>At most this many single-row messages per (check, key); the rest are counted in one summary message.</summary>
    public int MaxRowMessagesPerCheck { get; init; } = 10;

    /// <summary>D4RL's action box [−1, 1]^d.</summary>
    public static ValidationOptions UnitActionBox(int? observationDim = null, int? actionDim = null, bool strict = false) => new()
    {
        ObservationDim = observationDim,
        ActionDim = actionDim,
        ActionLow = [-1f],
        ActionHigh = [1f],
        Strict = strict,
    };
}

/// <summary>All problems found in one dataset, with a summary.</summary>
public sealed class ValidationReport
{
    readonly List<ValidationIssue> issues = [];

    /// <summary>A report about <paramref name="file"/>.</summary>
    public ValidationReport(string file, bool strict)
    {
        File = file;
        Strict = strict;
    }

    /// <summary>The file (or source) validated.</summary>
    public string File { get; }

    /// <summary>Whether warnings fail.</summary>
    public bool Strict { get; }

    /// <summary>Every issue, in the order found.</summary>
    public IReadOnlyList<ValidationIssue> Issues => issues;

    /// <summary>Number of errors.</summary>
    public int ErrorCount => issues.Count(i => i.Severity == IssueSeverity.Error);

    /// <summary>Number of warnings.</summary>
    public int WarningCount => issues.Count(i => i.Severity == IssueSeverity.Warning);

    /// <summary>True when there are no errors, and in strict mode no warnings.</summary>
    public bool Passed => ErrorCount == 0 && (!Strict || WarningCount == 0);

    /// <summary>Records an issue.</summary>
    public void Add(IssueSeverity severity, string key, long? row, string message) =>
        issues.Add(new ValidationIssue(severity, File, key, row, message));

    /// <summary>One line per issue, then a summary line.</summary>
    public string Summary()
    {
        var text = new StringBuilder();
        foreach (var issue in issues) text.AppendLine(issue.ToString());
        text.Append($"{File}: {(Passed ? "passed" : "FAILED")} with {ErrorCount} error(s) and {WarningCount} warning(s){(Strict ? " (strict)" : "")}");
        return text.ToString();
    }
}

/// <summary>Thrown when a dataset fails validation on load; carries the whole report.</summary>
public sealed class DatasetValidationException(ValidationReport report)
    : Exception($"dataset {report.File} failed validation:{Environment.NewLine}{report.Summary()}")
{
    /// <summary>The validation report.</summary>
    public ValidationReport Report { get; } = report;
}

/// <summary>Content checks on a loaded dataset (the reader adds the structural ones: keys, ranks, row counts).</summary>
public static class DatasetValidator
{
    /// <summary>Validates a dataset in memory against the options, appending to <paramref name="report"/>.</summary>
    public static void CheckContents(TransitionDataset dataset, ValidationOptions options, ValidationReport report)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(report);
        int limit = Math.Max(0, options.MaxRowMessagesPerCheck);

        if (options.ObservationDim is int od && od != dataset.ObservationDim)
            report.Add(IssueSeverity.Error, "observations", null, $"has {dataset.ObservationDim} columns but the environment has {od} observation dimensions");
        if (options.ActionDim is int ad && ad != dataset.ActionDim)
            report.Add(IssueSeverity.Error, "actions", null, $"has {dataset.ActionDim} columns but the environment has {ad} action dimensions");

        CheckFinite(dataset.Observations, dataset.ObservationDim, "observations", limit, report);
        CheckFinite(dataset.Actions, dataset.ActionDim, "actions", limit, report);
        CheckFinite(dataset.Rewards, 1, "rewards", limit, report);
        if (dataset.NextObservations is not null)
            CheckFinite(dataset.NextObservations, dataset.ObservationDim, "next_observations", limit, report);

        if (dataset.Timeouts is null)
            report.Add(IssueSeverity.Warning, "timeouts", null, "key is missing; time-limit ends will be inferred from a step counter");
        else
        {
            var rows = new RowCollector(report, IssueSeverity.Warning, "timeouts", limit, "rows have terminals and timeouts both set");
            for (int i = 0; i < dataset.RowCount; i++)
                if (dataset.Terminals[i] && dataset.Timeouts[i])
                    rows.Add(i, "terminals and timeouts are both set (a step is either a termination or a truncation)");
            rows.Finish();
        }

        if (options.ActionLow is not null || options.ActionHigh is not null)
            CheckBounds(dataset, options, limit, report);
    }

    static void CheckFinite(float[] values, int cols, string key, int limit, ValidationReport report)
    {
        // An error, not a warning: a NaN reward or observation would reach the replay buffers and the normaliser and
        // surface thousands of updates later as a diverged loss.
        var rows = new RowCollector(report, IssueSeverity.Error, key, limit, "rows have non-finite values");
        for (long k = 0; k < values.Length; k++)
        {
            if (float.IsFinite(values[k])) continue;
            long row = k / cols;
            rows.Add(row, cols == 1 ? Invariant($"value {values[k]} is not finite") : Invariant($"value {values[k]} in column {k % cols} is not finite"));
            k = (row + 1) * cols - 1; // one message per row
        }
        rows.Finish();
    }

    static void CheckBounds(TransitionDataset d, ValidationOptions o, int limit, ValidationReport report)
    {
        float[] low = ExpandBounds(o.ActionLow, d.ActionDim, float.NegativeInfinity, "ActionLow");
        float[] high = ExpandBounds(o.ActionHigh, d.ActionDim, float.PositiveInfinity, "ActionHigh");
        var rows = new RowCollector(report, IssueSeverity.Warning, "actions", limit, "rows have actions outside the bounds");
        for (int i = 0; i < d.RowCount; i++)
        {
            var a = d.Action(i);
            for (int j = 0; j < a.Length; j++)
            {
                // NaN is reported by the finiteness check, not here.
                if (a[j] < low[j] || a[j] > high[j])
                {
                    rows.Add(i, Invariant($"value {a[j]} in column {j} is outside [{low[j]}, {high[j]}]"));
                    break;
                }
            }
        }
        rows.Finish();
    }

    static float[] ExpandBounds(float[]? bounds, int dim, float none, string name)
    {
        if (bounds is null) return Enumerable.Repeat(none, dim).ToArray();
        if (bounds.Length == 1) return Enumerable.Repeat(bounds[0], dim).ToArray();
        if (bounds.Length != dim) throw new ArgumentException($"{name} has {bounds.Length} values but the dataset has {dim} action dimensions");
        return bounds;
    }

    /// <summary>Reports the first few offending rows one by one and the rest as a count.</summary>
    sealed class RowCollector(ValidationReport report, IssueSeverity severity, string key, int limit, string summary)
    {
        long count;
        long firstUnlisted = -1;

        public void Add(long row, string message)
        {
            if (count < limit) report.Add(severity, key, row, message);
            else if (firstUnlisted < 0) firstUnlisted = row;
            count++;
        }

        public void Finish()
        {
            if (count > limit)
                report.Add(severity, key, firstUnlisted, $"{count - limit} more {summary} (from this row on; {count} in all)");
        }
    }
}
