using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using O2RL.Algorithms.Runs;

namespace O2RL.Cli.Commands;

/// <summary>
/// <c>o2rl sweep CMD [options with comma-separated values] --out DIR [--jobs N | --slurm FILE]</c>: runs a training
/// command over the grid of every combination of the listed values, one run folder per grid point, as a local
/// process pool of this same program, or writes a Slurm job-array script instead.
/// </summary>
public static class SweepCommand
{
    const string Usage = """
        usage: o2rl sweep CMD [CMD options, values comma-separated] --out DIR [--jobs N] [--slurm FILE] [--dry-run]

        Runs `o2rl CMD` once per point of the grid spanned by every option given several comma-separated values,
        e.g.  o2rl sweep online --algo sac,td3 --env Pendulum-v1 --seed 0,1,2 --set total_steps=5000 --jobs 2 --out runs/sweep1
        --set key=v1,v2 sweeps one config key (commas inside [...] belong to the value: --set actor_hidden=[64,64],[256,256]).
        Keys the algorithms spell differently take either spelling, so one --set serves --algo cql,iql,td3_bc: run
        length steps = max_steps (offline gradient steps), total_steps = online_steps (online environment steps),
        eval_every = evaluate_every, eval_episodes = evaluation_episodes.
        Each point gets the run folder DIR/<axis-value_...> named from its values (e.g. algo-sac_seed-1) and is
        labelled for `o2rl report DIR` by its non-seed values, so seeds aggregate. "{seed}" in a value is replaced by the
        point's seed, pairing runs with their offline policies:
              o2rl sweep finetune --variant o2sac --from runs/cql-s{seed}/cql.safetensors --seed 0,1,2 …
        Re-running a sweep skips complete points and resumes stopped ones (refused if a point's settings changed).
          --jobs N        runs at a time (default 1); logs in DIR/logs/<name>.log; a summary table at the end
          --slurm FILE    write a Slurm job-array script (one array task per point, limited to --jobs at a time when
                          given) and DIR/commands.txt, one command per line; nothing is run
          --dry-run       print the commands instead of running them
        Exit codes: 0 every run succeeded, 1 some failed, 2 bad arguments.
        """;

