namespace O2RL.Cli;

/// <summary>The o2rl subcommands and the dispatcher: one clear line and a non-zero exit for bad arguments.</summary>
public static class CommandTable
{
    /// <summary>A subcommand: name, one-line summary, and its entry point (args after the name).</summary>
    public sealed record Command(string Name, string Summary, Func<string[], TextWriter, TextWriter, int> Run);

    /// <summary>Every command, in the order help lists them.</summary>
    public static IReadOnlyList<Command> All { get; } =
    [
        new("demo", "the whole idea in minutes: Pendulum dataset → CQL → O2SAC vs naive SAC fine-tuning → table and plot", Commands.DemoCommand.Run),
        new("doctor", "list compute devices and check every kernel on each against its reference", Commands.DoctorCommand.Run),
        new("bench", "measure FMA peak, GEMM throughput and training-step latency (--json)", Commands.BenchCommand.Run),
        new("envs", "list environments (--json) or print a model's MJCF (envs xml ID)", Commands.EnvsCommand.Run),
        new("online", "train SAC, TD3 or PPO online (from scratch or --from a checkpoint) into a run folder", Commands.TrainCommands.Online),
        new("offline", "pre-train CQL, IQL or TD3+BC on a D4RL-layout dataset into a run folder", Commands.TrainCommands.Offline),
        new("finetune", "fine-tune an offline policy online with OCR-CFT (o2sac, o2td3, o2ppo) or a baseline (--mode)", Commands.TrainCommands.Finetune),
        new("act", "act with a trained policy on observations from a CSV file (one action row per observation)", Commands.ActCommand.Run),
        new("export", "export a policy's deterministic action as an ONNX model (--format onnx)", Commands.ExportCommand.Run),
        new("eval", "evaluate a checkpoint's policy for N episodes (raw and normalised returns)", Commands.EvalCommand.Run),
        new("collect", "make D4RL-recipe datasets (random … medium-expert) for an environment", Commands.CollectCommand.Run),
        new("plot", "plot learning curves of run folders (mean ± std across seeds) to PNG", Commands.PlotCommand.Run),
        new("report", "score tables over run folders (last, best, lowest early, regret) as Markdown or JSON", Commands.ReportCommand.Run),
        new("sweep", "run a training command over a grid of option values (local process pool, or --slurm FILE)", Commands.SweepCommand.Run),
        new("dataset", "inspect (info FILE [--json]) or check (validate FILE [--strict]) a D4RL-layout HDF5 dataset", Commands.DatasetCommand.Run),
    ];

    /// <summary>Runs the command named by args[0]; returns the process exit code.</summary>
    public static int Dispatch(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintHelp(output);
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] is "--version")
        {
            output.WriteLine(O2RL.Engine.BuildInfo.Version);
            return 0;
        }
        var command = All.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            error.WriteLine($"o2rl: unknown command '{args[0]}'; commands: {string.Join(", ", All.Select(c => c.Name))} (o2rl --help)");
            return 2;
        }
        try
        {
            return command.Run(args[1..], output, error);
        }
        catch (UsageException ex)
        {
            error.WriteLine($"o2rl {command.Name}: {ex.Message}");
            return 2;
        }
        catch (O2RL.Data.DatasetValidationException ex)
        {
            // Its message is the whole report, one line per issue: here the first error in one line, and where to see the rest.
            var report = ex.Report;
            var first = report.Issues.FirstOrDefault(i => i.Severity == O2RL.Data.IssueSeverity.Error) ?? report.Issues.FirstOrDefault();
            string what = first is null ? "" : $": key '{first.Key}'{(first.Row is long row ? $" row {row}" : "")}: {first.Message}";
            int more = report.ErrorCount + report.WarningCount - (first is null ? 0 : 1);
            error.WriteLine($"o2rl {command.Name}: dataset {report.File} failed validation{what}" +
                (more > 0 ? $" (and {more} more issue(s): o2rl dataset validate FILE lists them)" : ""));
            return 1;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or InvalidOperationException
                                       or KeyNotFoundException or UnauthorizedAccessException or PlatformNotSupportedException
                                       or O2RL.Engine.Checkpoints.CheckpointFormatException)
        {
            error.WriteLine($"o2rl {command.Name}: {OneLine(ex)}");
            return 1;
        }
    }

    /// <summary>
    /// An exception's message as one line. A library's argument check (e.g. a batch size of 0 reaching the replay
    /// buffer) reads "… (Parameter 'batchSize')", then "Actual value was 0." on a line of its own: the parameter
    /// name means nothing to a user, the value does.
    /// </summary>
    static string OneLine(Exception ex)
    {
        string message = ex.Message;
        if (ex is ArgumentException { ParamName: { Length: > 0 } name })
        {
            message = message.Split('\n')[0].TrimEnd('\r');
            message = message.EndsWith($" (Parameter '{name}')", StringComparison.Ordinal) ? message[..^$" (Parameter '{name}')".Length] : message;
            if (ex is ArgumentOutOfRangeException { ActualValue: { } value }) message += $", got {value}";
        }
        return message.ReplaceLineEndings(" ");
    }

    static void PrintHelp(TextWriter output)
    {
        output.WriteLine("o2rl — offline-to-online reinforcement learning (OCR-CFT) on a native .NET engine");
        output.WriteLine();
        output.WriteLine("usage: o2rl <command> [options]      (o2rl <command> --help for its options)");
        output.WriteLine();
        foreach (var c in All) output.WriteLine($"  {c.Name,-10} {c.Summary}");
        output.WriteLine();
        output.WriteLine("common options: --device auto|cpu|cuda|opencl|ilgpu-cpu (or O2RL_DEVICE), --seed N, --json");
        output.WriteLine("training commands also take --config FILE, --set key=value (repeatable), --out DIR, --resume DIR, --quiet");
    }
}

