using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine.Checkpoints;

namespace O2RL.Algorithms.Online;

/// <summary>
/// Online TD3 runs: from scratch (uniformly random warm-up actions, then TD3), or from a TD3-family checkpoint
/// (the naive fine-tuning baseline: the loaded actor acts from step one, its critics are loaded when the file
/// has them, the checkpoint's state normalisation and reward map are kept, and offline data is mixed in per
/// <see cref="Td3Config.BufferMode"/> when a dataset is given).
/// </summary>
public static class Td3Run
{
    /// <summary>Algorithm name in configs, checkpoints and file names.</summary>
    public const string AlgorithmName = "td3";

    /// <summary>Resolves the config (shipped file <c>configs/td3/&lt;env&gt;/&lt;dataset or "online"&gt;.yaml</c>), trains, evaluates, saves.</summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var config = ConfigLoader.Resolve(new Td3Config(),
            ConfigLoader.ShippedConfigPath(AlgorithmName, context.EnvironmentId, context.DatasetName ?? "online"), context.ConfigFile, context.Overrides);
        Td3Agent.Validate(config);
        string configJson = ConfigLoader.ToJson(config);
        context.RecordConfig(configJson);
        var backend = context.Backend;
        ulong seed = (ulong)(uint)context.Seed;

        Checkpoint? initial = context.InitialCheckpoint is null ? null : SafetensorsFile.Read(context.InitialCheckpoint, rejectNonFinite: true);
        var normalizer = initial is null ? null : Td3Checkpoint.ReadNormalizer(initial);
        float rewardScale = initial is null ? 1f : Td3Checkpoint.ReadFloat(initial, "reward_scale", 1f);
        float rewardShift = initial is null ? 0f : Td3Checkpoint.ReadFloat(initial, "reward_shift", 0f);

        using var environment = PolicyEnvironment.Make(context.EnvironmentId, normalizer);
        using var evaluator = new Evaluator(PolicyEnvironment.Make(context.EnvironmentId, normalizer), context.ScoreTaskId ?? context.EnvironmentId,
            Envs.EnvRandom.DeriveSeed(context.Seed, 1_000_003));
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;

        var agent = new Td3Agent(backend, obsDim, actionDim, config, seed);
        if (initial is not null)
        {
            int storedObs = Td3Checkpoint.ReadInt(initial, "obs_dim"), storedActions = Td3Checkpoint.ReadInt(initial, "act_dim");
            if (storedObs != obsDim || storedActions != actionDim)
                throw new ArgumentException($"checkpoint '{context.InitialCheckpoint}' is for obs {storedObs} / act {storedActions} but {context.EnvironmentId} has {obsDim} / {actionDim}");
            bool hasCritics = initial.Tensors.Keys.Any(k => k.StartsWith(Td3Checkpoint.CriticPrefix + ".", StringComparison.Ordinal));
            Td3Checkpoint.LoadInto(agent.Networks, initial, hasCritics);
        }

        Transitions? offline = null;
        if (config.BufferMode != OfflineMixing.None)
        {
            if (context.DatasetPath is null) throw new ArgumentException($"buffer_mode {config.BufferMode} needs a dataset");
            offline = context.ReadDataset().ToQLearning();
            if (rewardScale != 1f || rewardShift != 0f) offline.TransformRewards(rewardScale, rewardShift);
            normalizer?.NormalizeInPlace(offline);
        }
        using var sampler = new MixedReplaySampler(backend, config.BufferMode, offline, obsDim, actionDim, config.BufferSize, config.BatchSize,
            new Engine.DeviceRandom(Seeds.Derive(seed, 5)));

        bool fromScratch = initial is null;
        var options = new OffPolicyLoopOptions
        {
            TotalSteps = config.TotalSteps,
            WarmupSteps = fromScratch ? config.WarmupSteps : config.FineTuneWarmupSteps,
            RandomWarmup = fromScratch,
            UpdatesPerStep = config.UpdatesPerStep,
            EvaluateEvery = config.EvaluateEvery,
            EvaluationEpisodes = config.EvaluationEpisodes,
            LogEvery = config.LogEvery,
            Seed = context.Seed,
            RewardTransform = rewardScale != 1f || rewardShift != 0f ? r => rewardScale * r + rewardShift : null,
        };
        var trainer = new OffPolicyTrainer(environment, evaluator, agent, sampler, options, context.Metrics, context.Progress)
        {
            Checkpoints = TrainingCheckpoints.For(context, agent, AlgorithmName, config.EvaluateEvery, SavePolicy),
            Cancellation = context.Cancellation,
        };
        if (!fromScratch && context.ResumeCheckpoint is null)
        {
            // The first point of a fine-tuning curve is the loaded actor's score (ALGORITHMS.md §8).
            var start = evaluator.Evaluate(agent.Policy, config.EvaluationEpisodes);
            context.Metrics.Log(0, "eval/return", start.MeanReturn);
            if (start.NormalizedMean is double normalized) context.Metrics.Log(0, "eval/normalized_return", normalized);
            context.Metrics.Flush(0);
        }
        var last = trainer.Run();
        if (last is null || config.EvaluateEvery <= 0 || config.TotalSteps % config.EvaluateEvery != 0)
        {
            last = evaluator.Evaluate(agent.Policy, config.EvaluationEpisodes);
            context.Metrics.Log(trainer.Step, "eval/return", last.MeanReturn);
            if (last.NormalizedMean is double normalized) context.Metrics.Log(trainer.Step, "eval/normalized_return", normalized);
            context.Metrics.Flush(trainer.Step);
        }

        return new RunResult(last, context.SaveFinalPolicy(AlgorithmName, SavePolicy), configJson);

        void SavePolicy(string path) =>
            Td3Checkpoint.Save(path, agent.Networks, AlgorithmName, context.EnvironmentId, normalizer, configJson, rewardScale, rewardShift);
    }

    /// <summary>Loads the actor (and its state normaliser) of a checkpoint written by <see cref="Run"/>.</summary>
    public static (Networks.DeterministicActor Actor, StateNormalizer? Normalizer) LoadActor(Engine.Backend backend, string path) =>
        Td3Checkpoint.LoadActor(backend, path);
}
