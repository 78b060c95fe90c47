using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Engine.Distributions;
using O2RL.Envs.Wrappers;
using O2RL.Kernels;

namespace O2RL.Algorithms.Offline;

/// <summary>
/// Implicit Q-learning as the OCR-CFT release runs it (ALGORITHMS.md §6.2): twin Q (orthogonal init) with a
/// Polyak target, V by expectile regression on the target min-Q, Q on the one-step target through V(s'), and a
/// Gaussian actor (log-std clamp −20) trained by advantage-weighted log-likelihood of the dataset actions.
/// </summary>
/// <remarks>
/// Slots: V 0 = V(s), 1 = V(s'); critic 0 = Q(s, a); target critic 0; actor 0 = update, 1 = evaluation.
/// All buffers are allocated for the batch size in the constructor; an update never reads the device.
/// </remarks>
public sealed partial class IqlAgent : IOfflineAgent
{
    readonly Backend backend;
    readonly IqlConfig config;
    readonly int batchSize;
    // [B] vectors and [2, B] critic-shaped buffers, device scalars for the losses.
    readonly Tensor minTargetQ, argMin, advantage, valueGradient, notDone, target, doubleTarget, qGradient,
        weights, logProbGradient, weightedLogProb, valueLoss, qLoss, actorLoss;
    // y copied into both members' rows of the [2, B] target (views made once: a Slice allocates a view object).
    readonly Tensor firstMemberTarget, secondMemberTarget;

    /// <summary>Builds the networks and optimisers (seeded) for minibatches of <see cref="IqlConfig.BatchSize"/>.</summary>
    public IqlAgent(Backend backend, int obsDim, int actionDim, IqlConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(config);
        if (config.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(config), config.BatchSize, "batch size must be at least 1");
        if (!(config.Expectile > 0f && config.Expectile < 1f)) throw new ArgumentOutOfRangeException(nameof(config), config.Expectile, "expectile τ must be in (0, 1)");
        this.backend = backend;
        this.config = config;
        batchSize = config.BatchSize;
        Actor = new GaussianActor(backend, obsDim, actionDim, seed, Gaussian.IqlMinLogStd, hiddenDims: config.ActorHidden);
        Critic = new QEnsemble(backend, obsDim, actionDim, config.CriticHidden, layerNorm: false, members: 2, seed + 1);
        CriticTarget = new QEnsemble(backend, obsDim, actionDim, config.CriticHidden, layerNorm: false, members: 2, seed + 1);
        CriticTarget.Parameters.CopyValuesFrom(Critic.Parameters);
        Value = new Mlp(backend, new MlpSpec(obsDim, config.ValueHidden, 1)
        {
            HiddenInit = new LayerInit(InitScheme.Orthogonal, 1f),
            OutputInit = new LayerInit(InitScheme.Orthogonal, 1f),
            NamePrefix = "v.net",
        }, seed + 2);
        ActorOptimizer = new Adam(Actor.Parameters, config.ActorLr);
        CriticOptimizer = new Adam(Critic.Parameters, config.CriticLr);
        ValueOptimizer = new Adam(Value.Parameters, config.ValueLr);
        int b = batchSize;
        minTargetQ = backend.Allocate(b); argMin = backend.Allocate(b); advantage = backend.Allocate(b);
        valueGradient = backend.Allocate(b, 1); notDone = backend.Allocate(b); target = backend.Allocate(b);
        doubleTarget = backend.Allocate(2, b); qGradient = backend.Allocate(2, b);
        firstMemberTarget = doubleTarget.Slice(0, b); secondMemberTarget = doubleTarget.Slice(b, b);
        weights = backend.Allocate(b); logProbGradient = backend.Allocate(b); weightedLogProb = backend.Allocate(b);
        valueLoss = backend.Allocate(1); qLoss = backend.Allocate(1); actorLoss = backend.Allocate(1);
        Policy = new DevicePolicy(backend, obsDim, actionDim, (s, _) => Actor.Mean(s, 1));
    }

    /// <summary>π (Gaussian, log-std clamp [−20, 2]).</summary>
    public GaussianActor Actor { get; }
    /// <summary>Q_1, Q_2 as one ensemble.</summary>
    public QEnsemble Critic { get; }
    /// <summary>Q̄_1, Q̄_2 (Polyak).</summary>
    public QEnsemble CriticTarget { get; }
    /// <summary>V(s): [B, 1].</summary>
    public Mlp Value { get; }
    /// <summary>Actor Adam (cosine schedule).</summary>
    public Adam ActorOptimizer { get; }
    /// <summary>Twin-Q Adam.</summary>
    public Adam CriticOptimizer { get; }
    /// <summary>V Adam.</summary>
    public Adam ValueOptimizer { get; }
    /// <summary>The deterministic policy μ(s).</summary>
    public IPolicy Policy { get; }
    /// <summary>Updates taken.</summary>
    public long Steps { get; private set; }
    /// <summary>L_V of the latest update (device scalar).</summary>
    public Tensor ValueLoss => valueLoss;
    /// <summary>L_Q of the latest update (device scalar).</summary>
    public Tensor QLoss => qLoss;
    /// <summary>L_π of the latest update (device scalar).</summary>
    public Tensor ActorLoss => actorLoss;

