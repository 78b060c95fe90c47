using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace O2RL.Algorithms.Runs;

/// <summary>
/// The wall time a run has taken over all of its sessions (the first one and every <c>--resume</c>), kept in the run
/// folder's <c>wall_time.json</c> so that <c>summary.json</c>'s <c>wall_seconds</c> covers a resumed run whole rather
/// than its last session only. The running session's entry is rewritten every <see cref="SaveInterval"/> from a timer
/// (the training loop is not touched, so nothing it computes changes) and once more when the session ends, so a crash
/// or a lost machine loses at most one interval of it. A session stopped past its last checkpoint counts in full:
/// that time was spent, although the resumed session repeats the work after the checkpoint.
/// <para>
/// The record is bookkeeping, not the run's result: a write that fails (disk full, folder removed) is skipped, and an
/// earlier record that cannot be read is reported in <see cref="UnreadableEarlierRecord"/> and counted as no time.
/// </para>
/// </summary>
public sealed class RunWallTime : IDisposable
{
    /// <summary>File name of the record inside the run folder.</summary>
    public const string FileName = "wall_time.json";

    /// <summary>How often the running session's entry is written while it runs.</summary>
    public static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(30);

    readonly string _directory;
    readonly List<(string StartedUtc, double Seconds)> _earlierSessions;
    readonly string _startedUtc;
    readonly Stopwatch _clock;
    readonly Timer _timer;
    readonly Lock _gate = new();
    bool _stopped;

    RunWallTime(string directory, List<(string, double)> earlierSessions, string? unreadable)
    {
        _directory = directory;
        _earlierSessions = earlierSessions;
        UnreadableEarlierRecord = unreadable;
        _startedUtc = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        _clock = Stopwatch.StartNew();
        Save();
        _timer = new Timer(_ => Save(), null, SaveInterval, SaveInterval);
    }

    /// <summary>
    /// Starts timing a session of the run in <paramref name="directory"/>, after the sessions its
    /// <c>wall_time.json</c> already holds (none for a new run).
    /// </summary>
    public static RunWallTime Start(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string path = Path.Combine(directory, FileName);
        var earlier = new List<(string, double)>();
        string? unreadable = null;
        if (File.Exists(path))
        {
            try { earlier = ReadSessions(File.ReadAllText(path)); }
            catch (Exception e) when (e is JsonException or InvalidDataException or IOException)
            {
                unreadable = $"{path} could not be read ({e.Message}); the earlier sessions' wall time is not counted";
            }
        }
        return new RunWallTime(directory, earlier, unreadable);
    }

    /// <summary>Why the earlier sessions' record was not used, or null when it was read (or there was none).</summary>
    public string? UnreadableEarlierRecord { get; }

    /// <summary>Sessions so far, this one included.</summary>
    public int Sessions => _earlierSessions.Count + 1;

    /// <summary>Seconds of every earlier session plus this one so far.</summary>
    public double TotalSeconds => _earlierSessions.Sum(s => s.Seconds) + _clock.Elapsed.TotalSeconds;

    /// <summary>
    /// The sessions recorded in a <c>wall_time.json</c> text: (start as ISO 8601 UTC, seconds) in the order they ran.
    /// </summary>
    public static List<(string StartedUtc, double Seconds)> ReadSessions(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("sessions", out var sessions) || sessions.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException("expected an object with a 'sessions' array");
        var result = new List<(string, double)>();
        foreach (var session in sessions.EnumerateArray())
        {
            if (session.ValueKind != JsonValueKind.Object
                || !session.TryGetProperty("started_utc", out var started) || started.ValueKind != JsonValueKind.String
                || !session.TryGetProperty("seconds", out var seconds) || seconds.ValueKind != JsonValueKind.Number
                || !seconds.TryGetDouble(out double value)
                || !double.IsFinite(value) || value < 0)
                throw new InvalidDataException("every session needs 'started_utc' (text) and 'seconds' (a number ≥ 0)");
            result.Add((started.GetString()!, value));
        }
        return result;
    }

    void Save()
    {
        lock (_gate)
        {
            if (_stopped) return;
            Write();
        }
    }

    void Write()
    {
        // A folder removed under the run (a failed start deletes its half-made folder) is not made again here.
        if (!Directory.Exists(_directory)) return;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonFiles.Writer))
        {
            json.WriteStartObject();
            json.WriteNumber("seconds", Math.Round(TotalSeconds, 3));
            json.WriteStartArray("sessions");
            foreach (var (started, seconds) in _earlierSessions.Append((_startedUtc, _clock.Elapsed.TotalSeconds)))
            {
                json.WriteStartObject();
                json.WriteString("started_utc", started);
                json.WriteNumber("seconds", Math.Round(seconds, 3));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        try { AtomicFile.WriteAllBytes(Path.Combine(_directory, FileName), buffer.ToArray()); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Bookkeeping only: a full disk or a read-only folder must not stop (or, from the timer, crash) training.
        }
    }

    /// <summary>Stops the clock and writes the session's final entry.</summary>
    public void Dispose()
    {
        _timer.Dispose();
        lock (_gate)
        {
            if (_stopped) return;
            _clock.Stop();
            Write();
            _stopped = true;
        }
    }
}
