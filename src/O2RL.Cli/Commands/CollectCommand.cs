using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;

namespace O2RL.Cli.Commands;

/// <summary><c>o2rl collect</c>: D4RL's dataset recipe (random, medium, medium-replay, expert, medium-expert) for any environment.</summary>
public static class CollectCommand
{
    /// <summary>File in the output folder holding the arguments the collection was started with (for --resume).</summary>
    public const string ArgumentsFile = "collect.json";
    /// <summary>Folder in the output folder holding the SAC run's full-state checkpoints; removed once the datasets are written.</summary>
    public const string StateFolder = "collect-state";

    static readonly string[] Options = ["env", "out", "rows", "seed", "device", "expert-return", "random-return", "config", "set", "levels", "resume", "checkpoint-every", "expert-policy"];
    static readonly string[] Flags = ["quiet", "help"];

    /// <summary>Runs the command.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var given = new ArgumentReader(args, Options, Flags);
        if (given.Has("help"))
        {
            output.WriteLine("usage: o2rl collect --env ID --out DIR [--levels L,L...] [--rows N] [--seed N] [--expert-return R] [--random-return R]");
            output.WriteLine("       [--expert-policy final|best] [--device D] [--config SAC.yaml] [--set key=value ...] [--checkpoint-every N] [--quiet]");
            output.WriteLine("       o2rl collect --resume DIR [--device D] [--checkpoint-every N] [--quiet]");
            output.WriteLine("Trains SAC (its per-task config, then --config/--set), snapshots it the first time an evaluation reaches one");
            output.WriteLine("third of the way from the random to the expert return, and writes <env>-{random,medium,medium-replay,expert,");
            output.WriteLine("medium-expert}.hdf5 in D4RL's layout with metadata. Tasks without D4RL reference scores need --expert-return.");
            output.WriteLine("--levels picks which of random,medium,medium-replay,expert,medium-expert to write (default: all); without");
            output.WriteLine("expert and medium-expert, SAC stops at the medium snapshot (the affordable way to make medium and medium-replay).");
            output.WriteLine("--expert-policy: which SAC policy rolls out the expert level: final (D4RL's recipe, the default) or best, the");
            output.WriteLine("policy of the best periodic evaluation (not D4RL's; for runs whose last policy is a poor one). Each file's");
            output.WriteLine("behaviour_policy attribute says which policy made it.");
            output.WriteLine($"The SAC run saves its full state in DIR/{StateFolder}/ at the first episode end after every --checkpoint-every");
            output.WriteLine("steps (default: every evaluation; 0 = never); Ctrl+C stops it between two steps, and --resume DIR continues it");
            output.WriteLine($"exactly (the datasets equal those of an uninterrupted run). The state folder is removed once the datasets are written.");
            return 0;
        }
        if (given.Positionals.Count > 0) throw new UsageException($"unexpected argument '{given.Positionals[0]}'");

        string? resumeDirectory = given.Get("resume");
        var reader = given;
        if (resumeDirectory is not null)
        {
            var extra = Options.Where(o => given.Has(o) && o is not ("resume" or "device" or "checkpoint-every")).ToList();
            if (extra.Count > 0)
                throw new UsageException($"--resume continues a collection as it was started (settings from its {ArgumentsFile}); --{extra[0]} cannot be changed (only --device, --checkpoint-every, --quiet)");
            string argumentsPath = Path.Combine(resumeDirectory, ArgumentsFile);
            if (!File.Exists(argumentsPath)) throw new UsageException($"'{resumeDirectory}' holds no {ArgumentsFile}; it was not started by o2rl collect");
            string[] stored;
            try
            {
                stored = System.Text.Json.JsonSerializer.Deserialize<string[]>(File.ReadAllText(argumentsPath)) ?? throw new InvalidDataException("null");
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException)
            {
                throw new UsageException($"{argumentsPath} is not a list of arguments ({e.Message})");
            }
            reader = new ArgumentReader([.. stored, .. ArgumentReader.WithoutResume(args)], Options, Flags);
        }