/// <summary>Bad command-line input: reported as one line with exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// A small, strict argument reader: <c>--name value</c> options, <c>--flag</c> switches and positionals; an
/// unknown option is an error naming it and listing the known ones.
/// </summary>
public sealed class ArgumentReader
{
    readonly Dictionary<string, string?> values = [];
    readonly Dictionary<string, List<string>> repeated = [];
    readonly List<string> positionals = [];

    /// <summary>Parses args against the known options (take a value) and flags (take none).</summary>
    public ArgumentReader(string[] args, IReadOnlyCollection<string> options, IReadOnlyCollection<string> flags)
    {
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg == "--") { positionals.Add(arg); continue; }
            string name = arg[2..], inline = "";
            int eq = name.IndexOf('=');
            bool hasInline = eq >= 0;
            if (hasInline) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (flags.Contains(name))
            {
                if (hasInline) throw new UsageException($"--{name} takes no value");
                values[name] = null;
            }
            else if (options.Contains(name))
            {
                string value = hasInline ? inline
                    : i + 1 < args.Length ? args[++i]
                    : throw new UsageException($"--{name} needs a value");
                values[name] = value;
                if (!repeated.TryGetValue(name, out var list)) repeated[name] = list = [];
                list.Add(value);
            }
            else
            {
                var known = options.Select(o => "--" + o).Concat(flags.Select(f => "--" + f));
                throw new UsageException($"unknown option --{name} (known: {string.Join(", ", known)})");
            }
        }
    }

    /// <summary>
    /// The arguments a run keeps for a later <c>--resume</c>: the values of <paramref name="pathOptions"/> made absolute,
    /// and <paramref name="dropped"/> options (chosen anew by whoever resumes, e.g. --device, --quiet) left out.
    /// </summary>
    public static string[] ForResume(string[] args, IReadOnlyCollection<string> options, IReadOnlyCollection<string> pathOptions, IReadOnlyCollection<string> dropped)
    {
        var stored = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string name = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..].Split('=', 2)[0] : "";
            bool inline = arg.Contains('=') && name.Length > 0;
            string? value = inline ? arg[(arg.IndexOf('=') + 1)..] : options.Contains(name) && i + 1 < args.Length ? args[++i] : null;
            if (dropped.Contains(name)) continue;
            if (!options.Contains(name)) { stored.Add(arg); continue; }
            if (pathOptions.Contains(name) && value is not null) value = Path.GetFullPath(value);
            stored.Add("--" + name);
            stored.Add(value!);
        }
        return [.. stored];
    }

    /// <summary>The arguments without <c>--resume DIR</c> (or <c>--resume=DIR</c>).</summary>
    public static IEnumerable<string> WithoutResume(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--resume") { i++; continue; }
            if (args[i].StartsWith("--resume=", StringComparison.Ordinal)) continue;
            yield return args[i];
        }
    }

    /// <summary>Positional arguments in order.</summary>
    public IReadOnlyList<string> Positionals => positionals;

    /// <summary>Whether a flag or option was given.</summary>
    public bool Has(string name) => values.ContainsKey(name);

    /// <summary>An option's text, or the default.</summary>
    public string? Get(string name, string? defaultValue = null) => values.TryGetValue(name, out var v) ? v : defaultValue;

    /// <summary>Every value of an option that may be repeated (e.g. --set a=1 --set b=2), in order.</summary>
    public IReadOnlyList<string> GetAll(string name) => repeated.TryGetValue(name, out var list) ? list : [];

    /// <summary>An integer option within a range, or the default.</summary>
    public int GetInt(string name, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        string? text = Get(name);
        if (text is null) return defaultValue;
        if (!int.TryParse(text, out int value) || value < min || value > max)
            throw new UsageException($"--{name} must be an integer in [{min}, {max}], got '{text}'");
        return value;
    }
}

/// <summary>
/// While alive, the first Ctrl+C cancels <see cref="Token"/> (a training loop then stops between two steps and its
/// last checkpoint stays valid) instead of killing the process; a second Ctrl+C kills as usual.
/// </summary>
public sealed class CtrlCStop : IDisposable
{
    readonly CancellationTokenSource source = new();
    readonly ConsoleCancelEventHandler handler;

    /// <summary>Starts listening for Ctrl+C.</summary>
    public CtrlCStop()
    {
        handler = (_, e) =>
        {
            e.Cancel = !source.IsCancellationRequested;
            source.Cancel();
        };
        Console.CancelKeyPress += handler;
    }

    /// <summary>Cancelled by the first Ctrl+C.</summary>
    public CancellationToken Token => source.Token;

    /// <summary>Whether Ctrl+C was pressed.</summary>
    public bool Requested => source.IsCancellationRequested;

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        source.Dispose();
    }
}
