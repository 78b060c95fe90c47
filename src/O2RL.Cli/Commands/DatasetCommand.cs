using System.Globalization;
using System.Text.Json;
using O2RL.Data;
using O2RL.Algorithms.Runs;

namespace O2RL.Cli.Commands;

/// <summary>
/// <c>o2rl dataset info FILE [--json]</c> and <c>o2rl dataset validate FILE [--strict] [checks]</c>: inspect and
/// check a dataset in D4RL's HDF5 layout.
/// </summary>
public static class DatasetCommand
{
    const string Usage = """
        Usage:
          o2rl dataset info FILE [--json] [--time-limit N]
          o2rl dataset validate FILE [--strict] [--obs-dim N] [--act-dim N] [--action-low X[,X...]] [--action-high X[,X...]]

        info      rows, transitions after D4RL's Q-learning conversion, episodes, dimensions, flag counts,
                  episode-return statistics (and the D4RL normalised score when the task is known).
                  --json         print one JSON object instead of text
                  --time-limit   step limit used to infer time-limit ends when the file has no timeouts key (1000)
        validate  checks keys, ranks, row counts, finiteness, terminal+timeout rows and, when given,
                  dimensions and action bounds; prints one line per problem and a summary.
                  --strict       warnings fail too
                  --obs-dim, --act-dim           expected dimensions
                  --action-low, --action-high    bounds: one value for all dimensions or one per dimension
        Exit codes: 0 ok, 1 failure (unreadable or invalid dataset), 2 bad arguments.
        """;

