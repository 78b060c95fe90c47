using System.Globalization;
using System.Text;
using System.Text.Json;

namespace O2RL.Algorithms.Runs;

/// <summary>One logged value as read back from <c>metrics.csv</c>.</summary>
public readonly record struct MetricRow(long Step, string Name, double Value);

/// <summary>
/// A run directory and its layout:
/// <code>
/// run.json                           what made the run (<see cref="RunInfo"/>)
/// config.json                        the resolved config
/// metrics.csv                        long format "step,name,value", one row per value
/// metrics.jsonl                      one JSON object per flushed step: {"step": 1000, "eval/return": 3012.5, ...}
/// events.out.tfevents.SECONDS.o2rl   TensorBoard scalars (tensorboard --logdir on the folder or its parent)
/// checkpoints/step_0000001000.safetensors
/// stages/NAME.safetensors            stage caches (e.g. the agent after stage A or B)
/// wall_time.json                     the wall time of every session of the run so far (<see cref="RunWallTime"/>)
/// summary.json                       written when the run completes
/// </code>
/// Whole-file writes (run.json, config.json, summary.json, checkpoints, stage caches, resume rewrites) go through
/// <see cref="AtomicFile"/>. Metrics are appended and flushed to disk at every <see cref="RunFolderMetrics.Flush"/>;
/// a kill mid-append leaves at most a torn last line or record, which every reader here ignores and resume drops.
/// <para>
/// Long format rather than wide: new metric names can appear at any point (losses only after warm-up, evaluation
/// only every few thousand steps) without rewriting a header, and a torn line loses one value, not one step.
/// </para>
/// <para>
/// Resume contract: steps logged in one folder never decrease (one step axis per run), and a checkpoint for step
/// S is saved only after every value of step S has been flushed. Then <see cref="OpenForResume(string, long)"/>
/// keeps exactly the rows with step ≤ S, and replaying from the checkpoint re-logs steps &gt; S once.
/// </para>
/// </summary>
public sealed class RunFolder
{
    /// <summary>File names inside a run folder.</summary>
    public const string RunInfoFile = "run.json", ConfigFile = "config.json", MetricsCsvFile = "metrics.csv",
        MetricsJsonlFile = "metrics.jsonl", SummaryFile = "summary.json", CheckpointsFolder = "checkpoints", StagesFolder = "stages",
        BestPolicyFile = "best_policy.safetensors", BestPolicyInfoFile = "best_policy.json";

    /// <summary>First line of metrics.csv.</summary>
    public const string CsvHeader = "step,name,value";

    /// <summary>File name parts of the step checkpoints (<c>step_NNNNNNNNNN.safetensors</c>) and of the policy files beside them (<c>policy_…</c>).</summary>
    internal const string CheckpointPrefix = "step_", PolicyPrefix = "policy_", CheckpointExtension = ".safetensors";

    RunFolder(string directory, RunInfo info, long? resumedFromStep)
    {
        Directory = directory;
        Info = info;
        ResumedFromStep = resumedFromStep;
    }

    /// <summary>The run directory (full path).</summary>
    public string Directory { get; }

    /// <summary>What made the run.</summary>
    public RunInfo Info { get; }

    /// <summary>The checkpoint step this folder was reopened at (-1 = from the start); null when not resumed.</summary>
    public long? ResumedFromStep { get; }

    /// <summary>Path of config.json.</summary>
    public string ConfigPath => Path.Combine(Directory, ConfigFile);
    /// <summary>Path of metrics.csv.</summary>
    public string MetricsCsvPath => Path.Combine(Directory, MetricsCsvFile);
    /// <summary>Path of metrics.jsonl.</summary>
    public string MetricsJsonlPath => Path.Combine(Directory, MetricsJsonlFile);
    /// <summary>Path of summary.json.</summary>
    public string SummaryPath => Path.Combine(Directory, SummaryFile);
    /// <summary>Folder of step checkpoints.</summary>
    public string CheckpointsDirectory => Path.Combine(Directory, CheckpointsFolder);
    /// <summary>Folder of stage caches.</summary>
    public string StagesDirectory => Path.Combine(Directory, StagesFolder);

