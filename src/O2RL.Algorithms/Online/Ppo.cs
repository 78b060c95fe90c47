using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Engine.Distributions;
using O2RL.Kernels;

namespace O2RL.Algorithms.Online;

/// <summary>
/// PPO as O2PPO runs it without its constraint (ALGORITHMS.md §5.4–§5.5): Gaussian actor with a state-independent
/// log-std clamped to [−10, 2], value network with tanh hidden layers (PyTorch default init), GAE with dw for
/// bootstrapping and done for cutting the recursion, K epochs of shuffled minibatches, clipped surrogate with an
/// entropy bonus, advantage normalisation with the unbiased std, Adam (ε 1e-5) with gradient-norm clipping on both
/// networks, linear learning-rate decay. O2PPO reuses <see cref="ActorStep"/> and <see cref="CriticStep"/> with its
/// own advantages (value pre-training, the auxiliary advantage and the reference policy live there).
/// </summary>
/// <remarks>
/// Slots: actor 0 = minibatch update, 1 = exploration (batch 1), 2 = evaluation (batch 1); critic 0 = minibatch
/// update, 1 = V(s) and 2 = V(s') over the whole rollout. Nothing allocates per minibatch after the first; the one
/// host round trip per rollout is GAE's (sequential) recursion inside <see cref="RolloutBuffer.ComputeAdvantages"/>.
/// </remarks>
public sealed partial class PpoAgent : IOnPolicyAgent
{
    const int UpdateSlot = 0, ExploreSlot = 1, EvaluateSlot = 2, ValueSlot = 1, NextValueSlot = 2;
    readonly Backend backend;
    readonly PpoConfig config;
    readonly DeviceRandom noiseStream;
    readonly HostRandom shuffleRandom;
    readonly Tensor exploreObservation, exploreNoise;
    readonly Dictionary<int, ActorBuffers> actorBuffers = [];
    readonly Dictionary<int, CriticBuffers> criticBuffers = [];
    // Rollout-level advantage statistics (device scalars): mean(A) and std(A) + 1e-5.
    readonly Tensor advantageMean, advantageStd, advantageScratchSum;
    Tensor? advantageScratch;
    ActorBuffers? lastActor;
    CriticBuffers? lastCritic;

    /// <summary>Builds actor, critic and optimisers (seeded). Pass <paramref name="actor"/> to fine-tune a loaded one.</summary>
    public PpoAgent(Backend backend, int obsDim, int actionDim, PpoConfig config, ulong seed, GaussianActor? actor = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        this.backend = backend;
        this.config = config;
        if (actor is not null && (actor.ObsDim != obsDim || actor.ActionDim != actionDim))
            throw new ArgumentException($"loaded actor has obs {actor.ObsDim} / action {actor.ActionDim} dimensions but the task has {obsDim} / {actionDim}");
        if (actor is not null && actor.MinLogStd != Gaussian.PpoMinLogStd)
            throw new ArgumentException($"a PPO actor clamps its log-std at {Gaussian.PpoMinLogStd}, got {actor.MinLogStd}; load it with the PPO clamp");
        Actor = actor ?? new GaussianActor(backend, obsDim, actionDim, seed, Gaussian.PpoMinLogStd, hiddenDims: config.ActorHidden);
        if (actor is null && config.InitialLogStd != 0f) backend.Fill(Actor.Network.Extra("log_std").Value, config.InitialLogStd);
        Critic = new Mlp(backend, new MlpSpec(obsDim, config.CriticHidden, 1) { HiddenActivation = Activation.Tanh, NamePrefix = "net" }, seed + 1);
        ActorOptimizer = new Adam(Actor.Parameters, config.ActorLr, epsilon: config.AdamEpsilon) { MaxGradientNorm = config.MaxGradNorm };
        CriticOptimizer = new Adam(Critic.Parameters, config.CriticLr, epsilon: config.AdamEpsilon) { MaxGradientNorm = config.MaxGradNorm };
        noiseStream = new DeviceRandom(seed + 2);
        shuffleRandom = new HostRandom(seed + 3);
        exploreObservation = backend.Allocate(1, obsDim);
        exploreNoise = backend.Allocate(1, actionDim);
        advantageMean = backend.Allocate(1);
        advantageStd = backend.Allocate(1);
        advantageScratchSum = backend.Allocate(1);
        Policy = new DevicePolicy(backend, obsDim, actionDim, (s, deterministic) => deterministic
            ? Actor.Mean(s, EvaluateSlot)
            : SampleAction(s, EvaluateSlot));
    }

