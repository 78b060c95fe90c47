using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Runs;
using O2RL.Algorithms.Training;

namespace O2RL.Cli.Commands;

/// <summary>
/// <c>o2rl online</c> (SAC, TD3, PPO from scratch or from a checkpoint) and <c>o2rl offline</c> (CQL, IQL, TD3+BC on a
/// dataset): one run folder each, with the resolved config, metrics (CSV, JSON lines, TensorBoard), checkpoint and
/// summary.
/// </summary>
public static class TrainCommands
{
    static readonly Dictionary<string, Func<RunContext, RunResult>> OnlineAlgorithms = new()
    {
        ["sac"] = SacRun.Run,
        ["td3"] = Td3Run.Run,
        ["ppo"] = PpoRun.Run,
    };

    static readonly Dictionary<string, Func<RunContext, RunResult>> OfflineAlgorithms = new()
    {
        ["cql"] = CqlRun.Run,
        ["iql"] = IqlRun.Run,
        ["td3bc"] = Td3BcRun.Run,
    };

    /// <summary>Options every training command takes (o2rl sweep passes them through unchanged).</summary>
    public static readonly string[] CommonOptions = ["seed", "device", "config", "set", "out", "resume", "checkpoint-every", "label"];

    /// <summary>Flags every training command takes.</summary>
    public static readonly string[] CommonFlags = ["quiet", "help"];

    static readonly string[] Options = ["algo", "env", "dataset", "level", "score-task", "from", .. CommonOptions];
    static readonly string[] Flags = CommonFlags;

    // Options that may accompany --resume: they change how the run is carried out, not what it computes.
    static readonly string[] ResumeOptions = ["resume", "device", "checkpoint-every", "quiet"];
    // Options naming files: stored absolute in run.json so a resume works from any working directory.
    static readonly string[] PathOptions = ["dataset", "config", "from"];

    /// <summary>The usage lines of the options shared by every training command.</summary>
    public const string CommonUsage = """
        common options (every training command):
          --seed N                 seed of networks, sampling and environments (default 0)
          --device NAME            auto|cpu|cuda|opencl|ilgpu-cpu (default: O2RL_DEVICE or auto)
          --config FILE.yaml       config file applied over the shipped per-task defaults
          --set key=value          config override, applied last (repeatable)
          --out DIR                run folder (default runs/<algo>-<env>-s<seed>)
          --resume DIR             continue a stopped run from its last checkpoint (only --device, --checkpoint-every
                                   and --quiet may be given with it; the rest is read from DIR/run.json)
          --checkpoint-every N     full-state checkpoint every N environment steps, taken at the next episode end
                                   (default: every evaluation; 0 = never)
          --label TEXT             the method's name in plots and reports (default: the algorithm; o2rl sweep sets it)
          --quiet                  no progress output (a bar on a terminal, a line every 10 s otherwise)
        exit codes: 0 ok, 1 failure (including divergence or Ctrl+C; resume with --resume), 2 bad arguments
        """;

    /// <summary><c>o2rl online --algo sac|td3|ppo --env ID [...]</c>.</summary>
    public static int Online(string[] args, TextWriter output, TextWriter error) => Train(args, output, error, OnlineAlgorithms, "online", datasetRequired: false);

    /// <summary><c>o2rl offline --algo cql|iql|td3bc --env ID --dataset FILE [...]</c>.</summary>
    public static int Offline(string[] args, TextWriter output, TextWriter error) => Train(args, output, error, OfflineAlgorithms, "offline", datasetRequired: true);

    /// <summary>Progress goes to a bar when <paramref name="output"/> is the process's terminal, to plain lines otherwise.</summary>
    public static TextWriter? ProgressWriter(TextWriter output, bool quiet) =>
        quiet ? null : ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected ? new TerminalWriter(output) : output;