    /// <summary>Training commands a sweep can run.</summary>
    public static readonly string[] SweepableCommands = ["online", "offline", "finetune"];

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, output, error, SelfInvocation.Current());

    /// <summary>
    /// As <see cref="Run(string[], TextWriter, TextWriter)"/>, launching runs with <paramref name="launcher"/>; when
    /// <paramref name="stop"/> is cancelled (by default: the first Ctrl+C) no further point starts, running ones stop
    /// on their own Ctrl+C at their last checkpoint, and the summary says how to go on.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, SelfInvocation launcher, CancellationToken? stop = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(launcher);
        if (args.Length == 0 || args[0] is "--help" or "-h") { output.WriteLine(Usage); return args.Length == 0 ? 2 : 0; }
        string command = args[0];
        var available = SweepableCommands.Where(name => CommandTable.All.Any(c => c.Name == name)).ToList();
        if (!available.Contains(command))
            throw new UsageException($"cannot sweep '{command}'; sweepable commands: {string.Join(", ", available)}");

        var (sweepOptions, passThrough) = SplitSweepOptions(args[1..]);
        string outDir = sweepOptions.GetValueOrDefault("out") ?? throw new UsageException("--out DIR is required (the sweep folder)");
        int jobs = 1;
        if (sweepOptions.TryGetValue("jobs", out var jobsText) && (!int.TryParse(jobsText, CultureInfo.InvariantCulture, out jobs) || jobs < 1 || jobs > 1024))
            throw new UsageException($"--jobs must be an integer in [1, 1024], got '{jobsText}'");
        var grid = SweepGrid.Parse(passThrough);
        var points = grid.Expand();

        string root = Path.GetFullPath(outDir);
        if (sweepOptions.TryGetValue("slurm", out var scriptPath))
        {
            Directory.CreateDirectory(root);
            string commandsPath = Path.Combine(root, "commands.txt");
            // Array tasks start wherever sbatch was run: file options are made absolute, as --out is.
            var lines = points.Select(p => SlurmScript.QuoteCommand([.. launcher.Prefix(), .. AbsolutePaths(FreshArguments(command, p, Path.GetFullPath(Path.Combine(root, p.Name))))], launcher.FileName));
            AtomicFile.WriteAllText(commandsPath, string.Join("\n", lines) + "\n");
            AtomicFile.WriteAllText(scriptPath, SlurmScript.Build(Path.GetFileName(root.TrimEnd(Path.DirectorySeparatorChar)), points.Count,
                sweepOptions.ContainsKey("jobs") ? jobs : null, commandsPath, Path.Combine(root, "logs")));
            output.WriteLine($"wrote {scriptPath} ({points.Count} array tasks) and {commandsPath}; submit with: sbatch {scriptPath}");
            return 0;
        }

        var runs = points.Select(p => new PlannedRun(p, PlanArguments(command, p, Path.Combine(root, p.Name)))).ToList();
        if (sweepOptions.ContainsKey("dry-run"))
        {
            foreach (var run in runs)
                output.WriteLine(run.Arguments.Length == 0 ? $"# {run.Point.Name}: complete" : SlurmScript.QuoteCommand([.. launcher.Prefix(), .. run.Arguments], launcher.FileName));
            return 0;
        }
        Directory.CreateDirectory(Path.Combine(root, "logs"));
        WriteManifest(root, command, grid, runs);
        using var ctrlC = stop is null ? new CtrlCStop() : null;
        var token = stop ?? ctrlC!.Token;
        var results = RunPool(runs, jobs, launcher, root, output, token);
        output.WriteLine();
        output.Write(SummaryTable(results));
        if (token.IsCancellationRequested)
        {
            int open = results.Count(r => r.ExitCode != 0);
            error.WriteLine($"o2rl sweep: stopped with {open} of {results.Count} points unfinished; run the same command again to resume the stopped ones and start the rest");
            return 1;
        }
        int failed = results.Count(r => r.ExitCode != 0);
        output.WriteLine(failed == 0 ? $"all {results.Count} runs succeeded; o2rl report {root}" : $"{failed} of {results.Count} runs failed; see {Path.Combine(root, "logs")}");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>One run of a sweep: its grid point and the full argument list (command first).</summary>
    sealed record PlannedRun(SweepPoint Point, string[] Arguments);

    /// <summary>How a run ended.</summary>
    public sealed record SweepRunResult(string Name, int ExitCode, double Seconds, string Status, double? FinalScore);

    static string[] PlanArguments(string command, SweepPoint point, string runDir)
    {
        // A complete point is skipped, a stopped one resumed (its settings are in its run.json), a new one started.
        if (!RunFolder.IsRunFolder(runDir)) return FreshArguments(command, point, runDir);
        // Skipping or resuming a point whose settings changed would report the old run as this sweep's and write the
        // new settings into sweep.json: refused, naming the difference.
        if (RunFolder.Open(runDir).Info.Arguments is { } stored)
        {
            string[] wanted = TrainCommands.StoredArguments(FreshArguments(command, point, runDir)[1..]);
            string[] before = [.. Settings(stored)], now = [.. Settings(wanted)];
            if (!before.SequenceEqual(now, StringComparer.Ordinal))
                throw new UsageException($"{runDir} was run with '{string.Join(' ', before)}' but this sweep asks '{string.Join(' ', now)}'; " +
                    "give the sweep another --out, or the settings it was run with");
        }
        if (File.Exists(Path.Combine(runDir, RunFolder.SummaryFile))) return [];
        return [command, "--resume", runDir, "--quiet"];
    }

    static string[] AbsolutePaths(string[] arguments)
    {
        var result = (string[])arguments.Clone();
        for (int i = 0; i + 1 < result.Length; i++)
            if (result[i] is "--from" or "--dataset" or "--config") result[i + 1] = Path.GetFullPath(result[i + 1]);
        return result;
    }

    /// <summary>The arguments that define a run's result: without its folder and its report label.</summary>
    static IEnumerable<string> Settings(IReadOnlyList<string> arguments)
    {
        for (int i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] is "--out" or "--label") { i++; continue; }
            yield return arguments[i];
        }
    }

    static string[] FreshArguments(string command, SweepPoint point, string runDir)
    {
        var args = new List<string> { command };
        args.AddRange(point.Arguments);
        if (point.Label is not null) { args.Add("--label"); args.Add(point.Label); }
        args.AddRange(["--out", runDir, "--quiet"]);
        return [.. args];
    }

    static (Dictionary<string, string> Sweep, List<string> PassThrough) SplitSweepOptions(string[] args)
    {
        var sweep = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string name = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..].Split('=', 2)[0] : "";
            bool inline = name.Length > 0 && arg.Contains('=');
            if (name is "out" or "jobs" or "slurm")
            {
                sweep[name] = inline ? arg[(arg.IndexOf('=') + 1)..] : i + 1 < args.Length ? args[++i] : throw new UsageException($"--{name} needs a value");
            }
            else if (name == "dry-run") sweep[name] = "";
            else if (name is "resume" or "label" or "quiet") throw new UsageException($"--{name} is set by the sweep for each run; leave it out");
            else rest.Add(arg);
        }
        return (sweep, rest);
    }

    static void WriteManifest(string root, string command, SweepGrid grid, IReadOnlyList<PlannedRun> runs)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonFiles.Writer))
        {
            json.WriteStartObject();
            json.WriteString("command", command);
            json.WriteStartArray("axes");
            foreach (var axis in grid.Axes) { json.WriteStartObject(); json.WriteString("name", axis.Name); json.WriteStartArray("values"); foreach (var v in axis.Values) json.WriteStringValue(v); json.WriteEndArray(); json.WriteEndObject(); }
            json.WriteEndArray();
            json.WriteStartArray("runs");
            foreach (var run in runs)
            {
                json.WriteStartObject();
                json.WriteString("name", run.Point.Name);
                json.WriteStartArray("arguments");
                foreach (var a in run.Point.Arguments) json.WriteStringValue(a);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(Path.Combine(root, "sweep.json"), buffer.ToArray());
    }

    /// <summary>Exit code of a point the sweep never started because it was stopped first.</summary>
    const int NotStarted = -1;

    static List<SweepRunResult> RunPool(IReadOnlyList<PlannedRun> runs, int jobs, SelfInvocation launcher, string root, TextWriter output, CancellationToken stop)
    {
        var results = new SweepRunResult[runs.Count];
        int next = -1, finished = 0;
        var gate = new object();
        void Worker()
        {
            while (true)
            {
                int index = Interlocked.Increment(ref next);
                if (index >= runs.Count) return;
                var run = runs[index];
                var result = run.Arguments.Length == 0
                    ? new SweepRunResult(run.Point.Name, 0, 0, "done before", FinalScore(Path.Combine(root, run.Point.Name)))
                    : stop.IsCancellationRequested ? new SweepRunResult(run.Point.Name, NotStarted, 0, "not started (sweep stopped)", null)
                    : Launch(run, launcher, root, stop);
                results[index] = result;
                lock (gate)
                {
                    finished++;
                    output.WriteLine($"[{finished}/{runs.Count}] {result.Name}: {result.Status} ({result.Seconds:F1} s)");
                }
            }
        }
        var threads = Enumerable.Range(0, Math.Min(jobs, runs.Count)).Select(_ => new Thread(Worker) { IsBackground = true }).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        return [.. results];
    }

    static SweepRunResult Launch(PlannedRun run, SelfInvocation launcher, string root, CancellationToken stop)
    {
        var info = new ProcessStartInfo(launcher.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in launcher.Prefix()) info.ArgumentList.Add(a);
        foreach (var a in run.Arguments) info.ArgumentList.Add(a);
        string logPath = Path.Combine(root, "logs", run.Point.Name + ".log");
        var clock = Stopwatch.StartNew();
        using var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var logGate = new object();
        log.WriteLine("$ " + SlurmScript.QuoteCommand([.. launcher.Prefix(), .. run.Arguments], launcher.FileName));
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (logGate) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (logGate) log.WriteLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.WaitForExit();
        double seconds = clock.Elapsed.TotalSeconds;
        // A run stopped by the same Ctrl+C (the terminal sends it to the whole process group) is not a failure.
        string status = process.ExitCode == 0 ? "ok"
            : stop.IsCancellationRequested ? $"stopped (exit {process.ExitCode}, log {logPath})"
            : $"failed (exit {process.ExitCode}, log {logPath})";
        return new SweepRunResult(run.Point.Name, process.ExitCode, seconds, status, process.ExitCode == 0 ? FinalScore(Path.Combine(root, run.Point.Name)) : null);
    }

    /// <summary>The final evaluation score a completed run folder recorded (normalised where available), or null.</summary>
    static double? FinalScore(string runDir)
    {
        string path = Path.Combine(runDir, RunFolder.SummaryFile);
        if (!File.Exists(path)) return null;
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        if (!document.RootElement.TryGetProperty("last", out var last)) return null;
        foreach (string name in new[] { "eval/normalized_return", "eval/return" })
            if (last.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number) return value.GetDouble();
        return null;
    }

    /// <summary>A Markdown table of the runs: name, result, seconds, final score.</summary>
    public static string SummaryTable(IReadOnlyList<SweepRunResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var text = new StringBuilder();
        int width = Math.Max(4, results.Count == 0 ? 4 : results.Max(r => r.Name.Length));
        text.AppendLine(CultureInfo.InvariantCulture, $"| {"run".PadRight(width)} | result | seconds | final score |");
        text.AppendLine(CultureInfo.InvariantCulture, $"|{new string('-', width + 2)}|--------|---------|-------------|");
        foreach (var r in results)
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Name.PadRight(width)} | {(r.ExitCode == 0 ? "ok" : r.ExitCode == NotStarted ? "-" : $"exit {r.ExitCode}"),-6} | {r.Seconds,7:F1} | {(r.FinalScore is double s ? s.ToString("F1", CultureInfo.InvariantCulture) : "n/a"),11} |");
        return text.ToString();
    }
}