    /// <summary>
    /// Creates a run folder (the directory may exist but must not hold a run yet) and writes run.json and the
    /// resolved config (<paramref name="resolvedConfigJson"/>, any JSON text).
    /// </summary>
    public static RunFolder Create(string directory, RunInfo info, string resolvedConfigJson)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(resolvedConfigJson);
        string full = Path.GetFullPath(directory);
        if (File.Exists(Path.Combine(full, RunInfoFile)))
            throw new IOException($"{full} already holds a run (run.json exists); resume it (--resume) or choose another folder");
        System.IO.Directory.CreateDirectory(full);
        System.IO.Directory.CreateDirectory(Path.Combine(full, CheckpointsFolder));
        System.IO.Directory.CreateDirectory(Path.Combine(full, StagesFolder));
        AtomicFile.WriteAllText(Path.Combine(full, ConfigFile), resolvedConfigJson);
        // run.json last: its presence marks a complete folder.
        AtomicFile.WriteAllText(Path.Combine(full, RunInfoFile), info.ToJson());
        return new RunFolder(full, info, null);
    }

    /// <summary>Opens an existing run folder for reading (plot, report).</summary>
    public static RunFolder Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string full = Path.GetFullPath(directory);
        string infoPath = Path.Combine(full, RunInfoFile);
        if (!File.Exists(infoPath)) throw new FileNotFoundException($"{full} is not a run folder (no {RunInfoFile})", infoPath);
        return new RunFolder(full, RunInfo.Parse(File.ReadAllText(infoPath), infoPath), null);
    }

    /// <summary>Whether <paramref name="directory"/> holds a run (has run.json).</summary>
    public static bool IsRunFolder(string directory) => File.Exists(Path.Combine(directory, RunInfoFile));

    /// <summary>Reopens a run at its latest checkpoint (or from the start, dropping all metrics, when there is none).</summary>
    public static RunFolder OpenForResume(string directory)
    {
        var probe = Open(directory);
        return OpenForResume(directory, probe.LatestCheckpoint()?.Step ?? -1);
    }

    /// <summary>
    /// Reopens a run to continue from the checkpoint of <paramref name="lastCheckpointStep"/> (-1: from the
    /// start): metrics.csv and metrics.jsonl keep exactly their complete rows with step ≤ that step (rewritten
    /// atomically), and every TensorBoard event file is merged into one holding only events with step ≤ that step
    /// (the last value wins for a repeated step and tag). New events then go to a fresh event file; TensorBoard
    /// reads all files of a folder in name order, so the curves continue without duplicates. summary.json, if
    /// any, is removed since the run is no longer complete.
    /// </summary>
    public static RunFolder OpenForResume(string directory, long lastCheckpointStep) => OpenForResume(directory, lastCheckpointStep, static _ => false);

    /// <summary>
    /// As <see cref="OpenForResume(string, long)"/>, but values of the metrics <paramref name="keptAtAnyStep"/>
    /// selects stay whatever their step. A fine-tuning run logs its finished offline stages on their own step axes
    /// (names under <c>stage/</c>) before the online loop starts at step 0 again: those rows are complete once an
    /// online checkpoint exists and are not logged again on resume, so they must survive the truncation.
    /// </summary>
    public static RunFolder OpenForResume(string directory, long lastCheckpointStep, Func<string, bool> keptAtAnyStep)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lastCheckpointStep, -1);
        ArgumentNullException.ThrowIfNull(keptAtAnyStep);
        var folder = Open(directory);
        bool Kept(long step, string name) => step <= lastCheckpointStep || keptAtAnyStep(name);
        TruncateCsv(folder.MetricsCsvPath, Kept);
        TruncateJsonl(folder.MetricsJsonlPath, lastCheckpointStep, Kept);
        TruncateEvents(folder.Directory, Kept);
        if (File.Exists(folder.SummaryPath)) File.Delete(folder.SummaryPath);
        return new RunFolder(folder.Directory, folder.Info, lastCheckpointStep);
    }

    /// <summary>Opens the metrics sink that appends to this folder's CSV, JSONL and a new TensorBoard file.</summary>
    public RunFolderMetrics OpenMetrics(bool flushToDisk = true) => new(this, flushToDisk);

    /// <summary>The path for the checkpoint of <paramref name="step"/> (write it with <see cref="AtomicFile.Write"/>).</summary>
    public string CheckpointPath(long step) => Path.Combine(CheckpointsDirectory, CheckpointFileName(step));

    /// <summary>The path of the policy file written beside the checkpoint of <paramref name="step"/>.</summary>
    public string PolicyPath(long step) => Path.Combine(CheckpointsDirectory, PolicyFileName(step));

    /// <summary>The file name of the step checkpoint of <paramref name="step"/> inside <see cref="CheckpointsFolder"/>.</summary>
    public static string CheckpointFileName(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return string.Create(CultureInfo.InvariantCulture, $"{CheckpointPrefix}{step:D10}{CheckpointExtension}");
    }

    /// <summary>
    /// The file name of the policy written beside the step checkpoint of <paramref name="step"/> (the run's policy
    /// at that step, in the layout of its final policy file).
    /// </summary>
    public static string PolicyFileName(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return string.Create(CultureInfo.InvariantCulture, $"{PolicyPrefix}{step:D10}{CheckpointExtension}");
    }

    /// <summary>The newest step checkpoint (highest step), or null.</summary>
    public (string Path, long Step)? LatestCheckpoint()
    {
        if (!System.IO.Directory.Exists(CheckpointsDirectory)) return null;
        (string, long)? best = null;
        foreach (var path in System.IO.Directory.EnumerateFiles(CheckpointsDirectory, CheckpointPrefix + "*" + CheckpointExtension))
        {
            string name = Path.GetFileName(path);
            string digits = name[CheckpointPrefix.Length..^CheckpointExtension.Length];
            if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long step) && (best is null || step > best.Value.Item2))
                best = (path, step);
        }
        return best;
    }

    /// <summary>The path of a stage cache, e.g. <c>StageCachePath("stage-a")</c>.</summary>
    public string StageCachePath(string stage)
    {
        ArgumentException.ThrowIfNullOrEmpty(stage);
        if (stage.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || stage.Contains('/'))
            throw new ArgumentException($"stage name '{stage}' is not a plain file name", nameof(stage));
        return Path.Combine(StagesDirectory, stage + CheckpointExtension);
    }

    /// <summary>
    /// Writes summary.json: final step, completion time, the last value of every metric, and when given the wall time
    /// over all of the run's sessions with their count (<see cref="RunWallTime"/>).
    /// </summary>
    public void WriteSummary(long finalStep, IReadOnlyDictionary<string, double> lastValues, double? wallSeconds = null, int? sessions = null)
    {
        ArgumentNullException.ThrowIfNull(lastValues);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonFiles.Writer))
        {
            json.WriteStartObject();
            json.WriteString("method", Info.Method);
            json.WriteString("task", Info.Task);
            json.WriteNumber("seed", Info.Seed);
            json.WriteNumber("final_step", finalStep);
            json.WriteString("completed_utc", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            if (wallSeconds is double seconds) json.WriteNumber("wall_seconds", seconds);
            if (sessions is int count) json.WriteNumber("sessions", count);
            json.WriteStartObject("last");
            foreach (var (name, value) in lastValues.OrderBy(p => p.Key, StringComparer.Ordinal)) WriteJsonNumber(json, name, value);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(SummaryPath, buffer.ToArray());
    }

    /// <summary>Every complete row of metrics.csv in file order (a torn last line is ignored).</summary>
    public IReadOnlyList<MetricRow> ReadMetrics()
    {
        if (!File.Exists(MetricsCsvPath)) return [];
        var rows = new List<MetricRow>();
        foreach (var (line, number) in CompleteLines(File.ReadAllText(MetricsCsvPath)).Select((l, i) => (l, i + 1)))
        {
            if (number == 1 && line == CsvHeader) continue;
            rows.Add(ParseCsvRow(line, MetricsCsvPath, number));
        }
        return rows;
    }

    /// <summary>The (step, value) series of one metric, in file order.</summary>
    public IReadOnlyList<(long Step, double Value)> ReadSeries(string name) =>
        [.. ReadMetrics().Where(r => r.Name == name).Select(r => (r.Step, r.Value))];

    /// <summary>The TensorBoard event files of the folder, in the order TensorBoard reads them (by name).</summary>
    public IReadOnlyList<string> EventFiles() => FindEventFiles(Directory);

    internal static IReadOnlyList<string> FindEventFiles(string directory) =>
        [.. System.IO.Directory.EnumerateFiles(directory, "events.out.tfevents.*").Order(StringComparer.Ordinal)];

    internal static void WriteJsonNumber(Utf8JsonWriter json, string name, double value)
    {
        // JSON has no NaN or infinity; null keeps the key visible instead of failing the whole write.
        if (double.IsFinite(value)) json.WriteNumber(name, value);
        else json.WriteNull(name);
    }

    internal static string FormatCsvRow(long step, string name, double value) =>
        string.Create(CultureInfo.InvariantCulture, $"{step},{name},{value:R}\n");

    static MetricRow ParseCsvRow(string line, string path, int lineNumber)
    {
        // Names never contain commas (RunFolderMetrics rejects them), so the first and last commas split the row.
        int first = line.IndexOf(','), last = line.LastIndexOf(',');
        if (first < 0 || last == first
            || !long.TryParse(line.AsSpan(0, first), NumberStyles.Integer, CultureInfo.InvariantCulture, out long step)
            || !double.TryParse(line.AsSpan(last + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            throw new InvalidDataException($"{path}:{lineNumber}: expected 'step,name,value', got '{line}'");
        return new MetricRow(step, line[(first + 1)..last], value);
    }

    /// <summary>Lines that end with a newline; the text after the last newline is a torn write and is dropped.</summary>
    static IEnumerable<string> CompleteLines(string text)
    {
        int start = 0;
        while (true)
        {
            int end = text.IndexOf('\n', start);
            if (end < 0) yield break;
            yield return text[start..end];
            start = end + 1;
        }
    }

    static void TruncateCsv(string path, Func<long, string, bool> kept)
    {
        if (!File.Exists(path)) return;
        var text = new StringBuilder(CsvHeader + "\n");
        int number = 0;
        foreach (var line in CompleteLines(File.ReadAllText(path)))
        {
            number++;
            if (number == 1 && line == CsvHeader) continue;
            var row = ParseCsvRow(line, path, number);
            if (kept(row.Step, row.Name)) text.Append(line).Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }

    static void TruncateJsonl(string path, long lastStep, Func<long, string, bool> kept)
    {
        if (!File.Exists(path)) return;
        var text = new StringBuilder();
        int number = 0;
        foreach (var line in CompleteLines(File.ReadAllText(path)))
        {
            number++;
            try
            {
                using var document = JsonDocument.Parse(line);
                long step = document.RootElement.GetProperty("step").GetInt64();
                if (step <= lastStep)
                {
                    text.Append(line).Append('\n');
                    continue;
                }
                // A later step: only the values kept at any step survive, and the object only if one does.
                var values = document.RootElement.EnumerateObject().Where(p => p.Name != "step" && kept(step, p.Name)).ToList();
                if (values.Count == 0) continue;
                using var buffer = new MemoryStream();
                using (var json = new Utf8JsonWriter(buffer))
                {
                    json.WriteStartObject();
                    json.WriteNumber("step", step);
                    foreach (var value in values) value.WriteTo(json);
                    json.WriteEndObject();
                }
                text.Append(Encoding.UTF8.GetString(buffer.ToArray())).Append('\n');
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}:{number}: not a metrics object with a \"step\" ({ex.Message})", ex);
            }
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }

    static void TruncateEvents(string directory, Func<long, string, bool> kept)
    {
        var files = FindEventFiles(directory);
        if (files.Count == 0) return;
        // Merge: (step, tag) → last value and its wall time, so a crash between the rewrite and the deletions
        // below cannot duplicate anything on the next resume.
        var merged = new Dictionary<(long, string), (float Value, double WallTime)>();
        var order = new List<(long Step, string Tag)>();
        double versionTime = double.MaxValue;
        foreach (var file in files)
            foreach (var e in TensorBoardEventReader.ReadEvents(file, allowTornTail: true))
            {
                if (e.FileVersion is not null) versionTime = Math.Min(versionTime, e.WallTime);
                foreach (var (tag, value) in e.Values)
                {
                    if (!kept(e.Step, tag)) continue;
                    if (!merged.ContainsKey((e.Step, tag))) order.Add((e.Step, tag));
                    merged[(e.Step, tag)] = (value, e.WallTime);
                }
            }
        if (versionTime == double.MaxValue) versionTime = TensorBoardEventWriter.UnixSecondsNow();
        string target = files[0];
        AtomicFile.Write(target, stream =>
        {
            using var writer = new TensorBoardEventWriter(stream, ownsStream: false, versionTime);
            // One event per step, in step order, values in their first-logged order.
            foreach (var group in order.GroupBy(k => k.Step).OrderBy(g => g.Key))
            {
                var values = group.Select(k => (k.Tag, merged[k].Value)).ToList();
                writer.WriteScalars(group.Key, values, merged[group.First()].WallTime);
            }
        });
        foreach (var file in files.Skip(1)) File.Delete(file);
    }
}
