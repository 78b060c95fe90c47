using System.Globalization;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.FineTuning.O2Ppo;
using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.FineTuning.O2Td3;
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

    static readonly Dictionary<string, Func<RunContext, RunResult>> FineTuneVariants = new()
    {
        ["o2sac"] = O2SacRun.Run,
        ["o2td3"] = O2Td3Run.Run,
        ["o2ppo"] = O2PpoRun.Run,
    };

    /// <summary>What <c>o2rl finetune --mode</c> accepts (the variants' <c>mode</c> config key).</summary>
    public static readonly string[] FineTuneModes = ["ocr-cft", "naive", "scratch", "offline"];

    /// <summary>Options every training command takes (o2rl sweep passes them through unchanged).</summary>
    public static readonly string[] CommonOptions = ["seed", "device", "config", "set", "out", "resume", "checkpoint-every", "label"];

    /// <summary>Flags every training command takes.</summary>
    public static readonly string[] CommonFlags = ["quiet", "help"];

    static readonly string[] Options = ["algo", "variant", "mode", "env", "dataset", "level", "score-task", "from", .. CommonOptions];
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
                                   (offline: every N updates) (default: every evaluation; 0 = never)
          --label TEXT             the method's name in plots and reports (default: the algorithm; o2rl sweep sets it)
          --quiet                  no progress output (a bar on a terminal, a line every 10 s otherwise)
        exit codes: 0 ok, 1 failure (including divergence or Ctrl+C; resume with --resume), 2 bad arguments
        """;

    /// <summary><c>o2rl online --algo sac|td3|ppo --env ID [...]</c>.</summary>
    public static int Online(string[] args, TextWriter output, TextWriter error) => Train(args, output, error, OnlineAlgorithms, "online", datasetRequired: false);

    /// <summary><c>o2rl offline --algo cql|iql|td3bc --env ID --dataset FILE [...]</c>.</summary>
    public static int Offline(string[] args, TextWriter output, TextWriter error) => Train(args, output, error, OfflineAlgorithms, "offline", datasetRequired: true);

    /// <summary>
    /// <c>o2rl finetune --variant o2sac|o2td3|o2ppo --from CHECKPOINT --dataset FILE --env ID [--mode …]</c>: OCR-CFT
    /// (stages A–C) or a baseline in the same harness. A stopped run resumes inside stage C (or the baselines' online
    /// loop) from its newest full-state checkpoint, or after its last finished stage when stage C has none yet.
    /// </summary>
    public static int Finetune(string[] args, TextWriter output, TextWriter error) => Train(args, output, error, FineTuneVariants, "finetune", datasetRequired: false);

    /// <summary>Progress goes to a bar when <paramref name="output"/> is the process's terminal, to plain lines otherwise.</summary>
    public static TextWriter? ProgressWriter(TextWriter output, bool quiet) =>
        quiet ? null : ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected ? new TerminalWriter(output) : output;

    static int Train(string[] args, TextWriter output, TextWriter error, Dictionary<string, Func<RunContext, RunResult>> algorithms, string command, bool datasetRequired)
    {
        var given = new ArgumentReader(args, Options, Flags);
        bool finetune = command == "finetune";
        string selector = finetune ? "variant" : "algo";
        if (given.Has("help") && finetune)
        {
            output.WriteLine($"usage: o2rl finetune --variant {string.Join("|", algorithms.Keys)} --env ID --from CHECKPOINT --dataset FILE");
            output.WriteLine($"       [--mode {string.Join("|", FineTuneModes)}] [--level medium] [--score-task ID] [common options]");
            output.WriteLine("       o2rl finetune --resume DIR [--device NAME] [--checkpoint-every N] [--quiet]");
            output.WriteLine("Fine-tunes a policy pre-trained offline by any algorithm (our CQL/IQL/TD3+BC/SAC/TD3/PPO checkpoints, or a PyTorch");
            output.WriteLine("state_dict of the CORL tanh-Gaussian, TD3+BC or IQL actor saved as .safetensors; other families are converted).");
            output.WriteLine("  --mode ocr-cft   stage A (re-evaluation), B (value alignment), C (λ-constrained fine-tuning)   [default]");
            output.WriteLine("  --mode naive     load the actor (and compatible critics), continue with plain SAC/TD3/PPO");
            output.WriteLine("  --mode scratch   the online learner from random initialisation (no --from needed)");
            output.WriteLine("  --mode offline   only evaluate the loaded policy");
            output.WriteLine("The states after stages A and B are kept in the run folder, and stage C (like the baselines' online loop) saves");
            output.WriteLine("full-state checkpoints (checkpoints/, every --checkpoint-every steps): --resume continues stage C from the newest");
            output.WriteLine("one, or after the last finished stage when stage C has none yet.");
            output.WriteLine("Config keys: the variant's record in snake_case (e.g. --set online_steps=20000 --set alignment_steps=5000).");
            output.Write(CommonUsage);
            return 0;
        }
        if (given.Has("help"))
        {
            output.WriteLine($"usage: o2rl {command} --algo {string.Join("|", algorithms.Keys)} --env ID{(datasetRequired ? " --dataset FILE" : " [--dataset FILE]")}");
            output.WriteLine("       [--level medium] [--score-task ID] [--from CHECKPOINT] [common options]");
            output.WriteLine($"       o2rl {command} --resume DIR [--device NAME] [--checkpoint-every N] [--quiet]");
            output.WriteLine("Trains and writes a run folder: run.json, config.json, metrics.csv, metrics.jsonl, a TensorBoard event file,");
            output.WriteLine("checkpoints/ (step_N: the full training state, for --resume; policy_N: the policy at that step, for act, eval or");
            output.WriteLine("--from; the two newest of each are kept), the final checkpoint and summary.json.");
            if (datasetRequired)
                output.WriteLine("--resume continues exactly where the last checkpoint left off; it refuses a dataset file that changed since.");
            output.WriteLine("Config keys: the algorithm's record in snake_case.");
            output.Write(CommonUsage);
            return 0;
        }
        if (given.Positionals.Count > 0) throw new UsageException($"unexpected argument '{given.Positionals[0]}'");
        foreach (string only in finetune ? ["algo"] : new[] { "variant", "mode" })
            if (given.Has(only)) throw new UsageException($"--{only} is not an option of o2rl {command}{(finetune ? " (use --variant)" : "")}");

        string? resumeDirectory = given.Get("resume");
        var reader = given;
        if (resumeDirectory is not null)
        {
            var extra = Options.Where(o => given.Has(o) && !ResumeOptions.Contains(o)).ToList();
            if (extra.Count > 0)
                throw new UsageException($"--resume continues a run as it was started (settings from its run.json); --{extra[0]} cannot be changed (only --device, --checkpoint-every, --quiet)");
            if (!RunFolder.IsRunFolder(resumeDirectory)) throw new UsageException($"'{resumeDirectory}' is not a run folder (no run.json)");
            var started = RunFolder.Open(resumeDirectory);
            if (started.Info.Command != command || started.Info.Arguments is null)
                throw new UsageException($"'{resumeDirectory}' was not started by o2rl {command} (run.json command '{started.Info.Command}'); it cannot be resumed here");
            if (File.Exists(started.SummaryPath)) throw new UsageException($"'{resumeDirectory}' is complete (summary.json exists); nothing to resume");
            // The original arguments first, then the ones given now: later options win.
            reader = new ArgumentReader([.. started.Info.Arguments, .. ArgumentReader.WithoutResume(args)], Options, Flags);
        }

        string algorithm = (reader.Get(selector) ?? throw new UsageException($"--{selector} is required ({string.Join(", ", algorithms.Keys)})")).ToLowerInvariant();
        if (!algorithms.TryGetValue(algorithm, out var run))
            throw new UsageException($"unknown --{selector} '{algorithm}' for {command}; choose one of {string.Join(", ", algorithms.Keys)}");
        // The mode comes from --mode, or from a --set mode=… override (the last one wins, as in the config loader).
        string? mode = (reader.Get("mode") ?? reader.GetAll("set").LastOrDefault(o => o.StartsWith("mode=", StringComparison.Ordinal))?[5..])?.ToLowerInvariant();
        if (!finetune) mode = null;
        if (mode is not null && !FineTuneModes.Contains(mode))
            throw new UsageException($"unknown --mode '{mode}'; choose one of {string.Join(", ", FineTuneModes)}");
        string environmentId = reader.Get("env") ?? throw new UsageException("--env is required (o2rl envs lists them)");
        try { ScoreTasks.CheckPairing(reader.Get("score-task"), environmentId); }
        catch (ArgumentException e) { throw new UsageException($"--score-task: {e.Message}"); }
        string? dataset = reader.Get("dataset");
        if (datasetRequired && dataset is null) throw new UsageException("--dataset FILE is required");
        // A resumed run reads its files again from where run.json says they were: say so when one has moved.
        string Resumed(string what) => resumeDirectory is null ? "" :
            $" (the {what} this run was started with, recorded in {Path.Combine(resumeDirectory, RunFolder.RunInfoFile)}; the resumed run reads it again: put it back at that path)";
        if (dataset is not null && !File.Exists(dataset)) throw new UsageException($"dataset '{dataset}' does not exist{Resumed("--dataset")}");
        string? from = reader.Get("from");
        if (from is not null && !File.Exists(from)) throw new UsageException($"checkpoint '{from}' does not exist{Resumed("--from policy")}");
        if (finetune && from is null && mode != "scratch")
            throw new UsageException($"--from CHECKPOINT is required (the offline policy to fine-tune); only --mode scratch starts without one");
        if (finetune && dataset is null && (mode ?? "ocr-cft") == "ocr-cft")
            throw new UsageException("--dataset FILE is required for OCR-CFT (stages A and B learn from it, and stage C mixes it into every batch)");
        string? configFile = reader.Get("config");
        if (configFile is not null && !File.Exists(configFile)) throw new UsageException($"config file '{configFile}' does not exist{Resumed("--config file")}");
        int seed = reader.GetInt("seed", 0, 0);
        long? checkpointEvery = reader.Has("checkpoint-every") ? reader.GetInt("checkpoint-every", 0, 0) : null;
        string outDir = resumeDirectory ?? reader.Get("out") ?? Path.Combine("runs", mode is null ? $"{algorithm}-{environmentId}-s{seed}" : $"{algorithm}-{mode}-{environmentId}-s{seed}");
        bool quiet = reader.Has("quiet");
        // The per-task settings (ALGORITHMS.md §7) are keyed on the dataset's level: without --level, read it from the
        // environment id, the file's 'level' attribute or its name, and say so; say too when it cannot be told.
        string? level = reader.Get("level");
        if (level is null && command != "online")
        {
            var inferred = DatasetLevels.Infer(environmentId, dataset);
            if (inferred is not null)
            {
                level = inferred.Name;
                if (!quiet) output.WriteLine($"dataset level '{level}' (from {inferred.Source}; --level overrides it)");
            }
            else if (dataset is not null && ConfigLoader.ShippedLevels(environmentId) is { Count: > 0 } levels)
                output.WriteLine($"note: the level of '{Path.GetFileName(dataset)}' is unknown (no --level, no 'level' attribute, none in its name), so " +
                    $"no per-task settings of {environmentId} apply; pass --level ({string.Join(", ", levels)}) to use them");
        }

        using var backend = DeviceCatalog.Create(reader.Get("device"));
        RunFolder folder;
        string? resumeCheckpoint = null;
        if (resumeDirectory is null)
        {
            var info = new RunInfo
            {
                Command = command,
                Algorithm = algorithm,
                Variant = finetune ? mode ?? "ocr-cft" : null,
                Source = from is null ? null : StartingSource(from),
                Environment = environmentId,
                Dataset = level ?? (dataset is null ? null : Path.GetFileNameWithoutExtension(dataset)),
                ScoreTaskId = reader.Get("score-task"),
                Seed = seed,
                Label = reader.Get("label") is { } label && string.IsNullOrWhiteSpace(label)
                    ? throw new UsageException("--label is empty: give the method's name for reports and plots, or leave --label out")
                    : reader.Get("label"),
                Arguments = StoredArguments(args),
            };
            folder = RunFolder.Create(outDir, info, "{}");
        }
        else if (finetune)
        {
            // The offline stages' rows (their own step axes, before stage C) are complete once stage C has a checkpoint
            // and are not logged again, so the truncation to that checkpoint keeps them. Without one, the run repeats
            // what followed its last finished stage: the finished stages' rows stay, everything else goes.
            long stageCStep = RunFolder.Open(resumeDirectory).LatestCheckpoint()?.Step ?? -1;
            folder = stageCStep >= 0
                ? RunFolder.OpenForResume(resumeDirectory, stageCStep, FineTuneMetrics.IsOfflineStageMetric)
                : RunFolder.OpenForResume(resumeDirectory, -1, FineTuneMetrics.FinishedStageMetrics(resumeDirectory));
            resumeCheckpoint = folder.LatestCheckpoint()?.Path;
            output.WriteLine(stageCStep >= 0
                ? $"resuming {folder.Directory} from online step {stageCStep:N0}"
                : $"{folder.Directory} has no online checkpoint yet: continuing after its last finished stage");
        }
        else
        {
            folder = RunFolder.OpenForResume(resumeDirectory);
            resumeCheckpoint = folder.LatestCheckpoint()?.Path;
            output.WriteLine(folder.ResumedFromStep is long step && step >= 0
                ? $"resuming {folder.Directory} from step {step:N0}"
                : $"{folder.Directory} has no checkpoint yet: starting it over");
        }

        using var ctrlC = new CtrlCStop();
        var metrics = folder.OpenMetrics();
        try
        {
            var context = new RunContext
            {
                Backend = backend,
                EnvironmentId = environmentId,
                Seed = seed,
                DatasetPath = dataset,
                DatasetName = level,
                ScoreTaskId = reader.Get("score-task"),
                OutputDirectory = folder.Directory,
                ConfigFile = configFile,
                // --mode is the variant's `mode` key, applied before --set so an explicit --set still wins.
                Overrides = mode is null ? reader.GetAll("set") : [$"mode={mode}", .. reader.GetAll("set")],
                Metrics = metrics,
                Progress = ProgressWriter(output, quiet),
                InitialCheckpoint = from,
                CheckpointEvery = checkpointEvery,
                ResumeCheckpoint = resumeCheckpoint,
                Cancellation = ctrlC.Token,
            };
            // Times this session after the earlier ones of a resumed run, so summary.json's wall_seconds covers them all.
            using var wallTime = RunWallTime.Start(folder.Directory);
            if (wallTime.UnreadableEarlierRecord is string unreadable) error.WriteLine($"note: {unreadable}");
            RunResult result;
            try
            {
                result = run(context);
            }
            catch (OperationCanceledException) when (ctrlC.Requested)
            {
                string last = folder.LatestCheckpoint() is not { } c ? "no checkpoint was saved yet"
                    : $"the last checkpoint is step {c.Step:N0}" + (File.Exists(folder.PolicyPath(c.Step)) ? $" (its policy: {folder.PolicyPath(c.Step)})" : "");
                error.WriteLine($"o2rl {command}: stopped; {last}; continue with: o2rl {command} --resume {folder.Directory}");
                return 1;
            }
            catch when (resumeDirectory is null && folder.ReadMetrics().Count == 0)
            {
                // Nothing was trained (bad config key or value, unreadable dataset …): leave no half-made run folder behind.
                metrics.Dispose();
                wallTime.Dispose();
                Directory.Delete(folder.Directory, recursive: true);
                throw;
            }
            metrics.Dispose();
            wallTime.Dispose();
            var rows = folder.ReadMetrics();
            folder.WriteSummary(rows.Count == 0 ? 0 : rows.Max(r => r.Step), metrics.LastValues, wallTime.TotalSeconds, wallTime.Sessions);
            if (result.FinalEvaluation is { } evaluation)
                output.WriteLine($"{algorithm} on {environmentId}: final evaluation {evaluation.MeanReturn:F1} ± {evaluation.StdReturn:F1}" +
                    (evaluation.NormalizedMean is double n ? $" (normalised {n:F1})" : "") + $" over {evaluation.Returns.Length} episodes");
            output.WriteLine($"run folder: {folder.Directory}{(result.CheckpointPath is null ? "" : $"; checkpoint: {result.CheckpointPath}")}");
            if (BestPolicyLine(folder.Directory) is string best) output.WriteLine(best);
            return 0;
        }
        finally
        {
            metrics.Dispose();
        }
    }

    /// <summary>The arguments as run.json keeps them: file options made absolute, no --resume, --device or --quiet.</summary>
    // Device and progress are chosen anew by whoever resumes; they do not change what is computed on the CPU.
    internal static string[] StoredArguments(string[] args) => ArgumentReader.ForResume(args, Options, PathOptions, ["device", "quiet", "resume"]);

    /// <summary>
    /// The algorithm the starting policy's file records, "pytorch" for a file without one, null when it cannot be read
    /// (the run then fails on it with its own message).
    /// </summary>
    static string? StartingSource(string path)
    {
        try { return O2RL.Engine.Checkpoints.SafetensorsFile.Read(path).Metadata.GetValueOrDefault("algorithm") ?? "pytorch"; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or O2RL.Engine.Checkpoints.CheckpointFormatException) { return null; }
    }

    /// <summary>"best evaluated policy: … (step N, score S)" from the run folder's best_policy.json, or null.</summary>
    static string? BestPolicyLine(string runDirectory)
    {
        string info = Path.Combine(runDirectory, RunFolder.BestPolicyInfoFile);
        if (!File.Exists(info)) return null;
        var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(info));
        if (record?["step"] is not { } step || record["score"] is not { } score) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"best evaluated policy: {Path.Combine(runDirectory, RunFolder.BestPolicyFile)} (step {step.GetValue<long>():N0}, score {score.GetValue<double>():F1})");
    }
}
