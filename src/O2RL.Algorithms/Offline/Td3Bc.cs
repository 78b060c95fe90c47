using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Algorithms.Offline;

/// <summary>
/// TD3+BC (Fujimoto and Gu 2021; ALGORITHMS.md §6.3): TD3 on a fixed dataset with a behaviour-cloning term.
/// One <see cref="Update"/>:
/// <code>
/// y = r + γ(1 − m)·min(Q̄_1, Q̄_2)(s′, clip(μ̄(s′) + clip(N(0, 0.2²), −0.5, 0.5), −1, 1))
/// L_Q = MSE(Q_1(s,a), y) + MSE(Q_2(s,a), y); Adam on the critics
/// n_it += 1; if n_it mod 2 = 0:
///     q = Q_1(s, μ(s)) (updated critic); λ = α / mean|q| (constant, α = 2.5)
///     L_π = −λ·mean(q) + mean over B·d of (μ(s) − a)²; Adam on the actor; Polyak(0.005) on Q̄_1, Q̄_2, μ̄
/// </code>
/// Critics are 2 × 256 without LayerNorm.
/// </summary>
public sealed partial class Td3BcAgent : IOfflineAgent
{
    readonly Td3BcConfig config;

    /// <summary>Builds networks and operators.</summary>
    public Td3BcAgent(Backend backend, int obsDim, int actionDim, Td3BcConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        Validate(config);
        this.config = config;
        Networks = new Td3Networks(backend, obsDim, actionDim, config.ActorHidden, config.CriticHidden, criticLayerNorm: false,
            config.ActorLr, config.CriticLr, seed);
        Operators = new Td3Operators(Networks, config.BatchSize, new DeviceRandom(Seeds.Derive(seed, 3)));
        // Evaluation is deterministic (μ(s)); no exploration noise exists offline.
        ActingPolicy = new DeterministicActorPolicy(Networks.Actor, explorationNoise: 0f, clipAction: true, new DeviceRandom(Seeds.Derive(seed, 4)));
    }

    /// <summary>The networks and optimisers.</summary>
    public Td3Networks Networks { get; }
    /// <summary>The update operators.</summary>
    public Td3Operators Operators { get; }
    /// <summary>μ(s) on one observation (for evaluation); its noise stream is part of the training state.</summary>
    public DeterministicActorPolicy ActingPolicy { get; }
    /// <summary>μ(s) on one observation (for evaluation).</summary>
    public IPolicy Policy => ActingPolicy;
    /// <summary>n_it: updates made so far.</summary>
    public long IterationCount { get; set; }

    /// <summary>One TD3+BC update on a dataset minibatch (states already normalised).</summary>
    public void Update(TransitionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Operators.CriticStep(batch, config.Gamma, config.PolicyNoise, config.NoiseClip);
        IterationCount++;
        if (IterationCount % config.PolicyDelay == 0)
        {
            // λ = α / mean|Q_1| on the Q term; the BC term is the MSE to the dataset actions with weight 1.
            Operators.ActorStep(batch.Observations, qNormalization: config.Alpha, anchorActions: batch.Actions, anchorWeight: 1f);
            Networks.UpdateTargets(config.Tau);
        }
    }

    /// <summary>Logs the latest losses (reads device scalars).</summary>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var backend = Networks.Backend;
        metrics.Log(step, "losses/qf_loss", backend.ReadScalar(Operators.CriticLoss));
        metrics.Log(step, "losses/qf1_values", backend.ReadScalar(Operators.MeanQ));
        if (IterationCount >= config.PolicyDelay)
        {
            metrics.Log(step, "losses/actor_loss", backend.ReadScalar(Operators.ActorLoss));
            metrics.Log(step, "losses/lambda", backend.ReadScalar(Operators.Kappa));
        }
    }

    internal static void Validate(Td3BcConfig c)
    {
        if (c.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(c), c.BatchSize, "batch_size must be at least 1");
        if (c.PolicyDelay < 1) throw new ArgumentOutOfRangeException(nameof(c), c.PolicyDelay, "policy_delay must be at least 1");
        if (!(c.Tau > 0f && c.Tau <= 1f)) throw new ArgumentOutOfRangeException(nameof(c), c.Tau, "tau must be in (0, 1]");
        if (!(c.Alpha > 0f)) throw new ArgumentOutOfRangeException(nameof(c), c.Alpha, "alpha must be positive");
        if (!(c.PolicyNoise >= 0f) || !(c.NoiseClip > 0f)) throw new ArgumentOutOfRangeException(nameof(c), $"policy_noise {c.PolicyNoise} must be ≥ 0 and noise_clip {c.NoiseClip} > 0");
        if (c.MaxSteps < 1) throw new ArgumentOutOfRangeException(nameof(c), c.MaxSteps, "max_steps must be at least 1");
    }
}

