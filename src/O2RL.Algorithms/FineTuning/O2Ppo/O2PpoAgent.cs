using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Algorithms.FineTuning.O2Ppo;

/// <summary>
/// Stage C of O2PPO (ALGORITHMS.md §5.4–§5.5): PPO on the loaded actor with the pre-trained value network, whose
/// policy advantage mixes in the auxiliary reference advantage (<see cref="AuxiliaryAdvantage"/>, matrix form by
/// default). Acting, the value step and the learning-rate decay are <see cref="PpoAgent"/>'s; the actor step is this
/// class's, because in the matrix form each sample's surrogate is averaged over a whole row of Â.
/// </summary>
/// <remarks>
/// π_ref is a frozen deep copy (never an alias, never optimised); <see cref="ReplaceReference"/> copies the current
/// actor into it. The value target is A + V(s) from the raw GAE advantage, untouched by the mixing (§10 item 15).
/// Nothing allocates per minibatch; one host round trip per update (GAE's recursion, as in plain PPO). Its training
/// state (for mid-stage-C checkpoints) is PPO's, π_ref's, the epoch shuffle's, and the <see cref="Tracker"/>'s and
/// <see cref="RewardScaler"/>'s when set.
/// </remarks>
public sealed class O2PpoAgent : IOnPolicyAgent, IResumableAgent
{
    const int UpdateSlot = 0, ValueSlot = 1, NextValueSlot = 2, ReferenceSlot = 0;
    readonly Backend backend;
    readonly O2PpoConfig config;
    readonly HostRandom shuffleRandom;
    readonly IndexTensor[] minibatchIndices;
    readonly Tensor positive, negative;
    // Minibatch vectors [M]: log π_θ, log π_old, ρ, clip(ρ), hi/lo masks, U (ratio branch), K (clipped branch), scratch.
    readonly Tensor logProb, oldLogProb, ratio, clippedRatio, above, below, ratioBranch, clippedBranch, objective, logProbGradient;
    readonly Tensor policyLoss, actorLoss, entropyValue;
    float lastWeight;
    bool stepped;