    static int Train(string[] args, TextWriter output, TextWriter error, Dictionary<string, Func<RunContext, RunResult>> algorithms, string command, bool datasetRequired)
    {
        var given = new ArgumentReader(args, Options, Flags);
        if (given.Has("help"))
        {
            output.WriteLine($"usage: o2rl {command} --algo {string.Join("|", algorithms.Keys)} --env ID{(datasetRequired ? " --dataset FILE" : " [--dataset FILE]")}");
            output.WriteLine("       [--level medium] [--score-task ID] [--from CHECKPOINT] [common options]");
            output.WriteLine($"       o2rl {command} --resume DIR [--device NAME] [--checkpoint-every N] [--quiet]");
            output.WriteLine("Trains and writes a run folder: run.json, config.json, metrics.csv, metrics.jsonl, a TensorBoard event file,");
            output.WriteLine("checkpoints/ (full training state, for --resume), the final checkpoint and summary.json.");
            output.WriteLine("Config keys: the algorithm's record in snake_case.");
            output.Write(CommonUsage);
            return 0;
        }
        if (given.Positionals.Count > 0) throw new UsageException($"unexpected argument '{given.Positionals[0]}'");

        string? resumeDirectory = given.Get("resume");
        var reader = given;
        if (resumeDirectory is not null)
        {
            if (datasetRequired)
                throw new UsageException("--resume continues online runs; offline pre-training keeps no training state and restarts with the same command");
            var extra = Options.Where(o => given.Has(o) && !ResumeOptions.Contains(o)).ToList();
            if (extra.Count > 0)
                throw new UsageException($"--resume continues a run as it was started (settings from its run.json); --{extra[0]} cannot be changed (only --device, --checkpoint-every, --quiet)");
            if (!RunFolder.IsRunFolder(resumeDirectory)) throw new UsageException($"'{resumeDirectory}' is not a run folder (no run.json)");
            var started = RunFolder.Open(resumeDirectory);
            if (started.Info.Command != command || started.Info.Arguments is null)
                throw new UsageException($"'{resumeDirectory}' was not started by o2rl {command} (run.json command '{started.Info.Command}'); it cannot be resumed here");
            if (File.Exists(started.SummaryPath)) throw new UsageException($"'{resumeDirectory}' is complete (summary.json exists); nothing to resume");
            // The original arguments first, then the ones given now: later options win.
            reader = new ArgumentReader([.. started.Info.Arguments, .. WithoutResume(args)], Options, Flags);
        }

        string algorithm = (reader.Get("algo") ?? throw new UsageException($"--algo is required ({string.Join(", ", algorithms.Keys)})")).ToLowerInvariant();
        if (!algorithms.TryGetValue(algorithm, out var run))
            throw new UsageException($"unknown --algo '{algorithm}' for {command}; choose one of {string.Join(", ", algorithms.Keys)}");
        string environmentId = reader.Get("env") ?? throw new UsageException("--env is required (o2rl envs lists them)");
        string? dataset = reader.Get("dataset");
        if (datasetRequired && dataset is null) throw new UsageException("--dataset FILE is required");
        if (dataset is not null && !File.Exists(dataset)) throw new UsageException($"dataset '{dataset}' does not exist");
        string? from = reader.Get("from");
        if (from is not null && !File.Exists(from)) throw new UsageException($"checkpoint '{from}' does not exist");
        string? configFile = reader.Get("config");
        if (configFile is not null && !File.Exists(configFile)) throw new UsageException($"config file '{configFile}' does not exist");
        int seed = reader.GetInt("seed", 0, 0);
        long? checkpointEvery = reader.Has("checkpoint-every") ? reader.GetInt("checkpoint-every", 0, 0) : null;
        string outDir = resumeDirectory ?? reader.Get("out") ?? Path.Combine("runs", $"{algorithm}-{environmentId}-s{seed}");
        bool quiet = reader.Has("quiet");

        using var backend = DeviceCatalog.Create(reader.Get("device"));
        RunFolder folder;
        string? resumeCheckpoint = null;
        if (resumeDirectory is null)
        {
            var info = new RunInfo
            {
                Command = command,
                Algorithm = algorithm,
                Environment = environmentId,
                Dataset = reader.Get("level") ?? (dataset is null ? null : Path.GetFileNameWithoutExtension(dataset)),
                ScoreTaskId = reader.Get("score-task"),
                Seed = seed,
                Label = reader.Get("label"),
                Arguments = StoredArguments(args),
            };
            folder = RunFolder.Create(outDir, info, "{}");
        }
        else
        {
            folder = RunFolder.OpenForResume(resumeDirectory);
            resumeCheckpoint = folder.LatestCheckpoint()?.Path;
            output.WriteLine(folder.ResumedFromStep is long step && step >= 0
                ? $"resuming {folder.Directory} from step {step:N0}"
                : $"{folder.Directory} has no checkpoint yet: starting it over");
        }

        using var cancellation = new CancellationTokenSource();
        ConsoleCancelEventHandler stop = (_, e) =>
        {
            // The first Ctrl+C stops between two steps (the last checkpoint stays valid); a second one kills.
            e.Cancel = !cancellation.IsCancellationRequested;
            cancellation.Cancel();
        };
        Console.CancelKeyPress += stop;
        var metrics = folder.OpenMetrics();
        try
        {
            var context = new RunContext
            {
                Backend = backend,
                EnvironmentId = environmentId,
                Seed = seed,
                DatasetPath = dataset,
                DatasetName = reader.Get("level"),
                ScoreTaskId = reader.Get("score-task"),
                OutputDirectory = folder.Directory,
                ConfigFile = configFile,
                Overrides = reader.GetAll("set"),
                Metrics = metrics,
                Progress = ProgressWriter(output, quiet),
                InitialCheckpoint = from,
                CheckpointEvery = checkpointEvery,
                ResumeCheckpoint = resumeCheckpoint,
                Cancellation = cancellation.Token,
            };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            RunResult result;
            try
            {
                result = run(context);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                string last = folder.LatestCheckpoint() is { } c ? $"the last checkpoint is step {c.Step:N0}" : "no checkpoint was saved yet";
                error.WriteLine($"o2rl {command}: stopped; {last}; continue with: o2rl {command} --resume {folder.Directory}");
                return 1;
            }
            catch when (resumeDirectory is null && folder.ReadMetrics().Count == 0)
            {
                // Nothing was trained (bad config key or value, unreadable dataset …): leave no half-made run folder behind.
                metrics.Dispose();
                Directory.Delete(folder.Directory, recursive: true);
                throw;
            }
            AtomicFile.WriteAllText(Path.Combine(folder.Directory, "config.json"), result.ResolvedConfigJson);
            metrics.Dispose();
            var rows = folder.ReadMetrics();
            folder.WriteSummary(rows.Count == 0 ? 0 : rows.Max(r => r.Step), metrics.LastValues, clock.Elapsed.TotalSeconds);
            if (result.FinalEvaluation is { } evaluation)
                output.WriteLine($"{algorithm} on {environmentId}: final evaluation {evaluation.MeanReturn:F1} ± {evaluation.StdReturn:F1}" +
                    (evaluation.NormalizedMean is double n ? $" (normalised {n:F1})" : "") + $" over {evaluation.Returns.Length} episodes");
            output.WriteLine($"run folder: {folder.Directory}{(result.CheckpointPath is null ? "" : $"; checkpoint: {result.CheckpointPath}")}");
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= stop;
            metrics.Dispose();
        }
    }

    static IEnumerable<string> WithoutResume(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--resume") { i++; continue; }
            if (args[i].StartsWith("--resume=", StringComparison.Ordinal)) continue;
            yield return args[i];
        }
    }

    /// <summary>The arguments as run.json keeps them: file options made absolute, no --resume, --device or --quiet.</summary>
    static string[] StoredArguments(string[] args)
    {
        var stored = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string name = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..].Split('=', 2)[0] : "";
            bool inline = arg.Contains('=') && name.Length > 0;
            string? value = inline ? arg[(arg.IndexOf('=') + 1)..] : Options.Contains(name) && i + 1 < args.Length ? args[++i] : null;
            // Device and progress are chosen anew by whoever resumes; they do not change what is computed on the CPU.
            if (name is "device" or "quiet" or "resume") continue;
            if (!Options.Contains(name)) { stored.Add(arg); continue; }
            if (PathOptions.Contains(name) && value is not null) value = Path.GetFullPath(value);
            stored.Add("--" + name);
            stored.Add(value!);
        }
        return [.. stored];
    }
}
