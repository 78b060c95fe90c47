using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;

namespace O2RL.Cli.Commands;

/// <summary><c>o2rl collect</c>: D4RL's dataset recipe (random, medium, medium-replay, expert, medium-expert) for any environment.</summary>
public static class CollectCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var reader = new ArgumentReader(args, ["env", "out", "rows", "seed", "device", "expert-return", "random-return", "config", "set", "levels"], ["quiet", "help"]);
        if (reader.Has("help"))
        {
            output.WriteLine("usage: o2rl collect --env ID --out DIR [--levels L,L...] [--rows N] [--seed N] [--expert-return R] [--random-return R]");
            output.WriteLine("       [--device D] [--config SAC.yaml] [--set key=value ...] [--quiet]");
            output.WriteLine("Trains SAC (its per-task config, then --config/--set), snapshots it the first time an evaluation reaches one");
            output.WriteLine("third of the way from the random to the expert return, and writes <env>-{random,medium,medium-replay,expert,");
            output.WriteLine("medium-expert}.hdf5 in D4RL's layout with metadata. Tasks without D4RL reference scores need --expert-return.");
            output.WriteLine("--levels picks which of random,medium,medium-replay,expert,medium-expert to write (default: all); without");
            output.WriteLine("expert and medium-expert, SAC stops at the medium snapshot (the affordable way to make medium and medium-replay).");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        string environmentId = reader.Get("env") ?? throw new UsageException("--env is required (o2rl envs lists them)");
        string outDir = reader.Get("out") ?? throw new UsageException("--out DIR is required");
        int rows = reader.GetInt("rows", 1_000_000, 1000);
        int seed = reader.GetInt("seed", 0, 0);
        var levels = ParseLevels(reader.Get("levels"));
        double? expert = ParseDouble(reader.Get("expert-return"), "expert-return");
        double? random = ParseDouble(reader.Get("random-return"), "random-return");
        var sac = ConfigLoader.Resolve(new SacConfig(), ConfigLoader.ShippedConfigPath("sac", environmentId, "online"), reader.Get("config"), reader.GetAll("set"));
        using var backend = DeviceCatalog.Create(reader.Get("device"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (random is null && !O2RL.Data.NormalizedScores.TryGet(environmentId, out _))
        {
            // No reference scores: measure the uniform-random policy's return, the lower end of the medium threshold.
            using var env = O2RL.Envs.EnvironmentRegistry.Make(environmentId);
            var randomRows = DatasetCollection.Collect(env, null, 20 * 1000, seed + 77);
            random = DatasetCollection.MeanEpisodeReturn(randomRows);
            output.WriteLine($"random-policy return measured: {random:F1}");
        }
        var result = DatasetRecipe.Generate(backend, environmentId, sac,
            new DatasetRecipeOptions { Rows = rows, Seed = seed, ExpertReturn = expert, RandomReturn = random, Levels = levels }, outDir, reader.Has("quiet") ? null : output);
        foreach (var (level, path) in result.Paths)
        {
            var dataset = result.Datasets[level];
            output.WriteLine($"{level,-14} {dataset.Rewards.Length,9:N0} rows  behaviour return {dataset.Metadata.BehaviourReturn:F1}  {path}");
        }
        string expertPart = double.IsNaN(result.ExpertSnapshotReturn) ? "SAC stopped there" : $"expert policy final return {result.ExpertSnapshotReturn:F1}";
        output.WriteLine($"medium snapshot at step {result.MediumSnapshotStep} (return {result.MediumSnapshotReturn:F1}); {expertPart}; SAC trained {result.TrainedSteps:N0} steps; {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

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