    /// <summary>One IQL step on a minibatch of B transitions (s, a, r, s', m).</summary>
    public void Update(TransitionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Size != batchSize) throw new ArgumentException($"batch has {batch.Size} rows but the agent was built for {batchSize}");
        var s = batch.Observations;
        var a = batch.Actions;

        // 1. next_v = V(s') with V before its update.
        var nextValue = Value.Forward(batch.NextObservations, 1);

        // 2. V step: u = min(Q̄_1, Q̄_2)(s, a) − V(s); L_V = mean |τ − 1(u < 0)| u².
        var targetQ = CriticTarget.Forward(s, a);
        backend.EnsembleMin(targetQ, minTargetQ, argMin);
        var value = Value.Forward(s, 0);
        backend.Binary(BinaryOp.Add, minTargetQ, value, advantage, 1f, -1f);       // u, kept for the actor (pre-update V)
        backend.ExpectileLoss(value, minTargetQ, config.Expectile, valueGradient, valueLoss);
        Value.ZeroGradients();
        Value.Backward(valueGradient, 0);
        ValueOptimizer.Step();

        // 3. Q step: y = r + γ(1 − m)·next_v; L_Q = ½[MSE(Q_1, y) + MSE(Q_2, y)] = mean over both members; then Polyak.
        backend.Unary(UnaryOp.Affine, batch.Terminals, notDone, -1f, 1f);
        backend.Binary(BinaryOp.Mul, notDone, nextValue, target);
        backend.Binary(BinaryOp.Add, batch.Rewards, target, target, 1f, config.Gamma);
        backend.Copy(target, firstMemberTarget);
        backend.Copy(target, secondMemberTarget);
        var q = Critic.Forward(s, a);
        backend.MseLoss(q, doubleTarget, qGradient, qLoss);
        Critic.Parameters.ZeroGradients();
        Critic.Backward(qGradient);
        CriticOptimizer.StepThenPolyak(CriticTarget.Parameters, config.Tau);

        // 4. Actor step: ω = min(exp(β·u), 100) (constant); L_π = mean[ω · (−log π(a|s))] on the dataset action.
        backend.Unary(UnaryOp.Affine, advantage, weights, config.Beta, 0f);
        backend.Unary(UnaryOp.Exp, weights, weights);
        backend.Unary(UnaryOp.Clamp, weights, weights, 0f, config.MaxWeight);
        var logProb = Actor.LogProb(s, a, 0);
        backend.Binary(BinaryOp.Mul, weights, logProb, weightedLogProb);
        backend.Sum(weightedLogProb, actorLoss, -1f / batchSize);
        backend.Unary(UnaryOp.Affine, weights, logProbGradient, -1f / batchSize, 0f);
        Actor.Parameters.ZeroGradients();
        Actor.LogProbBackward(logProbGradient, 0);
        if (config.ActorCosineSchedule)
        {
            // CosineAnnealingLR stepped after every actor step: step k uses lr_0 · ½(1 + cos(π k / T)).
            double progress = Math.Min(1.0, (double)Steps / config.MaxSteps);
            ActorOptimizer.LearningRate = (float)(config.ActorLr * 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
        }
        ActorOptimizer.Step();
        Steps++;
    }

    /// <summary>Logs the latest losses (device reads; not inside updates).</summary>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        metrics.Log(step, "losses/value_loss", backend.ReadScalar(valueLoss));
        metrics.Log(step, "losses/qf_loss", backend.ReadScalar(qLoss));
        metrics.Log(step, "losses/actor_loss", backend.ReadScalar(actorLoss));
        metrics.Log(step, "charts/actor_lr", ActorOptimizer.LearningRate);
    }
}

/// <summary>Offline IQL training on a D4RL-layout dataset file.</summary>
public static class IqlRun
{
    /// <summary>Algorithm name in config paths and checkpoints.</summary>
    public const string Algorithm = "iql";

