using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Envs;

namespace O2RL.Algorithms.Online;

/// <summary>
/// Soft actor-critic with automatic temperature (Haarnoja et al. 2018): tanh-Gaussian actor, twin critics with
/// Polyak targets, α tuned by a loss on log α. One update computes every loss from the start-of-update
/// parameters, then steps α, actor, critics and targets (ALGORITHMS.md §10 item 6).
/// </summary>
public sealed partial class SacAgent : IOffPolicyAgent
{
    /// <summary>Builds the learner for the given dimensions.</summary>
    public SacAgent(Backend backend, int obsDim, int actionDim, SacConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.ValidateLearner();
        Config = config;
        Learner = new SoftActorCritic(backend, obsDim, actionDim, Options(config), seed);
        Policy = new DevicePolicy(backend, obsDim, actionDim, Learner.Act);
    }

    /// <summary>The shared soft actor-critic pieces (networks, optimisers, α).</summary>
    public SoftActorCritic Learner { get; }

    /// <summary>The resolved config.</summary>
    public SacConfig Config { get; }

    /// <inheritdoc/>
    public IPolicy Policy { get; }

    /// <summary>Number of updates applied.</summary>
    public long Updates { get; private set; }

    /// <inheritdoc/>
    /// <remarks>
    /// A SAC update makes the same launches every time (α is a device scalar; the target entropy, τ and γ are fixed;
    /// the step arguments are not used by any op), so on CUDA it is replayed from a graph.
    /// </remarks>
    public bool UpdatesCanBeGraphed => true;

    /// <summary>The learner options a SAC config implies.</summary>
    public static SoftActorCriticOptions Options(SacConfig config) => new()
    {
        ActorHidden = config.ActorHidden,
        CriticHidden = config.CriticHidden,
        CriticLayerNorm = config.CriticLayerNorm,
        ActorLearningRate = config.ActorLr,
        CriticLearningRate = config.CriticLr,
        AlphaLearningRate = config.AlphaLr,
        InitialAlpha = config.Alpha,
        AutoAlpha = config.AutoAlpha,
        TargetEntropy = config.TargetEntropy,
        Tau = config.Tau,
        Gamma = config.Gamma,
    };

    /// <inheritdoc/>
    public void Update(TransitionBatch batch, long environmentStep, int updateIndex)
    {
        var sac = Learner;
        // α = exp(log α), the value before this update's α step, used by every loss below.
        sac.RefreshAlpha();
        // ã ~ π_θ(·|s);  L_π = mean[α log π_θ(ã|s) − min_i Q_i(s, ã)]  (pre-update critics), and with it
        // L_α = −mean[log α · (log π_θ(ã|s) + H̄)],  H̄ = −d
        sac.ActorLossBackward(batch.Observations, temperatureGradient: Config.AutoAlpha);
        // ã′ ~ π_θ(·|s′) (pre-update actor);  y = r + γ(1 − m)[min_i Q̄_i(s′, ã′) − α log π_θ(ã′|s′)];
        // L_Q = Σ_i MSE(Q_i(s, a), y)
        var (nextQ, _, nextLogProb) = sac.NextStateSample(batch.NextObservations);
        var (_, gradient, _) = sac.TdLoss(batch, nextQ, nextLogProb);
        sac.CriticBackward(gradient);
        // Steps: log α, actor, critics, then Polyak θ̄ ← (1 − τ)θ̄ + τθ.
        sac.Step();
        Updates++;
    }

    /// <inheritdoc/>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        var backend = Learner.Alpha.Backend;
        metrics.Log(step, "losses/qf_loss", backend.ReadScalar(Learner.CriticLoss));
        metrics.Log(step, "losses/actor_loss", backend.ReadScalar(Learner.ActorLoss));
        metrics.Log(step, "losses/alpha", backend.ReadScalar(Learner.Alpha));
        metrics.Log(step, "losses/alpha_loss", backend.ReadScalar(Learner.AlphaLoss));
        metrics.Log(step, "losses/qf_values", backend.ReadScalar(Learner.MeanQ));
    }

    /// <summary>
    /// Loads actor, critics and (when present) target critics and log α from a SAC/CQL checkpoint of the same
    /// architecture (naive fine-tuning); a checkpoint without targets copies the critics into them.
    /// </summary>
    public void LoadFrom(Checkpoint checkpoint)
    {
        Learner.Actor.Parameters.LoadFrom(checkpoint, "actor");
        Learner.Critic.Parameters.LoadFrom(checkpoint, "critic");
        if (checkpoint.Tensors.Keys.Any(k => k.StartsWith("critic_target.", StringComparison.Ordinal)))
            Learner.TargetCritic.Parameters.LoadFrom(checkpoint, "critic_target");
        else
            Learner.TargetCritic.Parameters.CopyValuesFrom(Learner.Critic.Parameters);
    }
}

/// <summary>Online SAC training runs.</summary>
public static class SacRun
{
    /// <summary>Algorithm name (config folder, checkpoint file and metadata).</summary>
    public const string Algorithm = "sac";

