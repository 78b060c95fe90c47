using System.Text;
using System.Text.Json;
using O2RL.Algorithms.Training;

namespace O2RL.Algorithms.Runs;

/// <summary>
/// The metrics sink of a run folder: buffers <see cref="Log"/> calls and, at every <see cref="Flush"/>, appends
/// them to metrics.csv (one "step,name,value" row each), metrics.jsonl (one object per step) and the TensorBoard
/// event file (one event per step), then pushes all three to disk. A name logged twice at one step before a flush
/// keeps its last value. Not thread-safe: one training loop owns it.
/// </summary>
public sealed class RunFolderMetrics : IMetricsSink, IDisposable
{
    readonly List<(long Step, string Name, double Value)> pending = [];
    readonly Dictionary<string, double> lastValues = new(StringComparer.Ordinal);
    readonly FileStream csv, jsonl;
    readonly TensorBoardEventWriter events;
    readonly bool flushToDisk;
    bool disposed;

    internal RunFolderMetrics(RunFolder folder, bool flushToDisk)
    {
        this.flushToDisk = flushToDisk;
        // Appending after a torn line would glue two rows together; only a resume may repair the files.
        foreach (var path in new[] { folder.MetricsCsvPath, folder.MetricsJsonlPath })
            if (EndsTorn(path))
                throw new InvalidDataException($"{path} ends in the middle of a line (the run was killed while writing); reopen it with RunFolder.OpenForResume");
        bool newCsv = !File.Exists(folder.MetricsCsvPath) || new FileInfo(folder.MetricsCsvPath).Length == 0;
        csv = new FileStream(folder.MetricsCsvPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (newCsv) csv.Write(Encoding.UTF8.GetBytes(RunFolder.CsvHeader + "\n"));
        jsonl = new FileStream(folder.MetricsJsonlPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        EventFilePath = Path.Combine(folder.Directory, UnusedEventFileName(folder.Directory));
        events = new TensorBoardEventWriter(EventFilePath);
        foreach (var row in folder.ReadMetrics()) lastValues[row.Name] = row.Value;
        SyncAll();
    }

    /// <summary>The event file this sink appends to.</summary>
    public string EventFilePath { get; }

    /// <summary>The last flushed value of every metric (including those read back on resume).</summary>
    public IReadOnlyDictionary<string, double> LastValues => lastValues;

    /// <inheritdoc/>
    public void Log(long step, string name, double value)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentException.ThrowIfNullOrEmpty(name);
        // The long CSV format splits on commas and lines; quotes would need escaping in both files.
        if (name.AsSpan().IndexOfAny(",\n\r\"") >= 0)
            throw new ArgumentException($"metric name '{name}' contains a comma, quote or line break", nameof(name));
        pending.Add((step, name, value));
    }

    /// <summary>Writes every value logged since the last flush (whatever their steps) and syncs the files.</summary>
    public void Flush(long step)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (pending.Count == 0) return;
        var csvText = new StringBuilder();
        using var jsonBuffer = new MemoryStream();
        foreach (var group in pending.GroupBy(p => p.Step).OrderBy(g => g.Key))
        {
            // Last value per name, in first-logged order.
            var names = new List<string>();
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var (_, name, value) in group)
            {
                if (!values.ContainsKey(name)) names.Add(name);
                values[name] = value;
            }
            using (var json = new Utf8JsonWriter(jsonBuffer))
            {
                json.WriteStartObject();
                json.WriteNumber("step", group.Key);
                foreach (var name in names) RunFolder.WriteJsonNumber(json, name, values[name]);
                json.WriteEndObject();
            }
            jsonBuffer.WriteByte((byte)'\n');
            foreach (var name in names)
            {
                csvText.Append(RunFolder.FormatCsvRow(group.Key, name, values[name]));
                lastValues[name] = values[name];
            }
            events.WriteScalars(group.Key, [.. names.Select(n => (n, (float)values[n]))]);
        }
        pending.Clear();
        csv.Write(Encoding.UTF8.GetBytes(csvText.ToString()));
        jsonl.Write(jsonBuffer.GetBuffer(), 0, (int)jsonBuffer.Length);
        SyncAll();
    }

    /// <summary>Flushes what is pending and closes the files.</summary>
    public void Dispose()
    {
        if (disposed) return;
        if (pending.Count > 0) Flush(pending[^1].Step);
        disposed = true;
        csv.Dispose();
        jsonl.Dispose();
        events.Dispose();
    }

    void SyncAll()
    {
        csv.Flush(flushToDisk);
        jsonl.Flush(flushToDisk);
        events.Flush(flushToDisk);
    }

    static bool EndsTorn(string path)
    {
        if (!File.Exists(path)) return false;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (stream.Length == 0) return false;
        stream.Seek(-1, SeekOrigin.End);
        return stream.ReadByte() != '\n';
    }

    static string UnusedEventFileName(string directory)
    {
        // A resumed run may start within the same second as the file it resumes; never overwrite that one.
        string name = TensorBoardEventWriter.NewFileName(DateTimeOffset.UtcNow);
        for (int suffix = 1; File.Exists(Path.Combine(directory, name)); suffix++)
            name = TensorBoardEventWriter.NewFileName(DateTimeOffset.UtcNow) + "." + suffix.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return name;
    }
}