    /// <summary>Builds PPO around <paramref name="actor"/> (the loaded offline actor, PPO log-std clamp) and π_ref as a copy of it.</summary>
    /// <param name="backend">Device.</param>
    /// <param name="config">Resolved O2PPO config.</param>
    /// <param name="actor">π_θ: the starting actor, trained in place.</param>
    /// <param name="seed">Seed of the value network's init, the exploration noise and the epoch shuffles.</param>
    /// <param name="actorHidden">Hidden widths of <paramref name="actor"/> (for π_ref's copy).</param>
    public O2PpoAgent(Backend backend, O2PpoConfig config, GaussianActor actor, ulong seed, int[] actorHidden)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(actorHidden);
        if (!(config.AuxAlpha >= 0f)) throw new ArgumentOutOfRangeException(nameof(config), config.AuxAlpha, "α_aux must be ≥ 0");
        if (config.AuxDecaySteps < 1) throw new ArgumentOutOfRangeException(nameof(config), config.AuxDecaySteps, "T_end (aux_decay_steps) must be positive");
        this.backend = backend;
        this.config = config;
        Ppo = new PpoAgent(backend, actor.ObsDim, actor.ActionDim, config.ToPpoConfig(actorHidden), seed, actor);
        Reference = new GaussianActor(backend, actor.ObsDim, actor.ActionDim, seed, actor.MinLogStd, trainable: false, actorHidden);
        Reference.Parameters.CopyValuesFrom(actor.Parameters);
        Advantage = new AuxiliaryAdvantage(backend, config.RolloutLength, actor.ActionDim, config.AuxAlpha,
            perSample: config.AuxAdvantagePerSample || !config.UseAuxAdvantage, normalize: config.NormalizeAdvantages);
        shuffleRandom = new HostRandom(seed + 3);
        int m = config.MinibatchSize;
        minibatchIndices = new IndexTensor[config.RolloutLength / m];
        for (int i = 0; i < minibatchIndices.Length; i++) minibatchIndices[i] = backend.AllocateIndices(m);
        positive = backend.Allocate(m, 1);
        negative = backend.Allocate(m, 1);
        logProb = backend.Allocate(m); oldLogProb = backend.Allocate(m); ratio = backend.Allocate(m); clippedRatio = backend.Allocate(m);
        above = backend.Allocate(m); below = backend.Allocate(m); ratioBranch = backend.Allocate(m); clippedBranch = backend.Allocate(m);
        objective = backend.Allocate(m); logProbGradient = backend.Allocate(m);
        policyLoss = backend.Allocate(1); actorLoss = backend.Allocate(1); entropyValue = backend.Allocate(1);
    }

    /// <summary>The plain PPO learner underneath (actor, value network, optimisers, acting).</summary>
    public PpoAgent Ppo { get; }
    /// <summary>π_θ.</summary>
    public GaussianActor Actor => Ppo.Actor;
    /// <summary>V(s): [B, 1].</summary>
    public Mlp Critic => Ppo.Critic;
    /// <summary>π_ref: frozen deep copy, replaced only by <see cref="ReplaceReference"/>.</summary>
    public GaussianActor Reference { get; }
    /// <summary>The mixed, normalised advantage of the latest update.</summary>
    public AuxiliaryAdvantage Advantage { get; }
    /// <inheritdoc/>
    public IPolicy Policy => Ppo.Policy;
    /// <summary>The latest actor loss (device scalar).</summary>
    public Tensor? LastActorLoss => stepped ? actorLoss : null;
    /// <summary>The rule that replaces π_ref at evaluations (its best score is part of the state); null when none.</summary>
    public ReferencePolicyTracker? Tracker { get; set; }
    /// <summary>The dynamic reward scaler that continues on the online rewards (its statistics are part of the state); null when off.</summary>
    public RunningRewardScaler? RewardScaler { get; set; }

    /// <inheritdoc/>
    public void SaveState(TrainingState state) => Map(TrainingStateMap.Saving(state));

    /// <inheritdoc/>
    public void RestoreState(TrainingState state) => Map(TrainingStateMap.Restoring(state));

    void Map(TrainingStateMap map)
    {
        long hasTracker = map.Count("o2ppo.has_tracker", Tracker is null ? 0 : 1);
        if ((hasTracker != 0) != (Tracker is not null))
            throw new InvalidDataException($"{map.Source ?? "training state"}: saved {(Tracker is null ? "with" : "without")} a reference tracker, restored {(Tracker is null ? "without" : "with")} one");
        // π_θ, V, their optimisers (learning rates included: linear decay) and the acting stream.
        map.Part(Ppo.SaveState, Ppo.RestoreState);
        map.Parameters("o2ppo.actor_reference", Reference.Parameters);
        map.Random("o2ppo.shuffle_random", shuffleRandom);
        // What the next log reports: the latest losses and the auxiliary weight w_t.
        stepped = map.Count("o2ppo.stepped", stepped ? 1 : 0) != 0;
        lastWeight = (float)map.Real("o2ppo.aux_weight", lastWeight);
        map.Tensor("o2ppo.actor_loss", actorLoss);
        map.Tensor("o2ppo.policy_loss", policyLoss);
        map.Tensor("o2ppo.entropy", entropyValue);
        if (Tracker is { } tracker)
            map.Part(s => tracker.SaveState(s, "o2ppo.reference_tracker"), s => tracker.RestoreState(s, "o2ppo.reference_tracker"));
        var scaler = RewardScaler;
        map.Part(s => RewardScalerState.Save(s, "o2ppo.reward_scaler", scaler), s => RewardScalerState.Restore(s, "o2ppo.reward_scaler", scaler));
    }

    /// <inheritdoc/>
    public void Act(ReadOnlySpan<float> observation, Span<float> action, Span<float> logProbs) => Ppo.Act(observation, action, logProbs);

    /// <summary>π_ref ← deep copy of the current actor (§1.6).</summary>
    public void ReplaceReference() => Reference.Parameters.CopyValuesFrom(Actor.Parameters);

    /// <inheritdoc/>
    public void Update(RolloutBuffer rollout, long environmentStep)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        if (rollout.Capacity != config.RolloutLength || rollout.MinibatchSize != config.MinibatchSize)
            throw new ArgumentException($"rollout of {rollout.Capacity} steps in minibatches of {rollout.MinibatchSize}; the config says {config.RolloutLength} / {config.MinibatchSize}");

        // V before this update, no gradient: δ_t = r_t + γ(1 − dw_t)V(s'_t) − V(s_t), A_t = δ_t + γλ(1 − done_t)A_{t+1},
        // Vtarg_t = A_t + V(s_t) from the raw A.
        var values = Critic.Forward(rollout.Observations, ValueSlot);
        var nextValues = Critic.Forward(rollout.NextObservations, NextValueSlot);
        rollout.ComputeAdvantages(values, nextValues, config.Gamma, config.GaeLambda);

        // w_t = max(1 − t/T_end, 0); h = Σ_j log π_ref(a_j|s) + H(π_ref) over the rollout's executed actions.
        lastWeight = config.UseAuxAdvantage ? AuxiliaryAdvantage.Weight(environmentStep, config.AuxDecaySteps) : 0f;
        Tensor? referenceLogProb = null, referenceEntropy = null;
        if (lastWeight > 0f)
        {
            referenceLogProb = Reference.LogProb(rollout.Observations, rollout.Actions, ReferenceSlot);
            referenceEntropy = Reference.Distribution(ReferenceSlot).Entropy();
        }
        Advantage.Compute(rollout.Advantages, referenceLogProb, referenceEntropy, lastWeight);

        for (int epoch = 0; epoch < config.Epochs; epoch++)
        {
            rollout.ShuffleEpoch(shuffleRandom);
            var permutation = rollout.Permutation;
            for (int m = 0; m < minibatchIndices.Length; m++)
                backend.UploadIndices(permutation.Slice(m * config.MinibatchSize, config.MinibatchSize), minibatchIndices[m]);
            for (int m = 0; m < minibatchIndices.Length; m++)
            {
                var batch = rollout.GatherMinibatch(m);
                backend.GatherRows(Advantage.PositiveRowSums, minibatchIndices[m], positive);
                backend.GatherRows(Advantage.NegativeRowSums, minibatchIndices[m], negative);
                // First the actor, then the critic, per minibatch.
                ActorStep(batch.Observations, batch.Actions, batch.LogProbs, positive, negative, Advantage.Columns);
                Ppo.CriticStep(batch.Observations, batch.ValueTargets);
            }
        }
        Ppo.DecayLearningRates(environmentStep);
    }

    /// <summary>
    /// One actor step on a minibatch of rows of Â, given each row's sums of positive and negative entries:
    /// ρ_i = exp(Σ_j log π_θ(a_j|s_i) − Σ_j log π_old(a_j|s_i)),
    /// L_π = mean over the M × C block of [−min(ρ_i·Â_ij, clip(ρ_i, 1 − ε, 1 + ε)·Â_ij) − c_H·H(π_θ)],
    /// Adam with the gradient norm clipped. With ρ_i above the range the clipped branch is the minimum on the positive
    /// entries (P_i), below it on the negative ones (N_i), inside it the branches agree:
    /// Σ_j min(·) = ρ_i·U_i + clip(ρ_i)·K_i with K_i = 1(ρ_i &gt; 1 + ε)·P_i + 1(ρ_i &lt; 1 − ε)·N_i and U_i = P_i + N_i − K_i,
    /// and ∂L/∂ρ_i = −U_i/(M·C) (the clipped branch is constant in ρ outside the range).
    /// </summary>
    /// <param name="observations">s: [M, obsDim].</param>
    /// <param name="actions">a (clamped, as executed): [M, d].</param>
    /// <param name="oldLogProbs">log π_old(a_j|s) per coordinate: [M, d].</param>
    /// <param name="positiveSums">P_i: [M] or [M, 1].</param>
    /// <param name="negativeSums">N_i: [M] or [M, 1].</param>
    /// <param name="columns">C, entries per row of Â (n in the matrix form, 1 per sample).</param>
    public void ActorStep(Tensor observations, Tensor actions, Tensor oldLogProbs, Tensor positiveSums, Tensor negativeSums, int columns)
    {
        ArgumentNullException.ThrowIfNull(observations);
        int m = observations.Rows;
        if (m != config.MinibatchSize) throw new ArgumentException($"minibatch has {m} rows, the config {config.MinibatchSize}", nameof(observations));
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "Â has at least one column");
        float eps = config.ClipRatio, c = config.EntropyCoefficient, scale = -1f / ((float)m * columns);

        var mean = Actor.Mean(observations, UpdateSlot);
        var distribution = Actor.Distribution(UpdateSlot);
        backend.RowSum(distribution.LogProbPerCoordinate(mean, actions), logProb);
        backend.RowSum(oldLogProbs, oldLogProb);
        backend.Binary(BinaryOp.Add, logProb, oldLogProb, ratio, 1f, -1f);
        backend.Unary(UnaryOp.Exp, ratio, ratio);                                                    // ρ
        backend.Unary(UnaryOp.Clamp, ratio, clippedRatio, 1f - eps, 1f + eps);                       // clip(ρ)
        backend.Unary(UnaryOp.Step, ratio, above, 1f + eps);                                          // 1(ρ > 1 + ε)
        backend.Unary(UnaryOp.Affine, ratio, below, -1f, 0f);
        backend.Unary(UnaryOp.Step, below, below, -(1f - eps));                                       // 1(ρ < 1 − ε)
        backend.Binary(BinaryOp.Mul, above, positiveSums, clippedBranch);
        backend.Binary(BinaryOp.Mul, below, negativeSums, objective);
        backend.Binary(BinaryOp.Add, clippedBranch, objective, clippedBranch);                        // K
        backend.Binary(BinaryOp.Add, positiveSums, negativeSums, ratioBranch);
        backend.Binary(BinaryOp.Add, ratioBranch, clippedBranch, ratioBranch, 1f, -1f);               // U = P + N − K
        backend.Binary(BinaryOp.Mul, ratio, ratioBranch, objective);
        backend.Binary(BinaryOp.Mul, clippedRatio, clippedBranch, logProbGradient);
        backend.Binary(BinaryOp.Add, objective, logProbGradient, objective);                          // Σ_j min(ρÂ, clip(ρ)Â)
        var entropy = distribution.Entropy();                                                         // H, the same along every row
        backend.Sum(objective, policyLoss, scale);
        backend.Binary(BinaryOp.Add, policyLoss, entropy, actorLoss, 1f, -c);
        backend.Copy(entropy, entropyValue);

        // ∂L/∂log π_i = ∂L/∂ρ_i · ρ_i = −U_i·ρ_i/(M·C).
        backend.Binary(BinaryOp.Mul, ratioBranch, ratio, logProbGradient, scale, 1f);
        Actor.Parameters.ZeroGradients();
        distribution.EntropyBackward(-c);
        Actor.LogProbBackward(logProbGradient, UpdateSlot);
        Ppo.ActorOptimizer.Step();
        stepped = true;
    }

    /// <inheritdoc/>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (stepped)
        {
            metrics.Log(step, "losses/actor_loss", backend.ReadScalar(actorLoss));
            metrics.Log(step, "losses/policy_loss", backend.ReadScalar(policyLoss));
            metrics.Log(step, "losses/entropy", backend.ReadScalar(entropyValue));
        }
        if (Ppo.LastValueLoss is Tensor valueLoss) metrics.Log(step, "losses/value_loss", backend.ReadScalar(valueLoss));
        metrics.Log(step, "charts/aux_weight", lastWeight);
        metrics.Log(step, "charts/advantage_std", backend.ReadScalar(Advantage.AdvantageStd));
        metrics.Log(step, "charts/actor_lr", Ppo.ActorOptimizer.LearningRate);
    }
}

