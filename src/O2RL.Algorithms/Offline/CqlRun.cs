using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Algorithms.Offline;

/// <summary>Offline CQL training runs (the O2SAC starting point).</summary>
public static class CqlRun
{
    /// <summary>Algorithm name (config folder, checkpoint file and metadata).</summary>
    public const string Algorithm = "cql";

    /// <summary>
    /// Trains CQL on <see cref="RunContext.DatasetPath"/> (D4RL layout → Q-learning transitions → reward map →
    /// s and s′ normalised with the dataset mean and std + 1e-3) and evaluates on the environment with the same
    /// normalisation. Writes config.json and cql.safetensors (actor, critics, targets, log α, log α′, iteration,
    /// with the normalisation constants in the metadata) when an output folder is given.
    /// </summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.DatasetPath is null) throw new ArgumentException("CQL needs a dataset file (RunContext.DatasetPath)");
        string? shipped = ConfigLoader.ShippedConfigPath(Algorithm, context.EnvironmentId, context.ResolveDatasetName());
        var config = ConfigLoader.Resolve(new CqlConfig(), shipped, context.ConfigFile, context.Overrides);
        config.Validate();
        string configJson = ConfigLoader.ToJson(config);
        context.RecordConfig(configJson);

        var dataset = context.ReadDataset();
        var transitions = dataset.ToQLearning();
        if (config.RewardScale != 1f || config.RewardBias != 0f) transitions.TransformRewards(config.RewardScale, config.RewardBias);
        var normalizer = config.NormalizeStates ? StateNormalizer.ForQLearning(transitions) : StateNormalizer.Identity(transitions.ObservationDim);
        normalizer.NormalizeInPlace(transitions);
        int obsDim = transitions.ObservationDim, actionDim = transitions.ActionDim;

        var agent = new CqlAgent(context.Backend, obsDim, actionDim, config, (ulong)context.Seed);
        using var sampler = new MixedReplaySampler(context.Backend, OfflineMixing.All, transitions, obsDim, actionDim,
            transitions.Count, config.BatchSize, new DeviceRandom((ulong)context.Seed * 7 + 5));
        using var evaluator = new Evaluator(PolicyEnvironment.Make(context.EnvironmentId, normalizer),
            context.ScoreTaskId ?? context.EnvironmentId, context.Seed + 10_000);
        var trainer = new OfflineTrainer(evaluator, agent, sampler.Sample, sampler.Random, DatasetFingerprint.Of(dataset), new OfflineLoopOptions
        {
            TotalUpdates = config.Steps,
            LogEvery = config.LogEvery,
            EvaluateEvery = config.EvalEvery,
            EvaluationEpisodes = config.EvalEpisodes,
            ProgressLabel = Algorithm,
        }, context.Metrics, context.Progress)
        {
            Checkpoints = TrainingCheckpoints.For(context, agent, Algorithm, config.EvalEvery, SavePolicy),
            Cancellation = context.Cancellation,
        };
        var last = trainer.Run();
        last ??= evaluator.Evaluate(agent.Policy, config.EvalEpisodes);

        return new RunResult(last, context.SaveFinalPolicy(Algorithm, SavePolicy), configJson);

        void SavePolicy(string path) => SacCheckpoint.Save(path, agent.Learner, Algorithm, context.EnvironmentId, normalizer, configJson, agent.ExtraCheckpointTensors());
    }

    /// <summary>Loads the CQL actor (with log-std multiplier and offset) and its normalisation from a checkpoint.</summary>
    public static (TanhGaussianActor Actor, StateNormalizer Normalizer) LoadActor(string path, Backend backend) =>
        SacCheckpoint.LoadActor(path, backend);
}