    /// <summary>
    /// Resolves the config (defaults → <c>configs/iql/&lt;env&gt;/&lt;dataset&gt;.yaml</c> → user file → overrides), reads
    /// the dataset (Q-learning conversion: timeouts dropped, terminals kept), normalises s and s' with the dataset's
    /// mean and population std + 1e-3, applies the reward map, trains for <see cref="IqlConfig.MaxSteps"/> steps with
    /// evaluations on an environment normalised with the same constants, and writes <c>config.json</c> and
    /// <c>iql.safetensors</c> (actor, critic, critic_target, value, normaliser) when an output directory is set.
    /// </summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        string datasetPath = context.DatasetPath ?? throw new ArgumentException("IQL is offline: the run needs a dataset file (DatasetPath)");
        var config = ConfigLoader.Resolve(new IqlConfig(),
            ConfigLoader.ShippedConfigPath(Algorithm, context.EnvironmentId, context.ResolveDatasetName()), context.ConfigFile, context.Overrides);
        config.Validate();
        string configJson = ConfigLoader.ToJson(config);
        context.RecordConfig(configJson);
        var backend = context.Backend;

        var dataset = context.ReadDataset();
        var transitions = dataset.ToQLearning();
        if (transitions.Count == 0) throw new ArgumentException($"dataset '{datasetPath}' yields no transitions");
        var normalizer = config.NormalizeStates ? StateNormalizer.ForQLearning(transitions) : StateNormalizer.Identity(transitions.ObservationDim);
        normalizer.NormalizeInPlace(transitions);
        transitions.TransformRewards(config.RewardScale, config.RewardShift);

        var probe = PolicyEnvironment.Make(context.EnvironmentId, null);
        var environment = new NormalizeObservation(probe, normalizer.Mean, normalizer.Std);
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        if (transitions.ObservationDim != obsDim || transitions.ActionDim != actionDim)
            throw new ArgumentException($"dataset has obs {transitions.ObservationDim} / action {transitions.ActionDim} dimensions but {context.EnvironmentId} has {obsDim} / {actionDim}");
        using var evaluator = new Evaluator(environment, context.ScoreTaskId ?? context.EnvironmentId, context.Seed);

        ulong seed = (ulong)context.Seed;
        var agent = new IqlAgent(backend, obsDim, actionDim, config, seed);
        using var buffer = new DeviceReplayBuffer(backend, transitions.Count, obsDim, actionDim);
        buffer.AddRange(transitions);
        var batch = new TransitionBatch(backend, config.BatchSize, obsDim, actionDim);
        var indices = backend.AllocateIndices(config.BatchSize);
        var sampleRandom = new DeviceRandom(seed + 7);
        TransitionBatch Sample()
        {
            buffer.SampleInto(indices, batch, sampleRandom);
            return batch;
        }

        // IQL logs its losses where it evaluates, including the last step.
        var trainer = new OfflineTrainer(evaluator, agent, Sample, sampleRandom, DatasetFingerprint.Of(dataset), new OfflineLoopOptions
        {
            TotalUpdates = config.MaxSteps,
            LogEvery = config.EvaluateEvery,
            LogAtEnd = config.EvaluateEvery > 0,
            EvaluateEvery = config.EvaluateEvery,
            EvaluateAtEnd = config.EvaluateEvery > 0,
            EvaluationEpisodes = config.EvaluationEpisodes,
            ProgressLabel = Algorithm,
        }, context.Metrics, context.Progress)
        {
            Checkpoints = TrainingCheckpoints.For(context, agent, Algorithm, config.EvaluateEvery,
                path => Save(path, agent, normalizer, context.EnvironmentId, configJson)),
            Cancellation = context.Cancellation,
        };
        var last = trainer.Run();

        return new RunResult(last, context.SaveFinalPolicy(Algorithm, path => Save(path, agent, normalizer, context.EnvironmentId, configJson)), configJson);
    }

    /// <summary>
    /// Writes what fine-tuning loads: <c>actor.*</c> (mean network and log_std), <c>critic.*</c> and
    /// <c>critic_target.*</c> (twin Q with a leading member axis), <c>value.*</c>, and <c>obs_mean</c>/<c>obs_std</c>.
    /// </summary>
    public static void Save(string path, IqlAgent agent, StateNormalizer normalizer, string environmentId, string configJson)
    {
        var tensors = agent.Actor.Parameters.ToNamedTensors(GaussianActorCheckpoint.ActorPrefix)
            .Concat(agent.Critic.Parameters.ToNamedTensors("critic"))
            .Concat(agent.CriticTarget.Parameters.ToNamedTensors("critic_target"))
            .Concat(agent.Value.Parameters.ToNamedTensors("value"))
            .Concat(GaussianActorCheckpoint.NormalizerTensors(normalizer)).ToList();
        var metadata = GaussianActorCheckpoint.Metadata(Algorithm, environmentId, agent.Actor.ObsDim, agent.Actor.ActionDim, configJson);
        metadata["steps"] = agent.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture);
        SafetensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>Loads the IQL actor (log-std clamp −20) and the normaliser it was trained with.</summary>
    public static (GaussianActor Actor, StateNormalizer Normalizer) LoadActor(Backend backend, string path, bool trainable = false) =>
        GaussianActorCheckpoint.Load(backend, path, Gaussian.IqlMinLogStd, trainable);
}
