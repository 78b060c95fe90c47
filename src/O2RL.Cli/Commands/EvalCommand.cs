using O2RL.Algorithms.Training;

namespace O2RL.Cli.Commands;

/// <summary><c>o2rl eval</c>: N evaluation episodes of a checkpoint's policy, raw and normalised returns.</summary>
public static class EvalCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var reader = new ArgumentReader(args, ["policy", "env", "episodes", "seed", "device", "score-task", "obs-mean", "obs-std", "normalize-from"],
            ["stochastic", "json", "help"]);
        if (reader.Has("help"))
        {
            output.WriteLine("usage: o2rl eval --policy CHECKPOINT [--env ID] [--episodes 10] [--seed N] [--stochastic] [--score-task ID] [--json]");
            output.WriteLine("       [--normalize-from DATASET.hdf5 | --obs-mean a,b,… --obs-std a,b,…]   (a PyTorch state_dict only)");
            output.WriteLine("Runs the policy of any O2RL checkpoint (deterministic unless --stochastic) on a fresh environment, with the");
            output.WriteLine("observation normalisation saved in the checkpoint. --env defaults to the checkpoint's environment.");
            output.WriteLine("A PyTorch state_dict (CORL's tanh-Gaussian, TD3+BC or IQL actor; see o2rl act --help) keeps no normalisation:");
            output.WriteLine("give the constants it was trained with, --normalize-from DATASET.hdf5 (as CORL computes them) or");
            output.WriteLine("--obs-mean/--obs-std (zeros and ones for raw observations), and --env; its [-1, 1] actions are mapped onto the");
            output.WriteLine("task's action box as every policy's are.");
            output.WriteLine("The ± is the population standard deviation over the episodes (the evaluation protocol's; o2rl report's ± is");
            output.WriteLine("the sample standard deviation over seeds).");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        string path = reader.Get("policy") ?? throw new UsageException("--policy CHECKPOINT is required");
        if (!File.Exists(path)) throw new UsageException($"checkpoint '{path}' does not exist");
        // An explicit --score-task asks for a normalised score: one without reference scores is refused, not skipped.
        if (reader.Get("score-task") is string scoreTask && !O2RL.Data.NormalizedScores.TryGet(scoreTask, out _))
            throw new UsageException($"--score-task '{scoreTask}' has no reference scores: use a D4RL id such as hopper-medium-v2 (or leave it out for raw returns)");
        int episodes = reader.GetInt("episodes", 10, 1, 100_000);
        int seed = reader.GetInt("seed", 0, 0);
        using var backend = DeviceCatalog.Create(reader.Get("device"));
        var (mean, std) = ActCommand.ObservationConstants(reader);
        // No algorithm recorded: a PyTorch state_dict, unless it is one of our step states (refused by Load, naming the policy file to use).
        var metadata = O2RL.Engine.Checkpoints.SafetensorsFile.Read(path).Metadata;
        bool pytorch = !metadata.ContainsKey("algorithm") && TrainingState.NotAPolicy(metadata) is null;
        if (pytorch && mean is null)
            throw new UsageException($"'{path}' is a PyTorch state_dict (no algorithm recorded), which keeps no observation normalisation: give the " +
                "constants it was trained with, --normalize-from DATASET.hdf5 (as CORL computes them) or --obs-mean/--obs-std (zeros and ones for raw observations)");
        if (!pytorch && mean is not null)
            throw new UsageException("--normalize-from and --obs-mean/--obs-std are for a PyTorch state_dict; an O2RL checkpoint acts with the constants it was trained with");
        var loaded = pytorch ? PolicyCheckpoints.LoadPyTorch(backend, path, new O2RL.Data.StateNormalizer(mean!, std!), (ulong)seed)
            : PolicyCheckpoints.Load(backend, path, (ulong)seed);
        string environmentId = reader.Get("env") ?? loaded.EnvironmentId ?? throw new UsageException("the checkpoint names no environment; pass --env");
        try { ScoreTasks.CheckPairing(reader.Get("score-task"), environmentId); }
        catch (ArgumentException e) { throw new UsageException($"--score-task: {e.Message}"); }
        var environment = PolicyEnvironment.Make(environmentId, loaded.Normalizer);
        if (environment.ObservationSpace.Dimension != loaded.Policy.ObservationDim || environment.ActionSpace.Dimension != loaded.Policy.ActionDim)
            throw new UsageException($"the policy maps {loaded.Policy.ObservationDim} observations to {loaded.Policy.ActionDim} actions but {environmentId} has " +
                $"{environment.ObservationSpace.Dimension} and {environment.ActionSpace.Dimension}");
        using var evaluator = new Evaluator(environment, reader.Get("score-task") ?? environmentId, seed);
        // Progress (episodes done, ETA, the running mean return) on standard error, so --json output stays clean.
        var progress = new ProgressReporter(error, $"eval {environmentId}", episodes);
        double sum = 0;
        var result = evaluator.Evaluate(loaded.Policy, episodes, deterministic: !reader.Has("stochastic"),
            (done, episodeReturn) => progress.Report(done, $"mean return {(sum += episodeReturn) / done:F1}"));
        progress.Close();
        if (reader.Has("json"))
        {
            output.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
            {
                algorithm = loaded.Algorithm, environment = environmentId, episodes, mean_return = result.MeanReturn, std_return = result.StdReturn,
                normalized_mean = result.NormalizedMean, normalized_std = result.NormalizedStd, mean_length = result.MeanLength, returns = result.Returns,
            }));
        }
        else
        {
            output.WriteLine($"{loaded.Algorithm} policy on {environmentId}, {episodes} episode(s){(reader.Has("stochastic") ? " (stochastic)" : "")}:");
            output.WriteLine($"  return {result.MeanReturn:F2} ± {result.StdReturn:F2}, mean length {result.MeanLength:F1}" +
                (result.NormalizedMean is double n ? $", normalised {n:F2} ± {result.NormalizedStd:F2}" : ""));
        }
        return 0;
    }
}