    /// <summary>Runs the command; <paramref name="args"/> may start with "dataset". Returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var rest = args.Length > 0 && args[0] == "dataset" ? args[1..] : args;
        if (rest.Length == 0 || rest.Contains("--help") || rest.Contains("-h"))
        {
            (rest.Length == 0 ? error : output).WriteLine(Usage);
            return rest.Length == 0 ? 2 : 0;
        }
        try
        {
            return rest[0] switch
            {
                "info" => Info(rest[1..], output, error),
                "validate" => Validate(rest[1..], output, error),
                _ => BadArguments(error, $"unknown subcommand '{rest[0]}' (expected info or validate)"),
            };
        }
        catch (ArgumentException ex)
        {
            return BadArguments(error, ex.Message);
        }
        catch (Exception ex)
        {
            // Unreadable files, I/O failures and anything the HDF5 library throws: one line, not a stack trace.
            error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    static int BadArguments(TextWriter error, string message)
    {
        error.WriteLine($"error: {message} (see o2rl dataset --help)");
        return 2;
    }

    sealed class Arguments
    {
        public string? File;
        public bool Json, Strict;
        public int? ObsDim, ActDim, TimeLimit = 1000;
        public float[]? Low, High;
    }

    static Arguments Parse(string[] args, bool validate)
    {
        var parsed = new Arguments();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "--json" when !validate: parsed.Json = true; break;
                case "--time-limit" when !validate: parsed.TimeLimit = PositiveInt(a, Value()); break;
                case "--strict" when validate: parsed.Strict = true; break;
                case "--obs-dim" when validate: parsed.ObsDim = PositiveInt(a, Value()); break;
                case "--act-dim" when validate: parsed.ActDim = PositiveInt(a, Value()); break;
                case "--action-low" when validate: parsed.Low = Floats(a, Value()); break;
                case "--action-high" when validate: parsed.High = Floats(a, Value()); break;
                default:
                    if (a.StartsWith('-')) throw new ArgumentException($"unknown option '{a}'");
                    if (parsed.File is not null) throw new ArgumentException($"expected one FILE, got '{parsed.File}' and '{a}'");
                    parsed.File = a;
                    break;
            }
        }
        if (parsed.File is null) throw new ArgumentException("missing FILE");
        return parsed;
    }

    static int PositiveInt(string option, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v
            : throw new ArgumentException($"{option} needs a positive integer, got '{text}'");

    static float[] Floats(string option, string text) =>
        text.Split(',').Select(t => float.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v
            : throw new ArgumentException($"{option} needs numbers separated by commas, got '{text}'")).ToArray();

    static int Info(string[] args, TextWriter output, TextWriter error)
    {
        var a = Parse(args, validate: false);
        var result = D4rlHdf5.Load(a.File!);
        if (result.Dataset is null)
        {
            foreach (var issue in result.Report.Issues.Where(i => i.Severity == IssueSeverity.Error)) error.WriteLine(issue);
            return 1;
        }
        var s = DatasetSummary.Of(result.Dataset, Path.GetFileNameWithoutExtension(a.File), a.TimeLimit);
        var m = result.Dataset.Metadata;
        if (a.Json) WriteJson(output, a.File!, s, m, result.Report);
        else WriteText(output, a.File!, s, m, result.Report);
        return 0;
    }

    static void WriteText(TextWriter o, string file, DatasetSummary s, DatasetMetadata m, ValidationReport report)
    {
        var c = CultureInfo.InvariantCulture;
        o.WriteLine($"file              {file}");
        if (m.EnvironmentId is not null) o.WriteLine($"environment       {m.EnvironmentId}");
        if (m.Level is not null) o.WriteLine($"level             {m.Level}");
        if (m.BehaviourPolicy is not null) o.WriteLine($"behaviour policy  {m.BehaviourPolicy}");
        o.WriteLine($"rows              {s.Rows}");
        o.WriteLine($"transitions       {s.Transitions} (D4RL Q-learning conversion)");
        o.WriteLine($"episodes          {s.Episodes} ({s.CutOffEpisodes} cut off at the end of the file)");
        o.WriteLine($"observation_dim   {s.ObservationDim}");
        o.WriteLine($"action_dim        {s.ActionDim}");
        o.WriteLine($"terminals         {s.Terminals}");
        o.WriteLine($"timeouts          {(s.Timeouts is int t ? t.ToString(c) : "no timeouts key")}");
        o.WriteLine($"next_observations {(s.HasNextObservations ? "stored" : "absent")}");
        var r = s.EpisodeReturns;
        o.WriteLine(string.Format(c, "episode return    mean {0:F3}  std {1:F3}  min {2:F3}  max {3:F3}", r.Mean, r.Std, r.Min, r.Max));
        o.WriteLine(string.Format(c, "episode length    mean {0:F1}  min {1}  max {2}", s.EpisodeLengths.Mean, s.EpisodeLengths.Min, s.EpisodeLengths.Max));
        if (s.NormalizedReturnMean is double n) o.WriteLine(string.Format(c, "normalised score  {0:F2} ({1})", n, s.TaskId));
        o.WriteLine($"validation        {report.ErrorCount} error(s), {report.WarningCount} warning(s)");
    }

    static void WriteJson(TextWriter o, string file, DatasetSummary s, DatasetMetadata m, ValidationReport report)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonFiles.Writer))
        {
            w.WriteStartObject();
            w.WriteString("file", file);
            w.WriteNumber("rows", s.Rows);
            w.WriteNumber("transitions", s.Transitions);
            w.WriteNumber("episodes", s.Episodes);
            w.WriteNumber("cut_off_episodes", s.CutOffEpisodes);
            w.WriteNumber("observation_dim", s.ObservationDim);
            w.WriteNumber("action_dim", s.ActionDim);
            w.WriteNumber("terminals", s.Terminals);
            if (s.Timeouts is int t) w.WriteNumber("timeouts", t); else w.WriteNull("timeouts");
            w.WriteBoolean("has_next_observations", s.HasNextObservations);
            WriteStatistics(w, "episode_returns", s.EpisodeReturns);
            WriteStatistics(w, "episode_lengths", s.EpisodeLengths);
            WriteStatistics(w, "rewards", s.Rewards);
            if (s.TaskId is not null) w.WriteString("task_id", s.TaskId); else w.WriteNull("task_id");
            if (s.NormalizedReturnMean is double n) w.WriteNumber("normalized_return_mean", n); else w.WriteNull("normalized_return_mean");
            w.WriteStartObject("metadata");
            WriteOptional(w, "environment_id", m.EnvironmentId);
            WriteOptional(w, "level", m.Level);
            if (m.BehaviourReturn is double br) w.WriteNumber("behaviour_return", br); else w.WriteNull("behaviour_return");
            WriteOptional(w, "generator_version", m.GeneratorVersion);
            if (m.Seed is long seed) w.WriteNumber("seed", seed); else w.WriteNull("seed");
            WriteOptional(w, "algorithm", m.Algorithm);
            WriteOptional(w, "behaviour_policy", m.BehaviourPolicy);
            w.WriteEndObject();
            w.WriteNumber("validation_errors", report.ErrorCount);
            w.WriteNumber("validation_warnings", report.WarningCount);
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name); else w.WriteString(name, value);
    }

    static void WriteStatistics(Utf8JsonWriter w, string name, Statistics s)
    {
        w.WriteStartObject(name);
        w.WriteNumber("count", s.Count);
        // JSON has no NaN; empty statistics are null.
        foreach (var (key, value) in new[] { ("mean", s.Mean), ("std", s.Std), ("min", s.Min), ("max", s.Max) })
            if (double.IsFinite(value)) w.WriteNumber(key, value); else w.WriteNull(key);
        w.WriteEndObject();
    }

    static int Validate(string[] args, TextWriter output, TextWriter error)
    {
        var a = Parse(args, validate: true);
        var options = new ValidationOptions { ObservationDim = a.ObsDim, ActionDim = a.ActDim, ActionLow = a.Low, ActionHigh = a.High, Strict = a.Strict };
        var result = D4rlHdf5.Load(a.File!, options);
        output.WriteLine(result.Report.Summary());
        return result.Report.Passed ? 0 : 1;
    }
}