        string environmentId = reader.Get("env") ?? throw new UsageException("--env is required (o2rl envs lists them)");
        string outDir = resumeDirectory ?? reader.Get("out") ?? throw new UsageException("--out DIR is required");
        int rows = reader.GetInt("rows", 1_000_000, 1000);
        int seed = reader.GetInt("seed", 0, 0);
        var levels = ParseLevels(reader.Get("levels"));
        var expertPolicy = reader.Get("expert-policy")?.Trim().ToLowerInvariant() switch
        {
            null or "final" => ExpertPolicy.Final,
            "best" => ExpertPolicy.BestEvaluated,
            var other => throw new UsageException($"--expert-policy must be final or best, got '{other}'"),
        };
        double? expert = ParseDouble(reader.Get("expert-return"), "expert-return");
        double? random = ParseDouble(reader.Get("random-return"), "random-return");
        long? checkpointEvery = reader.Has("checkpoint-every") ? reader.GetInt("checkpoint-every", 0, 0) : null;
        string? configFile = reader.Get("config");
        if (configFile is not null && !File.Exists(configFile)) throw new UsageException($"config file '{configFile}' does not exist");
        var sac = ConfigLoader.Resolve(new SacConfig(), ConfigLoader.ShippedConfigPath("sac", environmentId, "online"), configFile, reader.GetAll("set"));
        string stateDirectory = Path.Combine(outDir, StateFolder);
        string? LatestCheckpoint() => Directory.Exists(stateDirectory)
            ? Directory.EnumerateFiles(stateDirectory, "step_*.safetensors").Order(StringComparer.Ordinal).LastOrDefault()
            : null;
        string? resumeCheckpoint = null;
        if (resumeDirectory is not null)
        {
            resumeCheckpoint = LatestCheckpoint();
            output.WriteLine(resumeCheckpoint is null
                ? $"{outDir} has no SAC checkpoint yet: starting the collection over"
                : $"resuming the collection in {outDir} from {Path.GetFileName(resumeCheckpoint)}");
        }
        else
        {
            if (Directory.Exists(stateDirectory) && Directory.EnumerateFiles(stateDirectory).Any())
                throw new UsageException($"'{outDir}' holds a stopped collection ({StateFolder}/); continue it with o2rl collect --resume {outDir}, or choose another --out");
            Directory.CreateDirectory(outDir);
            O2RL.Algorithms.Runs.AtomicFile.WriteAllText(Path.Combine(outDir, ArgumentsFile), System.Text.Json.JsonSerializer.Serialize(StoredArguments(args)));
        }

        using var backend = DeviceCatalog.Create(reader.Get("device"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (random is null && !O2RL.Data.NormalizedScores.TryGet(environmentId, out _) && levels.Any(level => level != "random"))
        {
            // No reference scores: measure the uniform-random policy's return, the lower end of the medium threshold.
            // In the actors' [−1, 1] box (a uniform action there is a uniform action in the task's own box).
            using var env = PolicyEnvironment.Make(environmentId, null);
            var randomRows = DatasetCollection.Collect(env, null, 20 * 1000, seed + 77);
            random = DatasetCollection.MeanEpisodeReturn(randomRows);
            output.WriteLine($"random-policy return measured: {random:F1}");
        }

        using var ctrlC = new CtrlCStop();
        DatasetRecipeResult result;
        try
        {
            result = DatasetRecipe.Generate(backend, environmentId, sac, new DatasetRecipeOptions
            {
                Rows = rows, Seed = seed, ExpertReturn = expert, RandomReturn = random, Levels = levels,
                CheckpointDirectory = checkpointEvery == 0 ? null : stateDirectory, CheckpointEvery = checkpointEvery,
                ResumeCheckpoint = resumeCheckpoint, Cancellation = ctrlC.Token, ExpertPolicy = expertPolicy,
            }, outDir, reader.Has("quiet") ? null : output);
        }
        catch (OperationCanceledException) when (ctrlC.Requested)
        {
            string? last = LatestCheckpoint();
            error.WriteLine($"o2rl collect: stopped; {(last is null ? "no checkpoint was saved yet" : $"the last checkpoint is {Path.GetFileName(last)}")}; continue with: o2rl collect --resume {outDir}");
            return 1;
        }
        // The datasets are written: the SAC state (as large as its replay) has done its job.
        if (Directory.Exists(stateDirectory)) Directory.Delete(stateDirectory, recursive: true);
        foreach (var (level, path) in result.Paths)
        {
            var dataset = result.Datasets[level];
            output.WriteLine($"{level,-14} {dataset.Rewards.Length,9:N0} rows  behaviour return {dataset.Metadata.BehaviourReturn:F1}  {path}");
        }
        if (result.MediumSnapshotStep < 0)
        {
            output.WriteLine($"random actions only: no SAC run; {clock.Elapsed.TotalSeconds:F0} s");
            return 0;
        }
        string expertPart = result.ExpertSnapshotStep < 0 ? "SAC stopped there"
            : result.ExpertSnapshotStep == result.TrainedSteps ? $"expert policy final, return {result.ExpertSnapshotReturn:F1}"
            : $"expert policy from step {result.ExpertSnapshotStep:N0} (best evaluation, return {result.ExpertSnapshotReturn:F1})";
        output.WriteLine($"medium snapshot at step {result.MediumSnapshotStep:N0} (return {result.MediumSnapshotReturn:F1}); {expertPart}; SAC trained {result.TrainedSteps:N0} steps; {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    /// <summary>The arguments as collect.json keeps them: --config and --out made absolute, no --device, --quiet or --checkpoint-every.</summary>
    static string[] StoredArguments(string[] args) => ArgumentReader.ForResume(args, Options, ["config", "out"], ["device", "quiet", "checkpoint-every"]);

    static IReadOnlyList<string> ParseLevels(string? text)
    {
        if (text is null) return DatasetRecipe.AllLevels;
        var levels = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (levels.Length == 0) throw new UsageException("--levels needs at least one level");
        foreach (string level in levels)
            if (!DatasetRecipe.AllLevels.Contains(level))
                throw new UsageException($"--levels: unknown level '{level}' (choose from {string.Join(",", DatasetRecipe.AllLevels)})");
        return levels;
    }

    static double? ParseDouble(string? text, string name)
    {
        if (text is null) return null;
        return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value)
            ? value : throw new UsageException($"--{name} must be a number, got '{text}'");
    }
}