    /// <summary>π_θ (log-std clamp [−10, 2]).</summary>
    public GaussianActor Actor { get; }
    /// <summary>V(s): [B, 1], tanh hidden layers, PyTorch default init.</summary>
    public Mlp Critic { get; }
    /// <summary>Actor Adam (ε 1e-5, clip 0.5).</summary>
    public Adam ActorOptimizer { get; }
    /// <summary>Critic Adam (ε 1e-5, clip 0.5).</summary>
    public Adam CriticOptimizer { get; }
    /// <inheritdoc/>
    public IPolicy Policy { get; }
    /// <summary>The resolved config.</summary>
    public PpoConfig Config => config;

    Tensor SampleAction(Tensor observation, int slot)
    {
        var mean = Actor.Mean(observation, slot);
        noiseStream.Normal(exploreNoise);
        return Actor.Distribution(slot).Sample(mean, exploreNoise, actionLimit: 1f);
    }

    /// <inheritdoc/>
    public void Act(ReadOnlySpan<float> observation, Span<float> action, Span<float> logProbs)
    {
        backend.Upload(observation, exploreObservation);
        var mean = Actor.Mean(exploreObservation, ExploreSlot);
        noiseStream.Normal(exploreNoise);
        var distribution = Actor.Distribution(ExploreSlot);
        // a ~ N(μ, σ²), clamped to [−1, 1]; its log-density is that of the clamped action under the unclamped Gaussian.
        var clamped = distribution.Sample(mean, exploreNoise, actionLimit: 1f);
        var perCoordinate = distribution.LogProbPerCoordinate(mean, clamped);
        backend.Download(clamped, action);
        backend.Download(perCoordinate, logProbs);
    }

    /// <inheritdoc/>
    public void Update(RolloutBuffer rollout, long environmentStep)
    {
        // V before this update, without gradient: δ_t = r_t + γ(1 − dw_t)V(s'_t) − V(s_t); A_t = δ_t + γλ(1 − done_t)A_{t+1}.
        var values = Critic.Forward(rollout.Observations, ValueSlot);
        var nextValues = Critic.Forward(rollout.NextObservations, NextValueSlot);
        rollout.ComputeAdvantages(values, nextValues, config.Gamma, config.GaeLambda);
        ComputeAdvantageStatistics(rollout.Advantages);

        for (int epoch = 0; epoch < config.Epochs; epoch++)
        {
            rollout.ShuffleEpoch(shuffleRandom);
            for (int m = 0; m < rollout.MinibatchCount; m++)
            {
                var batch = rollout.GatherMinibatch(m);
                ActorStep(batch.Observations, batch.Actions, batch.LogProbs, NormalizeAdvantages(batch.Advantages));
                CriticStep(batch.Observations, batch.ValueTargets);
            }
        }

        DecayLearningRates(environmentStep);
    }

    /// <summary>
    /// Linear learning-rate decay after an update's K epochs (when <see cref="PpoConfig.LearningRateDecay"/> is on):
    /// lr ← lr_0 · max(1 − t / T_total, 0), so the first update used lr_0.
    /// </summary>
    public void DecayLearningRates(long environmentStep)
    {
        if (!config.LearningRateDecay) return;
        double fraction = Math.Max(0.0, 1.0 - (double)environmentStep / config.TotalSteps);
        ActorOptimizer.LearningRate = (float)(config.ActorLr * fraction);
        CriticOptimizer.LearningRate = (float)(config.CriticLr * fraction);
    }

