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

    static readonly string[] Options = ["algo", "env", "dataset", "level", "score-task", "seed", "device", "config", "set", "out", "from"];
    static readonly string[] Flags = ["quiet", "help"];

    /// <summary><c>o2rl online --algo sac|td3|ppo --env ID [...]</c>.</summary>
    public static int Online(string[] args, TextWriter output, TextWriter error) => Train(args, output, OnlineAlgorithms, "online", datasetRequired: false);

    /// <summary><c>o2rl offline --algo cql|iql|td3bc --env ID --dataset FILE [...]</c>.</summary>
    public static int Offline(string[] args, TextWriter output, TextWriter error) => Train(args, output, OfflineAlgorithms, "offline", datasetRequired: true);

    static int Train(string[] args, TextWriter output, Dictionary<string, Func<RunContext, RunResult>> algorithms, string command, bool datasetRequired)
    {
        var reader = new ArgumentReader(args, Options, Flags);
        if (reader.Has("help"))
        {
            output.WriteLine($"usage: o2rl {command} --algo {string.Join("|", algorithms.Keys)} --env ID{(datasetRequired ? " --dataset FILE" : " [--dataset FILE]")}");
            output.WriteLine("       [--level medium] [--seed N] [--device auto|cpu|cuda|opencl|ilgpu-cpu] [--config FILE.yaml]");
            output.WriteLine("       [--set key=value ...] [--out DIR] [--from CHECKPOINT] [--quiet]");
            output.WriteLine("Trains and writes a run folder (default runs/<algo>-<env>-s<seed>): config.json, metrics.csv, metrics.jsonl,");
            output.WriteLine("a TensorBoard event file, the checkpoint and summary.json. Config keys: the algorithm's record in snake_case.");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        string algorithm = (reader.Get("algo") ?? throw new UsageException($"--algo is required ({string.Join(", ", algorithms.Keys)})")).ToLowerInvariant();
        if (!algorithms.TryGetValue(algorithm, out var run))
            throw new UsageException($"unknown --algo '{algorithm}' for {command}; choose one of {string.Join(", ", algorithms.Keys)}");
        string environmentId = reader.Get("env") ?? throw new UsageException("--env is required (o2rl envs lists them)");
        string? dataset = reader.Get("dataset");
        if (datasetRequired && dataset is null) throw new UsageException("--dataset FILE is required");
        if (dataset is not null && !File.Exists(dataset)) throw new UsageException($"dataset '{dataset}' does not exist");
        string? from = reader.Get("from");
        if (from is not null && !File.Exists(from)) throw new UsageException($"checkpoint '{from}' does not exist");
        int seed = reader.GetInt("seed", 0, 0);
        string outDir = reader.Get("out") ?? Path.Combine("runs", $"{algorithm}-{environmentId}-s{seed}");
        bool quiet = reader.Has("quiet");

        using var backend = DeviceCatalog.Create(reader.Get("device"));
        var info = new RunInfo
        {
            Command = command,
            Algorithm = algorithm,
            Environment = environmentId,
            Dataset = reader.Get("level") ?? (dataset is null ? null : Path.GetFileNameWithoutExtension(dataset)),
            ScoreTaskId = reader.Get("score-task"),
            Seed = seed,
        };
        var folder = RunFolder.Create(outDir, info, "{}");
        using var metrics = folder.OpenMetrics();
        var context = new RunContext
        {
            Backend = backend,
            EnvironmentId = environmentId,
            Seed = seed,
            DatasetPath = dataset,
            DatasetName = reader.Get("level"),
            ScoreTaskId = reader.Get("score-task"),
            OutputDirectory = folder.Directory,
            ConfigFile = reader.Get("config"),
            Overrides = reader.GetAll("set"),
            Metrics = metrics,
            Progress = quiet ? null : output,
            InitialCheckpoint = from,
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        RunResult result;
        try
        {
            result = run(context);
        }
        catch when (folder.ReadMetrics().Count == 0)
        {
            // Nothing was trained (bad config key or value, unreadable dataset …): leave no half-made run folder behind.
            metrics.Dispose();
            Directory.Delete(folder.Directory, recursive: true);
            throw;
        }
        AtomicFile.WriteAllText(Path.Combine(folder.Directory, "config.json"), result.ResolvedConfigJson);
        var rows = folder.ReadMetrics();
        folder.WriteSummary(rows.Count == 0 ? 0 : rows.Max(r => r.Step), metrics.LastValues, clock.Elapsed.TotalSeconds);
        if (result.FinalEvaluation is { } evaluation)
            output.WriteLine($"{algorithm} on {environmentId}: final evaluation {evaluation.MeanReturn:F1} ± {evaluation.StdReturn:F1}" +
                (evaluation.NormalizedMean is double n ? $" (normalised {n:F1})" : "") + $" over {evaluation.Returns.Length} episodes");
        output.WriteLine($"run folder: {folder.Directory}{(result.CheckpointPath is null ? "" : $"; checkpoint: {result.CheckpointPath}")}");
        return 0;
    }
}