/// <summary>
/// Offline TD3+BC runs: read the dataset (D4RL layout), build the Q-learning transitions (timeouts dropped,
/// terminals kept with m = 1), map rewards, normalise s and s′ with the dataset's mean and population std +
/// 1e-3, train, evaluate with the same normalisation, and save the checkpoint O2TD3 loads.
/// </summary>
public static class Td3BcRun
{
    /// <summary>Algorithm name in configs, checkpoints and file names.</summary>
    public const string AlgorithmName = "td3_bc";

    /// <summary>The Q-learning transitions and normaliser exactly as training sees them (normalised in place).</summary>
    public static (Transitions Transitions, StateNormalizer? Normalizer) PrepareDataset(TransitionDataset dataset, Td3BcConfig config)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(config);
        var transitions = dataset.ToQLearning();
        if (transitions.Count == 0) throw new ArgumentException("the dataset has no usable transitions after dropping time-limit ends");
        if (config.RewardScale != 1f || config.RewardShift != 0f) transitions.TransformRewards(config.RewardScale, config.RewardShift);
        var normalizer = config.NormalizeStates ? StateNormalizer.ForQLearning(transitions) : null;
        normalizer?.NormalizeInPlace(transitions);
        return (transitions, normalizer);
    }

    /// <summary>Resolves the config (shipped file <c>configs/td3_bc/&lt;env&gt;/&lt;dataset&gt;.yaml</c>), trains, evaluates, saves.</summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.DatasetPath is null) throw new ArgumentException("TD3+BC trains on a dataset; none was given");
        var config = ConfigLoader.Resolve(new Td3BcConfig(),
            ConfigLoader.ShippedConfigPath(AlgorithmName, context.EnvironmentId, context.ResolveDatasetName()), context.ConfigFile, context.Overrides);
        Td3BcAgent.Validate(config);
        string configJson = ConfigLoader.ToJson(config);
        context.RecordConfig(configJson);
        var backend = context.Backend;
        ulong seed = (ulong)(uint)context.Seed;

        var dataset = context.ReadDataset();
        var (transitions, normalizer) = PrepareDataset(dataset, config);
        using var evaluator = new Evaluator(PolicyEnvironment.Make(context.EnvironmentId, normalizer), context.ScoreTaskId ?? context.EnvironmentId,
            Envs.EnvRandom.DeriveSeed(context.Seed, 1_000_003));
        int obsDim = transitions.ObservationDim, actionDim = transitions.ActionDim;
        var spec = Envs.EnvironmentRegistry.GetSpec(context.EnvironmentId);
        if (spec.ObservationDim != obsDim || spec.ActionDim != actionDim)
            throw new ArgumentException($"dataset has obs {obsDim} / act {actionDim} but {context.EnvironmentId} has {spec.ObservationDim} / {spec.ActionDim}");

        using var sampler = UniformReplaySampler.OverTransitions(backend, transitions, config.BatchSize, new DeviceRandom(Seeds.Derive(seed, 5)));

        var agent = new Td3BcAgent(backend, obsDim, actionDim, config, seed);
        // TD3+BC always evaluates its final policy, whatever the interval.
        var trainer = new OfflineTrainer(evaluator, agent, sampler.Sample, sampler.Random, DatasetFingerprint.Of(dataset), new OfflineLoopOptions
        {
            TotalUpdates = config.MaxSteps,
            LogEvery = config.LogEvery,
            EvaluateEvery = config.EvaluateEvery,
            EvaluateAtEnd = true,
            EvaluationEpisodes = config.EvaluationEpisodes,
            ProgressLabel = "td3+bc",
        }, context.Metrics, context.Progress)
        {
            Checkpoints = TrainingCheckpoints.For(context, agent, AlgorithmName, config.EvaluateEvery, SavePolicy),
            Cancellation = context.Cancellation,
        };
        var last = trainer.Run();

        return new RunResult(last, context.SaveFinalPolicy(AlgorithmName, SavePolicy), configJson);

        void SavePolicy(string path) =>
            Td3Checkpoint.Save(path, agent.Networks, AlgorithmName, context.EnvironmentId, normalizer, configJson, config.RewardScale, config.RewardShift);
    }

    /// <summary>Loads the actor (and its state normaliser) of a checkpoint written by <see cref="Run"/>.</summary>
    public static (Networks.DeterministicActor Actor, StateNormalizer? Normalizer) LoadActor(Backend backend, string path) =>
        Td3Checkpoint.LoadActor(backend, path);
}