    /// <summary>mean(A) and std(A) + 1e-5 over the rollout, with the unbiased (n − 1) std, as device scalars.</summary>
    void ComputeAdvantageStatistics(Tensor advantages)
    {
        int n = advantages.Length;
        advantageScratch ??= backend.Allocate(advantages.Shape);
        backend.Sum(advantages, advantageMean, 1f / n);
        backend.Binary(BinaryOp.Add, advantages, advantageMean, advantageScratch, 1f, -1f, Broadcast.Scalar);
        backend.Unary(UnaryOp.Square, advantageScratch, advantageScratch);
        backend.Sum(advantageScratch, advantageScratchSum, 1f / Math.Max(1, n - 1));
        backend.Unary(UnaryOp.Sqrt, advantageScratchSum, advantageStd);
        backend.Unary(UnaryOp.Affine, advantageStd, advantageStd, 1f, 1e-5f);
    }

    /// <summary>Â = (A − mean(A)) / (std(A) + 1e-5) for a minibatch, with the rollout's statistics (or A itself when off).</summary>
    Tensor NormalizeAdvantages(Tensor advantages)
    {
        if (!config.NormalizeAdvantages) return advantages;
        var w = Buffers(advantages.Rows);
        backend.Binary(BinaryOp.Add, advantages, advantageMean, w.NormalizedAdvantage, 1f, -1f, Broadcast.Scalar);
        backend.Binary(BinaryOp.Div, w.NormalizedAdvantage, advantageStd, w.NormalizedAdvantage, 1f, 1f, Broadcast.Scalar);
        return w.NormalizedAdvantage;
    }

    /// <summary>
    /// One actor step on a minibatch: ρ = exp(Σ_j log π_θ(a_j|s) − Σ_j log π_old(a_j|s)),
    /// L_π = mean[−min(ρÂ, clip(ρ, 1 − ε, 1 + ε)Â)] − c_H·H(π_θ), Adam with the gradient norm clipped.
    /// </summary>
    /// <param name="observations">s: [M, obsDim].</param>
    /// <param name="actions">a (clamped, as executed): [M, d].</param>
    /// <param name="oldLogProbs">log π_old(a_j|s) per coordinate: [M, d].</param>
    /// <param name="advantages">Â: [M] or [M, 1].</param>
    public void ActorStep(Tensor observations, Tensor actions, Tensor oldLogProbs, Tensor advantages)
    {
        int m = observations.Rows;
        var w = Buffers(m);
        lastActor = w;
        float eps = config.ClipRatio, c = config.EntropyCoefficient;

        var mean = Actor.Mean(observations, UpdateSlot);
        var distribution = Actor.Distribution(UpdateSlot);
        var perCoordinate = distribution.LogProbPerCoordinate(mean, actions);
        backend.RowSum(perCoordinate, w.LogProb);
        backend.RowSum(oldLogProbs, w.OldLogProb);
        backend.Binary(BinaryOp.Add, w.LogProb, w.OldLogProb, w.Ratio, 1f, -1f);
        backend.Unary(UnaryOp.Exp, w.Ratio, w.Ratio);                                            // ρ
        backend.Unary(UnaryOp.Clamp, w.Ratio, w.ClippedRatio, 1f - eps, 1f + eps);
        backend.Binary(BinaryOp.Mul, w.Ratio, advantages, w.Surrogate);                         // ρÂ
        backend.Binary(BinaryOp.Mul, w.ClippedRatio, advantages, w.ClippedSurrogate);           // clip(ρ)Â
        backend.Binary(BinaryOp.Min, w.Surrogate, w.ClippedSurrogate, w.Objective);
        var entropy = distribution.Entropy();                                                   // H (state-independent)
        backend.Sum(w.Objective, w.PolicyLoss, -1f / m);
        backend.Binary(BinaryOp.Add, w.PolicyLoss, entropy, w.ActorLoss, 1f, -c);
        backend.Copy(entropy, w.EntropyValue);

        // ∂L/∂ρ_i = −Â_i/M where the unclipped branch is the minimum, 0 where the clipped (constant) branch is smaller;
        // ∂ρ/∂log π = ρ.
        backend.Binary(BinaryOp.Add, w.Surrogate, w.ClippedSurrogate, w.Scratch, 1f, -1f);
        backend.Unary(UnaryOp.Step, w.Scratch, w.Scratch, 0f);                                   // 1 where the clipped branch won
        backend.Unary(UnaryOp.Affine, w.Scratch, w.Scratch, -1f, 1f);                            // 1 where ρÂ is the minimum
        backend.Binary(BinaryOp.Mul, w.Scratch, advantages, w.LogProbGradient, 1f, -1f / m);
        backend.Binary(BinaryOp.Mul, w.LogProbGradient, w.Ratio, w.LogProbGradient);

        Actor.Parameters.ZeroGradients();
        distribution.EntropyBackward(-c);
        Actor.LogProbBackward(w.LogProbGradient, UpdateSlot);
        ActorOptimizer.Step();
    }