/// <summary>One option of a sweep with its values (an option given once with one value is a fixed setting).</summary>
/// <param name="Name">The option name without dashes; for <c>--set key=…</c> axes, <c>set:key</c>.</param>
/// <param name="Values">The values in the order given.</param>
public sealed record SweepAxis(string Name, IReadOnlyList<string> Values)
{
    /// <summary>The short name used in folder names and labels: the option name, or the config key of a --set.</summary>
    public string ShortName => Name.StartsWith("set:", StringComparison.Ordinal) ? Name[4..] : Name;
}

/// <summary>One grid point: its folder name, its report label (null: method = algorithm), and the command's arguments.</summary>
public sealed record SweepPoint(string Name, string? Label, IReadOnlyList<string> Arguments);

/// <summary>The grid of a sweep: every option of the command line with its comma-separated values.</summary>
public sealed class SweepGrid
{
    // Options whose variation is not a different method: they are grouped as seeds or as tasks by o2rl report.
    static readonly HashSet<string> NotInLabel = ["seed", "env", "dataset", "level", "score-task", "algo", "variant"];
    readonly List<(string Name, List<string> Values)> options = [];
    readonly List<string> flags = [];

    SweepGrid() { }

    /// <summary>Every option as an axis, in command-line order (single-valued ones included).</summary>
    public IReadOnlyList<SweepAxis> Axes => [.. options.Select(o => new SweepAxis(o.Name, o.Values))];