/// <summary>
/// The dynamic reward scaler's statistics in a training state (exact doubles). R itself is reset at every episode
/// start, and checkpoints are taken at episode ends, but it is stored anyway so a restore never depends on that.
/// </summary>
internal static class RewardScalerState
{
    public static void Save(TrainingState state, string name, RunningRewardScaler? scaler)
    {
        state.SetCounter(name + ".present", scaler is null ? 0 : 1);
        if (scaler is null) return;
        var (runningSum, count, mean, squaredDeviations, std) = scaler.ExportState();
        state.SetReal(name + ".running_sum", runningSum);
        state.SetCounter(name + ".count", count);
        state.SetReal(name + ".mean", mean);
        state.SetReal(name + ".m2", squaredDeviations);
        state.SetReal(name + ".std", std);
    }

    public static void Restore(TrainingState state, string name, RunningRewardScaler? scaler)
    {
        bool stored = state.GetCounter(name + ".present") != 0;
        if (stored != (scaler is not null))
            throw new InvalidDataException($"{state.Source ?? "training state"}: saved {(stored ? "with" : "without")} dynamic reward scaling but this run has it {(scaler is null ? "off" : "on")}; the config differs");
        scaler?.ImportState(state.GetReal(name + ".running_sum"), state.GetCounter(name + ".count"), state.GetReal(name + ".mean"),
            state.GetReal(name + ".m2"), state.GetReal(name + ".std"));
    }
}

/// <summary>Plain PPO (the naive and scratch baselines) with the dynamic reward scaler that continues on its online rewards.</summary>
internal sealed class PpoWithRewardScaler(PpoAgent agent, RunningRewardScaler scaler) : IResumableAgent
{
    public void SaveState(TrainingState state)
    {
        agent.SaveState(state);
        RewardScalerState.Save(state, "ppo.reward_scaler", scaler);
    }

    public void RestoreState(TrainingState state)
    {
        agent.RestoreState(state);
        RewardScalerState.Restore(state, "ppo.reward_scaler", scaler);
    }
}
