using System.Globalization;
using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.FineTuning.O2Td3;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Tests.Runs;
using O2RL.Algorithms.Training;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// The policy files a fine-tuning run reads and writes besides its final one. The stage files of O2SAC and O2TD3 are policies too: <c>o2rl eval --policy stage-b.safetensors</c> evaluates the
/// aligned actor as the run did. Before, O2SAC's stage files had no dimensions or normalisation (eval refused them),
/// and O2TD3's had no normalisation, so eval ran the TD3+BC-normalised actor on raw observations without a word
/// (HalfCheetah medium-replay: normalised 5.2 against the run's aligned 33.7).
/// </summary>
public sealed class FineTunePolicyFileTests
{
    const string Environment = "Pendulum-v1";
    const int Seed = 3;

    static string Dataset() =>
        ShippedDatasets.Find(Environment, "medium") ?? throw new FileNotFoundException($"no shipped {Environment} medium dataset under {ShippedDatasets.Root}");

    static RunResult Run(Func<RunContext, RunResult> run, string? folder, string? initial, params string[] overrides)
    {
        using var backend = new CpuBackend(1);
        return run(new RunContext
        {
            Backend = backend, EnvironmentId = Environment, DatasetName = "medium", Seed = Seed, DatasetPath = Dataset(),
            InitialCheckpoint = initial, OutputDirectory = folder, Overrides = overrides,
        });
    }

    /// <summary>Evaluates a file the way <c>o2rl eval</c> does (its own normalisation), on the evaluation seed the run used.</summary>
    static double EvaluateAsEvalDoes(string path, int evaluationSeed, int episodes)
    {
        using var backend = new CpuBackend(1);
        var loaded = PolicyCheckpoints.Load(backend, path);
        Assert.NotNull(loaded.Normalizer);
        using var evaluator = new Evaluator(PolicyEnvironment.Make(Environment, loaded.Normalizer), Environment, evaluationSeed);
        return evaluator.Evaluate(loaded.Policy, episodes).MeanReturn;
    }

    static double Recorded(string path, string key) =>
        double.Parse(SafetensorsFile.Read(path).Metadata[key], NumberStyles.Float, CultureInfo.InvariantCulture);

    [Fact]
    public void O2SacStageBIsThePolicyTheRunScoredAsAligned()
    {
        using var root = new TemporaryFolder();
        string cql = Run(CqlRun.Run, root.Combine("cql"), null,
            "steps=300", "batch_size=32", "actor_hidden=[16]", "critic_hidden=[16]", "eval_every=0", "eval_episodes=1").CheckpointPath!;
        string folder = root.Combine("o2sac");
        Run(O2SacRun.Run, folder, cql, "reevaluation_steps=100", "alignment_steps=100", "online_steps=200", "warmup_steps=100",
            "batch_size=16", "critic_hidden=[8]", "eval_every=200", "eval_episodes=2", "threshold_steps=200");
        string stageB = Path.Combine(folder, O2SacRun.StageBFile);
        // The run evaluates with seed + 10,000 (O2SacRun's evaluation seed).
        Assert.Equal(Recorded(stageB, "score.aligned_return"), EvaluateAsEvalDoes(stageB, Seed + 10_000, episodes: 2));
        // Same normalisation as the run's final policy file.
        using var backend = new CpuBackend(1);
        Assert.Equal(PolicyCheckpoints.Load(backend, Path.Combine(folder, "o2sac.safetensors")).Normalizer!.Mean,
            PolicyCheckpoints.Load(backend, stageB).Normalizer!.Mean);
    }

    [Fact]
    public void O2Td3StageBIsThePolicyTheRunScoredAsAligned()
    {
        using var root = new TemporaryFolder();
        string td3bc = Run(Td3BcRun.Run, root.Combine("td3bc"), null,
            "max_steps=300", "batch_size=32", "actor_hidden=[16]", "critic_hidden=[16]", "evaluate_every=0", "evaluation_episodes=1").CheckpointPath!;
        string folder = root.Combine("o2td3");
        Run(O2Td3Run.Run, folder, td3bc, "reevaluation_steps=100", "alignment_steps=100", "online_steps=200", "warmup_steps=100",
            "batch_size=16", "critic_hidden=[8]", "evaluate_every=200", "evaluation_episodes=2", "threshold_steps=200");
        string stageB = Path.Combine(folder, O2Td3StageFile.FileName('b'));
        // O2TD3 evaluates on a seed derived from the run's (O2Td3Run's evaluator).
        Assert.Equal(Recorded(stageB, "aligned_return"), EvaluateAsEvalDoes(stageB, Envs.EnvRandom.DeriveSeed(Seed, 1_000_003), episodes: 2));
    }

    [Fact]
    public void O2PpoStageAIsNamedAsTheValueNetworkItHolds()
    {
        // O2PPO's stage file holds the pre-trained value network only: eval said it was "not a valid safetensors file".
        using var root = new TemporaryFolder();
        string path = root.Combine("stage-a.safetensors");
        SafetensorsFile.Write(path, [new NamedTensor("value.net.0.weight", [4, 3], new float[12]), new NamedTensor("value.net.0.bias", [4], new float[4])],
            new Dictionary<string, string> { ["algorithm"] = "o2ppo", ["stage"] = "a", ["obs_dim"] = "3", ["act_dim"] = "1" });
        using var backend = new CpuBackend(1);
        var refused = Assert.Throws<CheckpointFormatException>(() => PolicyCheckpoints.Load(backend, path));
        Assert.Contains("O2PPO's stage file after value pre-training", refused.Message);
        Assert.DoesNotContain("not a valid safetensors file", refused.Message);

        // A well-formed file of another layout is said to be unusable here, not corrupt.
        string other = root.Combine("other.safetensors");
        SafetensorsFile.Write(other, [new NamedTensor("encoder.weight", [4, 3], new float[12])], new Dictionary<string, string> { ["algorithm"] = "iql" });
        var unusable = Assert.Throws<CheckpointFormatException>(() => PolicyCheckpoints.Load(backend, other));
        Assert.Contains("cannot be used here: no Gaussian actor found", unusable.Message);
    }

    [Fact]
    public void APyTorchActorIsScoredOnTheDatasetsNormalisationInO2SacsOfflineMode()
    {
        // A PyTorch state_dict carries no observation normalisation: every O2SAC mode normalises its states with the
        // dataset's constants, as CORL trained it. Before, --mode offline (and naive with buffer mode none) scored it
        // on raw observations: −1437 on Pendulum against −296 for the same weights in our checkpoint.
        using var root = new TemporaryFolder();
        string ours = Run(CqlRun.Run, root.Combine("cql"), null,
            "steps=200", "batch_size=32", "actor_hidden=[16]", "critic_hidden=[16]", "eval_every=0", "eval_episodes=1").CheckpointPath!;
        // The same actor as a bare PyTorch state_dict: CORL's names, no metadata, no constants.
        string pytorch = root.Combine("actor.safetensors");
        var tensors = SafetensorsFile.Read(ours).Tensors.Values.Where(t => t.Name.StartsWith("actor.", StringComparison.Ordinal))
            .Select(t => new NamedTensor(t.Name["actor.".Length..], t.Shape, t.Data)).ToList();
        SafetensorsFile.Write(pytorch, tensors);

        var fromOurs = Run(O2SacRun.Run, null, ours, "mode=offline", "eval_episodes=3").FinalEvaluation!;
        var fromPyTorch = Run(O2SacRun.Run, null, pytorch, "mode=offline", "eval_episodes=3").FinalEvaluation!;
        Assert.Equal(fromOurs.Returns, fromPyTorch.Returns);
    }
}