    /// <summary>Switches passed unchanged to every run (e.g. <c>--json</c>).</summary>
    public IReadOnlyList<string> Flags => flags;

    /// <summary>
    /// Reads <c>--name value</c> / <c>--name=value</c> options (values split at commas outside brackets) and bare
    /// switches. <c>--set key=v1,v2</c> becomes the axis <c>set:key</c> with values v1 and v2.
    /// </summary>
    public static SweepGrid Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var grid = new SweepGrid();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                throw new UsageException($"unexpected argument '{arg}' (options are --name value)");
            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) value = args[++i];
            if (value is null) { grid.flags.Add(arg); continue; }
            if (name == "set")
            {
                int keyEnd = value.IndexOf('=');
                if (keyEnd <= 0) throw new UsageException($"--set needs key=value, got '{value}'");
                string key = value[..keyEnd];
                grid.Add("set:" + key, SplitValues(value[(keyEnd + 1)..], "--set " + key));
            }
            else grid.Add(name, SplitValues(value, "--" + name));
        }
        return grid;
    }

    void Add(string name, List<string> values)
    {
        if (options.Any(o => o.Name == name)) throw new UsageException($"{Display(name)} is given twice; list its values once, comma-separated");
        options.Add((name, values));
    }

    static string Display(string name) => name.StartsWith("set:", StringComparison.Ordinal) ? "--set " + name[4..] : "--" + name;

    /// <summary>Splits at commas that are not inside brackets or braces; empty values are an error.</summary>
    public static List<string> SplitValues(string text, string option)
    {
        ArgumentNullException.ThrowIfNull(text);
        var values = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            char c = i < text.Length ? text[i] : ',';
            if (c is '[' or '{' or '(') depth++;
            else if (c is ']' or '}' or ')') depth--;
            else if (c == ',' && depth == 0)
            {
                string value = text[start..i].Trim();
                if (value.Length == 0) throw new UsageException($"{option} has an empty value in '{text}'");
                values.Add(value);
                start = i + 1;
            }
        }
        if (depth != 0) throw new UsageException($"{option} has unbalanced brackets in '{text}'");
        if (values.Distinct(StringComparer.Ordinal).Count() != values.Count) throw new UsageException($"{option} lists a value twice in '{text}'");
        return values;
    }

    /// <summary>
    /// Every combination, the last option varying fastest. A point's name joins <c>name-value</c> of the options
    /// with several values (sanitised for file names); its label joins the algorithm with the non-seed, non-task
    /// varied values, or is null when only the algorithm, seeds or tasks vary.
    /// </summary>
    public IReadOnlyList<SweepPoint> Expand()
    {
        var varying = options.Where(o => o.Values.Count > 1).Select(o => o.Name).ToHashSet();
        var points = new List<SweepPoint>();
        int total = options.Aggregate(1, (n, o) => checked(n * o.Values.Count));
        if (total > 100_000) throw new UsageException($"the grid has {total} points; split the sweep");
        var chosen = new string[options.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        void Recurse(int depth)
        {
            if (depth == options.Count)
            {
                var args = new List<string>();
                var nameParts = new List<string>();
                var labelParts = new List<string>();
                string? algorithm = null;
                for (int k = 0; k < options.Count; k++)
                {
                    var (name, _) = options[k];
                    string value = chosen[k];
                    if (name.StartsWith("set:", StringComparison.Ordinal)) args.AddRange(["--set", $"{name[4..]}={value}"]);
                    else args.AddRange(["--" + name, value]);
                    // The method of the label: --algo's, or --variant's for finetune (without it, O2SAC and O2TD3 runs of one
                    // mode shared a label and were pooled into one row as seeds).
                    if (name is "algo" or "variant") algorithm = value;
                    if (!varying.Contains(name)) continue;
                    string shortName = new SweepAxis(name, []).ShortName;
                    nameParts.Add($"{shortName}-{Sanitize(value)}");
                    if (!NotInLabel.Contains(name)) labelParts.Add($"{shortName}={value}");
                }
                args.AddRange(flags);
                // "{seed}" in a value pairs it with the point's seed (fine-tune seed i from offline seed i), which a grid of
                // --seed × --from cannot express.
                int seedIndex = options.FindIndex(o => o.Name == "seed");
                for (int k = 0; k < args.Count; k++)
                {
                    if (!args[k].Contains("{seed}", StringComparison.Ordinal)) continue;
                    if (seedIndex < 0) throw new UsageException($"'{args[k]}' uses {{seed}} but the sweep has no --seed");
                    args[k] = args[k].Replace("{seed}", chosen[seedIndex], StringComparison.Ordinal);
                }
                string pointName = nameParts.Count == 0 ? "run" : string.Join("_", nameParts);
                if (!names.Add(pointName)) throw new UsageException($"two grid points map to the folder '{pointName}'; make the values differ in letters or digits");
                string? label = labelParts.Count == 0 ? null : string.Join(" ", (algorithm is null ? [] : new[] { algorithm }).Concat(labelParts));
                points.Add(new SweepPoint(pointName, label, args));
                return;
            }
            foreach (var value in options[depth].Values)
            {
                chosen[depth] = value;
                Recurse(depth + 1);
            }
        }
        Recurse(0);
        return points;
    }

    /// <summary>A value as a file-name part: letters, digits, '.', '+' and '-' kept; runs of anything else become one '-'.</summary>
    public static string Sanitize(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = new StringBuilder();
        foreach (char c in value)
        {
            bool keep = char.IsAsciiLetterOrDigit(c) || c is '.' or '+' or '-';
            if (keep) text.Append(c);
            else if (text.Length > 0 && text[^1] != '-') text.Append('-');
        }
        string result = text.ToString().Trim('-');
        return result.Length == 0 ? "x" : result;
    }
}

