using System.Globalization;
namespace O2RL.Algorithms.Runs;

/// <summary>One run's evaluation curve: (step, score) points of one metric.</summary>
public sealed record RunCurve(RunInfo Info, string Directory, string Metric, IReadOnlyList<(long Step, double Value)> Points);

/// <summary>
/// Mean and standard deviation across the seeds of one method at common steps.
/// <c>Steps</c>, <c>Mean</c>, <c>Std</c>: [points]. <c>Std</c> is the sample standard deviation (n − 1), 0 for one seed.
/// </summary>
public sealed record MethodCurve(string Label, long[] Steps, double[] Mean, double[] Std, int Seeds);

/// <summary>Finding run folders, reading their evaluation curves, and averaging them across seeds.</summary>
public static class LearningCurves
{
    /// <summary>D4RL-normalised evaluation score (ALGORITHMS.md §8), the default curve.</summary>
    public const string NormalizedReturn = "eval/normalized_return";

    /// <summary>Raw evaluation return, the fallback when no run has normalised scores.</summary>
    public const string RawReturn = "eval/return";

    /// <summary>
    /// Expands arguments into run folders: a folder holding run.json is one run; any other folder contributes every
    /// run folder below it; '*' and '?' in path segments are matched against folder names. Sorted, duplicates
    /// removed. Throws when an argument matches nothing, naming it.
    /// </summary>
    public static IReadOnlyList<RunFolder> FindRuns(IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var argument in arguments)
        {
            var matches = ExpandWildcards(argument).SelectMany(RunsUnder).ToList();
            if (matches.Count == 0) throw new ArgumentException($"'{argument}' is not a run folder and holds none (no run.json found)");
            found.UnionWith(matches);
        }
        return [.. found.Select(RunFolder.Open)];
    }

    /// <summary>
    /// Reads the curve of <paramref name="metric"/> from every run; with <paramref name="metric"/> null, uses
    /// <see cref="NormalizedReturn"/> when any run has it and <see cref="RawReturn"/> otherwise. Runs without a
    /// single value of the chosen metric are left out. Returns the metric used and the curves.
    /// </summary>
    public static (string Metric, IReadOnlyList<RunCurve> Curves) Load(IReadOnlyList<RunFolder> runs, string? metric = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var metrics = runs.Select(r => (Run: r, Rows: r.ReadMetrics())).ToList();
        string chosen = metric ?? (metrics.Any(m => m.Rows.Any(r => r.Name == NormalizedReturn)) ? NormalizedReturn : RawReturn);
        var curves = metrics
            .Select(m => new RunCurve(m.Run.Info, m.Run.Directory, chosen, [.. m.Rows.Where(r => r.Name == chosen).Select(r => (r.Step, r.Value))]))
            .Where(c => c.Points.Count > 0)
            .ToList();
        return (chosen, curves);
    }

    /// <summary>
    /// Groups curves by method (by "method · task" when they span several tasks) and averages each group on a
    /// common step grid: the union of the runs' steps inside the range every run covers, each run linearly
    /// interpolated there. Runs on one evaluation schedule therefore average exactly at their evaluation steps,
    /// and a group is cut to its shortest run.
    /// </summary>
    public static IReadOnlyList<MethodCurve> Aggregate(IReadOnlyList<RunCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var result = new List<MethodCurve>();
        foreach (var group in ByMethod(curves))
        {
            var series = group.Select(Deduplicate).ToList();
            long from = series.Max(s => s[0].Step), to = series.Min(s => s[^1].Step);
            if (from > to) throw new InvalidOperationException(
                $"the runs of '{group.Key}' share no step range (one ends at step {to}, another starts at {from})");
            long[] steps = [.. series.SelectMany(s => s.Select(p => p.Step)).Where(t => t >= from && t <= to).Distinct().Order()];
            var mean = new double[steps.Length];
            var std = new double[steps.Length];
            var atStep = new double[series.Count];
            for (int i = 0; i < steps.Length; i++)
            {
                for (int r = 0; r < series.Count; r++) atStep[r] = Interpolate(series[r], steps[i]);
                mean[i] = atStep.Average();
                std[i] = series.Count > 1 ? MathNet.Numerics.Statistics.Statistics.StandardDeviation(atStep) : 0;
            }
            result.Add(new MethodCurve(group.Key, steps, mean, std, series.Count));
        }
        return result;
    }

    /// <summary>
    /// One line per group that <see cref="Aggregate"/> cuts to a shorter range than one of its runs covers: the range
    /// drawn and the run that limits it (a group is averaged only where every run has points).
    /// </summary>
    public static IReadOnlyList<string> Cuts(IReadOnlyList<RunCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var lines = new List<string>();
        foreach (var group in ByMethod(curves))
        {
            var series = group.Select(c => (c.Directory, Points: Deduplicate(c))).ToList();
            long from = series.Max(s => s.Points[0].Step), to = series.Min(s => s.Points[^1].Step);
            long longest = series.Max(s => s.Points[^1].Step), earliest = series.Min(s => s.Points[0].Step);
            if (to >= longest && from <= earliest) continue;
            string limiting = series.First(s => s.Points[^1].Step == to).Directory;
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"'{group.Key}' is drawn over steps {from:N0}–{to:N0}, the range all its {series.Count} runs cover ({limiting} ends at {to:N0}; the longest at {longest:N0})"));
        }
        return lines;
    }

    /// <summary>
    /// One line per curve holding NaN or ±∞ (a diverged evaluation, or an edited file): the report shows such a value
    /// in its cells, and a plot leaves the points out (<see cref="WithoutNonFinite"/>) rather than draw nothing.
    /// </summary>
    public static IReadOnlyList<string> NonFinitePoints(IReadOnlyList<RunCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var lines = new List<string>();
        foreach (var curve in curves)
        {
            var bad = curve.Points.Where(p => !double.IsFinite(p.Value)).ToList();
            if (bad.Count == 0) continue;
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{curve.Directory} has {bad.Count} non-finite '{curve.Metric}' value(s), first {bad[0].Value} at step {bad[0].Step:N0}"));
        }
        return lines;
    }

    /// <summary>The curves without their non-finite points (a curve left with none is dropped).</summary>
    public static IReadOnlyList<RunCurve> WithoutNonFinite(IReadOnlyList<RunCurve> curves) =>
        [.. curves.Select(c => c with { Points = [.. c.Points.Where(p => double.IsFinite(p.Value))] }).Where(c => c.Points.Count > 0)];

    /// <summary>The curves of one plotted line: by method, or by "method · task" when the curves span several tasks.</summary>
    static IEnumerable<IGrouping<string, RunCurve>> ByMethod(IReadOnlyList<RunCurve> curves)
    {
        bool severalTasks = curves.Select(c => c.Info.Task).Distinct().Count() > 1;
        return curves.GroupBy(c => severalTasks ? $"{c.Info.Method} · {c.Info.Task}" : c.Info.Method).OrderBy(g => g.Key, StringComparer.Ordinal);
    }

    /// <summary>Sorted by step; a step logged twice keeps its last value.</summary>
    static (long Step, double Value)[] Deduplicate(RunCurve curve)
    {
        var byStep = new SortedDictionary<long, double>();
        foreach (var (step, value) in curve.Points) byStep[step] = value;
        return [.. byStep.Select(p => (p.Key, p.Value))];
    }

    static double Interpolate((long Step, double Value)[] points, long step)
    {
        // Callers keep step inside [first, last], so a bracketing pair always exists.
        int low = 0, high = points.Length - 1;
        while (low <= high)
        {
            int middle = (low + high) / 2;
            if (points[middle].Step == step) return points[middle].Value;
            if (points[middle].Step < step) low = middle + 1; else high = middle - 1;
        }
        int after = low, before = low - 1;
        var (s0, v0) = points[before];
        var (s1, v1) = points[after];
        return v0 + (v1 - v0) * (step - s0) / (double)(s1 - s0);
    }

    static IEnumerable<string> RunsUnder(string directory)
    {
        if (RunFolder.IsRunFolder(directory)) return [Path.GetFullPath(directory)];
        if (!Directory.Exists(directory)) return [];
        return Directory.EnumerateFiles(directory, RunFolder.RunInfoFile, SearchOption.AllDirectories)
            .Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!);
    }

    static IEnumerable<string> ExpandWildcards(string pattern)
    {
        if (pattern.IndexOfAny(['*', '?']) < 0) return [pattern];
        string full = Path.GetFullPath(pattern);
        string root = Path.GetPathRoot(full) ?? "/";
        IEnumerable<string> current = [root];
        foreach (var segment in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = segment.IndexOfAny(['*', '?']) < 0
                ? current.Select(c => Path.Combine(c, segment)).Where(Directory.Exists)
                : current.SelectMany(c => Directory.EnumerateDirectories(c, segment)).ToList();
        }
        return current;
    }
}