    /// <summary>One critic step: L_V = MSE(V(s), Vtarg) (no value clipping), Adam with the gradient norm clipped.</summary>
    /// <param name="observations">s: [M, obsDim].</param>
    /// <param name="valueTargets">Vtarg = A + V_old(s): [M, 1].</param>
    public void CriticStep(Tensor observations, Tensor valueTargets)
    {
        int m = observations.Rows;
        if (!criticBuffers.TryGetValue(m, out var w)) criticBuffers[m] = w = new CriticBuffers(backend, m);
        lastCritic = w;
        var value = Critic.Forward(observations, UpdateSlot);
        backend.MseLoss(value, valueTargets, w.Gradient, w.Loss);
        Critic.ZeroGradients();
        Critic.Backward(w.Gradient, UpdateSlot);
        CriticOptimizer.Step();
    }

    /// <summary>The latest actor loss L_π (device scalar, for tests and logging).</summary>
    public Tensor? LastActorLoss => lastActor?.ActorLoss;
    /// <summary>The latest value loss L_V (device scalar).</summary>
    public Tensor? LastValueLoss => lastCritic?.Loss;

    /// <inheritdoc/>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        if (lastActor is not null)
        {
            metrics.Log(step, "losses/actor_loss", backend.ReadScalar(lastActor.ActorLoss));
            metrics.Log(step, "losses/policy_loss", backend.ReadScalar(lastActor.PolicyLoss));
            metrics.Log(step, "losses/entropy", backend.ReadScalar(lastActor.EntropyValue));
        }
        if (lastCritic is not null) metrics.Log(step, "losses/value_loss", backend.ReadScalar(lastCritic.Loss));
        metrics.Log(step, "charts/actor_lr", ActorOptimizer.LearningRate);
    }

    ActorBuffers Buffers(int m)
    {
        if (!actorBuffers.TryGetValue(m, out var w)) actorBuffers[m] = w = new ActorBuffers(backend, m);
        return w;
    }

    sealed class ActorBuffers(Backend backend, int m)
    {
        /// <summary>[M] each.</summary>
        public readonly Tensor LogProb = backend.Allocate(m), OldLogProb = backend.Allocate(m), Ratio = backend.Allocate(m),
            ClippedRatio = backend.Allocate(m), Surrogate = backend.Allocate(m), ClippedSurrogate = backend.Allocate(m),
            Objective = backend.Allocate(m), Scratch = backend.Allocate(m), LogProbGradient = backend.Allocate(m),
            NormalizedAdvantage = backend.Allocate(m);
        /// <summary>Device scalars.</summary>
        public readonly Tensor PolicyLoss = backend.Allocate(1), ActorLoss = backend.Allocate(1), EntropyValue = backend.Allocate(1);
    }

    sealed class CriticBuffers(Backend backend, int m)
    {
        public readonly Tensor Gradient = backend.Allocate(m, 1), Loss = backend.Allocate(1);
    }
}

/// <summary>Online PPO training from scratch (or from a Gaussian-actor checkpoint) on any registered environment.</summary>
public static class PpoRun
{
    /// <summary>Algorithm name in config paths and checkpoints.</summary>
    public const string Algorithm = "ppo";