/// <summary>How to start this program again: an apphost (<c>o2rl</c>) or the .NET host with the entry assembly (<c>dotnet o2rl.dll</c>).</summary>
/// <param name="FileName">The executable to start.</param>
/// <param name="EntryAssembly">The assembly to pass to the .NET host first, or null for an apphost.</param>
public sealed record SelfInvocation(string FileName, string? EntryAssembly)
{
    /// <summary>The arguments that precede the command (the assembly path under <c>dotnet</c>, nothing otherwise).</summary>
    public string[] Prefix() => EntryAssembly is null ? [] : [EntryAssembly];

    /// <summary>How the running process was started.</summary>
    public static SelfInvocation Current() =>
        Resolve(Environment.ProcessPath ?? throw new InvalidOperationException("the path of this program is unknown; cannot start runs"),
            Environment.GetCommandLineArgs()[0]);

    /// <summary>
    /// From the process path and argv[0]: under the .NET host (<c>dotnet</c>) argv[0] is the entry assembly and
    /// must be passed again; an apphost is started by itself.
    /// </summary>
    public static SelfInvocation Resolve(string processPath, string firstArgument)
    {
        ArgumentException.ThrowIfNullOrEmpty(processPath);
        string host = Path.GetFileNameWithoutExtension(processPath);
        if (host.Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            if (!firstArgument.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException($"running under {processPath} but the entry assembly '{firstArgument}' is not a .dll; cannot start runs");
            return new SelfInvocation(processPath, Path.GetFullPath(firstArgument));
        }
        return new SelfInvocation(processPath, null);
    }

    /// <summary>The program built from the CLI project, next to <paramref name="assemblyPath"/> (its apphost when present, else the .NET host).</summary>
    public static SelfInvocation ForAssembly(string assemblyPath, string dotnetHost = "dotnet")
    {
        string apphost = Path.ChangeExtension(assemblyPath, OperatingSystem.IsWindows() ? ".exe" : null);
        return File.Exists(apphost) ? new SelfInvocation(apphost, null) : new SelfInvocation(dotnetHost, assemblyPath);
    }
}

/// <summary>Slurm job-array scripts for sweeps.</summary>
public static class SlurmScript
{
    /// <summary>
    /// A bash script submitting <paramref name="tasks"/> array tasks (at most <paramref name="concurrent"/> at a
    /// time when given); task i runs line i + 1 of <paramref name="commandsPath"/>.
    /// </summary>
    public static string Build(string jobName, int tasks, int? concurrent, string commandsPath, string logDirectory)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tasks, 1);
        string name = SweepGrid.Sanitize(jobName);
        var text = new StringBuilder();
        text.Append("#!/bin/bash\n");
        text.Append(CultureInfo.InvariantCulture, $"#SBATCH --job-name=o2rl-{name}\n");
        text.Append(CultureInfo.InvariantCulture, $"#SBATCH --array=0-{tasks - 1}{(concurrent is int c ? $"%{c}" : "")}\n");
        text.Append(CultureInfo.InvariantCulture, $"#SBATCH --output={logDirectory}/%A_%a.log\n");
        text.Append("# Add partition, time, CPU and GPU requests for your cluster here (#SBATCH --time=..., --gres=gpu:1, ...).\n");
        text.Append("set -euo pipefail\n");
        text.Append(CultureInfo.InvariantCulture, $"mkdir -p {Quote(logDirectory)}\n");
        text.Append(CultureInfo.InvariantCulture, $"COMMANDS={Quote(commandsPath)}\n");
        text.Append("# Array task i runs line i + 1 of the commands file (one grid point each).\n");
        text.Append("LINE=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" \"$COMMANDS\")\n");
        text.Append("if [ -z \"$LINE\" ]; then echo \"no command for array task $SLURM_ARRAY_TASK_ID in $COMMANDS\" >&2; exit 2; fi\n");
        text.Append("echo \"$LINE\"\n");
        text.Append("eval \"$LINE\"\n");
        return text.ToString();
    }

    /// <summary>One shell command line: the program and its arguments, each quoted for bash where needed.</summary>
    public static string QuoteCommand(IEnumerable<string> arguments, string program) =>
        string.Join(" ", new[] { program }.Concat(arguments).Select(Quote));

    /// <summary>Quotes a word for bash unless it consists only of safe characters.</summary>
    public static string Quote(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        if (word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:+,@%".Contains(c))) return word;
        return "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