    /// <summary>
    /// Trains SAC online on <see cref="RunContext.EnvironmentId"/>: from scratch with uniform random warm-up
    /// actions, or, when <see cref="RunContext.InitialCheckpoint"/> is set, from a SAC/CQL checkpoint (actor and
    /// critics loaded, the policy acts from the first step, observations normalised with the checkpoint's
    /// constants). Writes config.json and sac.safetensors when an output folder is given.
    /// </summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var config = ConfigLoader.Resolve(new SacConfig(), ConfigLoader.ShippedConfigPath(Algorithm, context.EnvironmentId, context.DatasetName ?? "online"),
            context.ConfigFile, context.Overrides);
        config.Validate();
        string configJson = ConfigLoader.ToJson(config);
        var spec = EnvironmentRegistry.GetSpec(context.EnvironmentId);
        int obsDim = spec.ObservationDim, actionDim = spec.ActionDim;

        Checkpoint? initial = context.InitialCheckpoint is null ? null : SafetensorsFile.Read(context.InitialCheckpoint, rejectNonFinite: true);
        var normalizer = initial is null ? StateNormalizer.Identity(obsDim) : SacCheckpoint.Normalizer(initial, obsDim, context.InitialCheckpoint!);
        if (initial is not null)
        {
            // The loaded networks dictate the architecture.
            config = config with
            {
                ActorHidden = SacCheckpoint.ActorHidden(initial, context.InitialCheckpoint!),
                CriticHidden = SacCheckpoint.CriticHidden(initial, context.InitialCheckpoint!),
                CriticLayerNorm = SacCheckpoint.CriticLayerNorm(initial),
            };
            configJson = ConfigLoader.ToJson(config);
        }
        context.RecordConfig(configJson);

        var agent = new SacAgent(context.Backend, obsDim, actionDim, config, (ulong)context.Seed);
        if (initial is not null) agent.LoadFrom(initial);
        using var environment = PolicyEnvironment.Make(context.EnvironmentId, normalizer);
        using var evaluator = new Evaluator(PolicyEnvironment.Make(context.EnvironmentId, normalizer), context.ScoreTaskId ?? context.EnvironmentId, context.Seed + 10_000);
        int capacity = (int)Math.Min(config.ReplayCapacity, Math.Max(config.TotalSteps, config.BatchSize + 1));
        using var sampler = new MixedReplaySampler(context.Backend, OfflineMixing.None, null, obsDim, actionDim, capacity, config.BatchSize, new DeviceRandom((ulong)context.Seed * 7 + 5));
        var timed = new TimedAgent(agent);
        var trainer = new OffPolicyTrainer(environment, evaluator, timed, sampler, new OffPolicyLoopOptions
        {
            TotalSteps = config.TotalSteps,
            WarmupSteps = config.WarmupSteps,
            RandomWarmup = initial is null,
            UpdatesPerStep = config.UpdatesPerStep,
            EvaluateEvery = config.EvalEvery,
            EvaluationEpisodes = config.EvalEpisodes,
            LogEvery = config.LogEvery,
            Seed = context.Seed,
        }, context.Metrics, context.Progress)
        {
            Checkpoints = TrainingCheckpoints.For(context, agent, Algorithm, config.EvalEvery, SavePolicy),
            Cancellation = context.Cancellation,
        };
        var last = trainer.Run();
        last ??= evaluator.Evaluate(agent.Policy, config.EvalEpisodes);

        return new RunResult(last, context.SaveFinalPolicy(Algorithm, SavePolicy), configJson);

        void SavePolicy(string path) => SacCheckpoint.Save(path, agent.Learner, Algorithm, context.EnvironmentId, normalizer, configJson);
    }

    /// <summary>Loads the actor of a SAC checkpoint (see <see cref="SacCheckpoint.LoadActor"/>).</summary>
    public static (Networks.TanhGaussianActor Actor, StateNormalizer Normalizer) LoadActor(string path, Backend backend) =>
        SacCheckpoint.LoadActor(path, backend);

    /// <summary>Wraps an agent to log the mean update time (time/update, milliseconds) with its metrics.</summary>
    sealed class TimedAgent(SacAgent inner) : IOffPolicyAgent
    {
        readonly System.Diagnostics.Stopwatch clock = new();
        long updates;

        public IPolicy Policy => inner.Policy;

        public bool UpdatesCanBeGraphed => inner.UpdatesCanBeGraphed;

        public void Update(TransitionBatch batch, long environmentStep, int updateIndex)
        {
            clock.Start();
            inner.Update(batch, environmentStep, updateIndex);
            clock.Stop();
            updates++;
        }

        public void LogMetrics(IMetricsSink metrics, long step)
        {
            inner.LogMetrics(metrics, step);
            if (updates > 0) metrics.Log(step, "time/update", clock.Elapsed.TotalMilliseconds / updates);
            clock.Reset(); updates = 0;
        }
    }
}