    /// <summary>
    /// Resolves the config (defaults → <c>configs/ppo/&lt;env&gt;/&lt;dataset or "online"&gt;.yaml</c> → user file →
    /// overrides), trains, evaluates every <see cref="PpoConfig.EvaluateEvery"/> steps and writes <c>config.json</c>
    /// and <c>ppo.safetensors</c> (actor, critic, normaliser) when an output directory is set. With
    /// <see cref="RunContext.InitialCheckpoint"/> the actor is loaded (IQL or PPO checkpoint) and the normalisation
    /// constants are fixed (from the dataset's PPO statistics when a dataset is given, else the checkpoint's);
    /// from scratch a running normaliser learns them.
    /// </summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var config = ConfigLoader.Resolve(new PpoConfig(),
            ConfigLoader.ShippedConfigPath(Algorithm, context.EnvironmentId, context.DatasetName ?? "online"),
            context.ConfigFile, context.Overrides);
        config.Validate();
        string configJson = ConfigLoader.ToJson(config);
        context.RecordConfig(configJson);
        using var environment = PolicyEnvironment.Make(context.EnvironmentId, null);
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        var backend = context.Backend;
        ulong seed = (ulong)context.Seed;

        GaussianActor? loaded = null;
        IObservationFilter filter;
        if (context.InitialCheckpoint is not null)
        {
            var (actor, checkpointNormalizer) = GaussianActorCheckpoint.Load(backend, context.InitialCheckpoint, Gaussian.PpoMinLogStd, seed: seed);
            loaded = actor;
            var normalizer = !config.NormalizeStates ? StateNormalizer.Identity(obsDim)
                : context.DatasetPath is not null ? StateNormalizer.ForPpo(context.ReadDataset().ToPpo(config.Gamma))
                : checkpointNormalizer;
            filter = new FixedObservationFilter(normalizer);
        }
        else
        {
            filter = config.NormalizeStates ? new RunningObservationFilter(obsDim) : new FixedObservationFilter(StateNormalizer.Identity(obsDim));
        }

        var agent = new PpoAgent(backend, obsDim, actionDim, config, seed, loaded);
        using var rollout = new RolloutBuffer(backend, config.RolloutLength, obsDim, actionDim, config.MinibatchSize);
        using var evaluator = new Evaluator(new FilteredObservations(PolicyEnvironment.Make(context.EnvironmentId, null), filter),
            context.ScoreTaskId ?? context.EnvironmentId, context.Seed);
        var trainer = new OnPolicyTrainer(environment, evaluator, agent, rollout, filter, new OnPolicyLoopOptions
        {
            TotalSteps = config.TotalSteps,
            EvaluateEvery = config.EvaluateEvery,
            EvaluationEpisodes = config.EvaluationEpisodes,
            Seed = context.Seed,
        }, context.Metrics, context.Progress)
        {
            Checkpoints = TrainingCheckpoints.For(context, agent, Algorithm, config.EvaluateEvery,
                path => Save(path, agent, filter.Snapshot(), context.EnvironmentId, configJson)),
            Cancellation = context.Cancellation,
        };
        var final = trainer.Run();

        return new RunResult(final, context.SaveFinalPolicy(Algorithm, path => Save(path, agent, filter.Snapshot(), context.EnvironmentId, configJson)), configJson);
    }

    /// <summary>Writes actor (<c>actor.*</c>), value network (<c>critic.*</c>) and the normaliser.</summary>
    public static void Save(string path, PpoAgent agent, StateNormalizer normalizer, string environmentId, string configJson)
    {
        var tensors = agent.Actor.Parameters.ToNamedTensors(GaussianActorCheckpoint.ActorPrefix)
            .Concat(agent.Critic.Parameters.ToNamedTensors("critic"))
            .Concat(GaussianActorCheckpoint.NormalizerTensors(normalizer)).ToList();
        SafetensorsFile.Write(path, tensors,
            GaussianActorCheckpoint.Metadata(Algorithm, environmentId, agent.Actor.ObsDim, agent.Actor.ActionDim, configJson));
    }

    /// <summary>Loads the actor of a PPO (or IQL) checkpoint with PPO's log-std clamp, and its normaliser.</summary>
    public static (GaussianActor Actor, StateNormalizer Normalizer) LoadActor(Backend backend, string path, bool trainable = true) =>
        GaussianActorCheckpoint.Load(backend, path, Gaussian.PpoMinLogStd, trainable);
}
