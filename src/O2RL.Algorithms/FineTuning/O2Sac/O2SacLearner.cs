using System.Globalization;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Kernels;

namespace O2RL.Algorithms.FineTuning.O2Sac;

/// <summary>
/// The O2SAC learner (ALGORITHMS.md §3): a <see cref="SoftActorCritic"/> (online actor π_θ, fresh LayerNorm critics
/// and targets, log α and the optimisers, created once and kept across stages A → B → C), the frozen offline actor
/// π_off, the frozen reference π_ref (a separate deep copy, never stepped) and the Lagrange multiplier λ. One method
/// per stage step: <see cref="PolicyEvaluationStep"/> (A), <see cref="ValueAlignmentStep"/> (B) with
/// <see cref="FinishAlignment"/>, and <see cref="ConstrainedUpdate"/> (C). Each computes every loss from the
/// start-of-step parameters, then steps. Buffers are allocated on first use per batch size; nothing allocates
/// afterwards, and no device value is read back inside a step.
/// </summary>
public sealed class O2SacLearner
{
    /// <summary>Floor of the reference log-density in stage C (actor loss, λ slack, critic target), not in stage B.</summary>
    public const float ReferenceLogProbFloor = -50f;

    // π_off slots: 0 = stage A sample at s′ / stage B head at s; 2 = acting (evaluation of the offline policy).
    const int OfflineSlot = 0, OfflineActingSlot = 2;
    // Head-only slot of π_off scoring the candidates â at the same head as the anchor (its own external buffers).
    const int CandidateHeadSlot = 1;
    // π_ref slots: 0 = log π_ref(ã|s) of the actor loss, 1 = log π_ref(ã′|s′) of the critic target.
    const int ReferenceCurrentSlot = 0, ReferenceNextSlot = 1;
    // Critic slot of the stage-B forward over the stacked [(s, a*); (s, â)] rows (slots 0 and 1 belong to SoftActorCritic).
    const int AlignmentCriticSlot = 3;

    readonly Backend backend;
    readonly Dictionary<int, Buffers> buffers = [];
    readonly SoftActorCritic.ActorLossTerms referenceTerms;
    Buffers? current;
    float currentThreshold;
    bool currentDualStep;

    /// <summary>
    /// Builds the learner around <paramref name="startingActor"/> (the offline actor, whose hidden widths it keeps):
    /// its weights go into π_θ, π_off and π_ref.
    /// </summary>
    public O2SacLearner(Backend backend, TanhGaussianActor startingActor, O2SacConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(startingActor);
        ArgumentNullException.ThrowIfNull(config);
        if (config.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(config), config.BatchSize, "batch_size must be at least 1");
        if (!(config.Alpha > 0f)) throw new ArgumentOutOfRangeException(nameof(config), config.Alpha, "alpha must be positive");
        this.backend = backend;
        Config = config;
        int obsDim = startingActor.ObsDim, actionDim = startingActor.ActionDim;
        int[] actorHidden = startingActor.Network.Spec.HiddenDims;
        Sac = new SoftActorCritic(backend, obsDim, actionDim, Options(config, actorHidden), seed);
        OfflineActor = new TanhGaussianActor(backend, obsDim, actionDim, seed: 0, trainable: false, hiddenDims: actorHidden);
        ReferenceActor = new TanhGaussianActor(backend, obsDim, actionDim, seed: 0, trainable: false, hiddenDims: actorHidden);
        Sac.Actor.Parameters.CopyValuesFrom(startingActor.Parameters);
        OfflineActor.Parameters.CopyValuesFrom(startingActor.Parameters);
        ReferenceActor.Parameters.CopyValuesFrom(startingActor.Parameters);
        Lambda = new LagrangeMultiplier(backend, config.BatchSize, config.Lambda);
        var schedule = new ThresholdSchedule(config.ThresholdStart, config.ThresholdEnd, config.ThresholdSteps).Validated();
        // The "update every n" reference ablation also divides ε_end by 4 (§1.6).
        Threshold = config.ReferToOptimalPolicy ? schedule : schedule.ForPeriodicReference();
        AlignmentLoss = backend.Allocate(1);
        referenceTerms = AddReferenceTerms;
    }

    /// <summary>The soft actor-critic options an O2SAC config implies (critics: 2 with the min, or Q_1 alone).</summary>
    public static SoftActorCriticOptions Options(O2SacConfig config, int[] actorHidden)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new()
        {
            ActorHidden = actorHidden,
            CriticHidden = config.CriticHidden,
            CriticLayerNorm = config.CriticLayerNorm,
            // Single-critic mode (AntMaze): Q_2 would never be trained or read, so only Q_1 is built.
            Critics = config.DoubleCritic ? 2 : 1,
            ActorLearningRate = config.ActorLr,
            CriticLearningRate = config.CriticLr,
            AlphaLearningRate = config.AlphaLr,
            InitialAlpha = config.Alpha,
            AutoAlpha = config.AutoAlpha,
            TargetEntropy = config.TargetEntropy,
            Tau = config.Tau,
            Gamma = config.Gamma,
        };
    }

    /// <summary>The resolved config.</summary>
    public O2SacConfig Config { get; }
    /// <summary>π_θ, Q, Q̄, log α and the actor/critic/α optimisers.</summary>
    public SoftActorCritic Sac { get; }
    /// <summary>π_off: the loaded actor, frozen.</summary>
    public TanhGaussianActor OfflineActor { get; }
    /// <summary>π_ref: a frozen deep copy (initially π_off), replaced by <see cref="ReplaceReference"/>.</summary>
    public TanhGaussianActor ReferenceActor { get; }
    /// <summary>λ = exp(ℓ) and its Adam.</summary>
    public LagrangeMultiplier Lambda { get; }
    /// <summary>ε_t.</summary>
    public ThresholdSchedule Threshold { get; }
    /// <summary>Latest stage-B critic loss L_pred + L_fixed: device scalar (stage A's loss is <see cref="SoftActorCritic.CriticLoss"/>).</summary>
    public Tensor AlignmentLoss { get; }
    /// <summary>Stage C updates applied.</summary>
    public long Updates { get; private set; }

    /// <summary>π_ref ← deep copy of π_θ (values copied; never an alias).</summary>
    public void ReplaceReference() => ReferenceActor.Parameters.CopyValuesFrom(Sac.Actor.Parameters);

    /// <summary>The deterministic action of π_off on [1, obs] observations (evaluating the offline policy).</summary>
    public Tensor OfflineAct(Tensor observation, bool deterministic) =>
        deterministic ? OfflineActor.DeterministicAction(observation, OfflineActingSlot)
            : throw new InvalidOperationException("the offline policy is only evaluated (deterministically) here; online acting uses π_θ");

    // ───────────────────────────── stage A ─────────────────────────────

    /// <summary>
    /// One policy re-evaluation step of π_off (§3.3) on an offline minibatch, α fixed at α_A:
    /// y = r + γ(1 − m)[Q̄min(s′, ã′) − α_A·log π_off(ã′|s′)], ã′ ~ π_off(·|s′); L_Q = Σ_i MSE(Q_i(s, a), y);
    /// critic Adam step, then Polyak of the targets. The actors are not touched.
    /// </summary>
    public void PolicyEvaluationStep(TransitionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var b = BuffersFor(batch.Size);
        Sac.RefreshAlpha();
        // ã′ ~ π_off(·|s′) with log π_off(ã′|s′)  (no gradient)
        var (nextAction, nextLogProb) = OfflineActor.Sample(batch.NextObservations, b.Noise, OfflineSlot, drawNoiseFrom: Sac.UpdateRandom);
        // y = r + γ(1 − m)[min_i Q̄_i(s′, ã′) − α_A·log π_off(ã′|s′)];  L_Q = Σ_i MSE(Q_i(s, a), y)
        var nextQ = Sac.TargetCritic.Forward(batch.NextObservations, nextAction, 0);
        var (_, gradient, _) = Sac.TdLoss(batch, nextQ, nextLogProb);
        Sac.CriticBackward(gradient);
        // Critic step, then θ̄ ← (1 − τ)θ̄ + τθ (every step in stage A).
        Sac.CriticOptimizer.StepThenPolyak(Sac.TargetCritic.Parameters, Sac.Options.Tau);
    }

    // ───────────────────────────── stage B ─────────────────────────────

    /// <summary>
    /// One value-alignment step (§3.4) on offline states s, α fixed at α_A, targets frozen:
    /// a* = clamp(tanh μ_off(s), ±0.9999), V* = Q̄min(s, a*); â ~ π_θ(·|s) scored by log π_off (no −50 floor);
    /// y_align = min(V* − α_A[log π_off(a*|s) − log π_off(â|s)], Q̄min(s, â));
    /// L_Q = Σ_i [MSE(Q_i(s, â), y_align) + MSE(Q_i(s, a*), V*)];
    /// L_π = mean[α_A·log π_θ(ã|s) − Qmin(s, ã)] with a fresh ã and the pre-step critics. Actor step, then critic
    /// step; no target update.
    /// </summary>
    public void ValueAlignmentStep(Tensor observations)
    {
        ArgumentNullException.ThrowIfNull(observations);
        int size = observations.Rows;
        var b = BuffersFor(size);
        Sac.RefreshAlpha();
        // The critics see the stacked rows [(s, a*); (s, â)]: one forward and one backward over 2B rows.
        backend.Copy(observations, b.StackedObservationsTop);
        backend.Copy(observations, b.StackedObservationsBottom);

        // 1. Anchor (no gradient): a* and log π_off(a*|s) from one forward of π_off.
        var offlineHead = OfflineActor.Network.Forward(observations, OfflineSlot);
        var anchor = OfflineActor.Head(OfflineSlot).DeterministicAction(offlineHead);
        var anchorLogProb = OfflineActor.Head(OfflineSlot).LogProb(offlineHead, anchor);
        backend.Copy(anchor, b.StackedActionsTop);
        // 2. Candidates (no gradient): â ~ π_θ(·|s) (the online actor), scored under π_off without a floor.
        var (candidate, _) = Sac.SampleActor(observations, SoftActorCritic.NextSlot);
        var candidateOfflineLogProb = OfflineActor.Head(CandidateHeadSlot).LogProb(offlineHead, candidate);
        backend.Copy(candidate, b.StackedActionsBottom);
        // [V*; Q̄min(s, â)] from the frozen targets.
        backend.EnsembleMin(Sac.TargetCritic.Forward(b.StackedObservations, b.StackedActions, AlignmentCriticSlot), b.StackedTargetMin, b.StackedArgMin);
        // 3. y_align = min(V* − α_A·[log π_off(a*|s) − log π_off(â|s)], Q̄min(s, â))
        backend.Binary(BinaryOp.Add, anchorLogProb, candidateOfflineLogProb, b.Scratch, 1f, -1f);
        backend.Binary(BinaryOp.Mul, b.Scratch, Sac.Alpha, b.Scratch, 1f, 1f, Broadcast.Scalar);
        backend.Binary(BinaryOp.Add, b.AnchorValue, b.Scratch, b.Scratch, 1f, -1f);
        backend.Binary(BinaryOp.Min, b.Scratch, b.CandidateTargetMin, b.AlignedTarget);
        for (int e = 0; e < b.FixedTargetRows.Length; e++)
        {
            backend.Copy(b.AnchorValue, b.FixedTargetRows[e]);
            backend.Copy(b.AlignedTarget, b.AlignedTargetRows[e]);
        }

        // 5. Actor loss (plain SAC, α_A fixed, pre-step critics); it zeroes the critic gradients it disturbs.
        Sac.ActorLossBackward(observations);
        // 4. L_Q = L_pred + L_fixed: the mean over E·2B elements times 2E is Σ_i (mean over a* rows + mean over â rows).
        var q = Sac.Critic.Forward(b.StackedObservations, b.StackedActions, AlignmentCriticSlot);
        backend.MseLoss(q, b.StackedTarget, b.StackedCriticGradient, AlignmentLoss, 2f * Sac.Critic.Members);
        Sac.Critic.Parameters.ZeroGradients();
        Sac.Critic.Backward(b.StackedCriticGradient, AlignmentCriticSlot);
        // 6. Actor step first, then the critics; the targets stay frozen.
        Sac.ActorOptimizer.Step();
        Sac.CriticOptimizer.Step();
    }

    /// <summary>Start of stage B: the actor steps at alignment_actor_lr (actor_lr unless configured).</summary>
    public void BeginAlignment() => Sac.ActorOptimizer.LearningRate = Config.AlignmentActorLr ?? Config.ActorLr;

    /// <summary>End of stage B: Q̄_i ← Q_i (hard copy), and the actor steps at actor_lr again for stage C.</summary>
    public void FinishAlignment()
    {
        Sac.TargetCritic.Parameters.CopyValuesFrom(Sac.Critic.Parameters);
        Sac.ActorOptimizer.LearningRate = Config.ActorLr;
    }

    // ───────────────────────────── stage C ─────────────────────────────

    /// <summary>
    /// One constrained fine-tuning update (§3.7) with index k in the environment step t. With α and λ the pre-step
    /// values and ℓ_ref = max(−50, log π_ref(ã|s)) differentiated through ã:
    /// L_π = mean[α·log π_θ(ã|s) − Qmin(s, ã) + λ(log π_θ(ã|s) − ℓ_ref)];
    /// L_α = −mean[log α·(log π_θ(ã|s) + H̄)];
    /// (k = 0 only) λ dual gradient from Div_i = log π_θ(ã_i|s_i) − ℓ_ref,i and ε_t;
    /// y = r + γ(1 − m)[Q̄min(s′, ã′) − α·log π_θ(ã′|s′) − λ(log π_θ(ã′|s′) − ℓ′_ref)];
    /// L_Q = Σ_i MSE(Q_i(s, a), y). Steps: (k = 0) log λ, log α, actor, critics, Polyak.
    /// </summary>
    public void ConstrainedUpdate(TransitionBatch batch, long environmentStep, int updateIndex)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var b = BuffersFor(batch.Size);
        // Pre-step α and λ for every loss of this update.
        Sac.RefreshAlpha();
        Lambda.Refresh();
        current = b;
        currentDualStep = updateIndex == 0;
        currentThreshold = Threshold.At(environmentStep);
        b.Observations = batch.Observations;
        // L_π with the reference terms (and, for k = 0, the dual gradient), one backward through π_θ.
        Sac.ActorLossBackward(batch.Observations, referenceTerms, temperatureGradient: Config.AutoAlpha);
        // y: the soft value minus the KL cost c′ = λ(log π_θ(ã′|s′) − ℓ′_ref) of the next state, formed in the TD loss.
        var (nextQ, nextAction, nextLogProb) = Sac.NextStateSample(batch.NextObservations);
        var nextReferenceLogProb = ReferenceAtPreImage
            ? ReferenceActor.LogProbAtPreImage(batch.NextObservations, Sac.Actor.PreImage(SoftActorCritic.NextSlot), ReferenceNextSlot)
            : ReferenceActor.LogProb(batch.NextObservations, nextAction, ReferenceNextSlot);
        backend.Unary(UnaryOp.Clamp, nextReferenceLogProb, b.Scratch, ReferenceLogProbFloor, float.PositiveInfinity);
        backend.Binary(BinaryOp.Add, nextLogProb, b.Scratch, b.Scratch, 1f, -1f);
        backend.Binary(BinaryOp.Mul, b.Scratch, Lambda.Lambda, b.Scratch, 1f, 1f, Broadcast.Scalar);
        var (_, gradient, _) = Sac.TdLoss(batch, nextQ, nextLogProb, nextCost: b.Scratch);
        Sac.CriticBackward(gradient);
        // Steps: λ (first update of the environment step only), then α, actor, critics, targets.
        if (currentDualStep) Lambda.Step();
        Sac.Step();
        Updates++;
    }

    /// <summary>Whether ℓ_ref scores π_θ's samples at their pre-images (reference_log_density = pre-image).</summary>
    bool ReferenceAtPreImage => Config.ReferenceLogDensity == O2SacConfig.ReferenceAtPreImage;

    /// <summary>
    /// The reference part of L_π, λ·mean(log π_θ(ã|s) − ℓ_ref): adds λ/B to ∂L/∂log π_θ and
    /// −λ/B·1[log π_ref &gt; −50]·∂log π_ref(ã|s)/∂ã to ∂L/∂ã (the pathwise gradient through the sample; π_ref's
    /// parameters get none), its value to the actor loss, and on k = 0 forms the dual gradient. With ℓ_ref at the
    /// pre-image u, the same gradient is ∂/∂u and is returned for the sample's backward instead.
    /// </summary>
    Tensor? AddReferenceTerms(Tensor action, Tensor logProb, Tensor actionGradient, Tensor logProbGradient)
    {
        var b = current!;
        var referenceLogProb = ReferenceAtPreImage
            ? ReferenceActor.LogProbAtPreImage(b.Observations!, Sac.Actor.PreImage(SoftActorCritic.CurrentSlot), ReferenceCurrentSlot)
            : ReferenceActor.LogProb(b.Observations!, action, ReferenceCurrentSlot);
        // ℓ_ref = max(−50, log π_ref(ã|s)); the floor passes no gradient where it is active.
        backend.Unary(UnaryOp.Step, referenceLogProb, b.FloorMask, ReferenceLogProbFloor);
        backend.Unary(UnaryOp.Clamp, referenceLogProb, b.FlooredReferenceLogProb, ReferenceLogProbFloor, float.PositiveInfinity);
        // Div_i = log π_θ(ã_i|s_i) − ℓ_ref,i
        backend.Binary(BinaryOp.Add, logProb, b.FlooredReferenceLogProb, b.Divergence, 1f, -1f);
        if (currentDualStep) Lambda.DualGradient(b.Divergence, currentThreshold);
        // L_π += λ·mean(Div)
        backend.Sum(b.Divergence, b.ScalarScratch, 1f / b.Size);
        backend.Binary(BinaryOp.Mul, b.ScalarScratch, Lambda.Lambda, b.ScalarScratch);
        backend.Binary(BinaryOp.Add, Sac.ActorLoss, b.ScalarScratch, Sac.ActorLoss);
        // ∂L/∂log π_θ += λ/B
        backend.Binary(BinaryOp.Add, logProbGradient, Lambda.Lambda, logProbGradient, 1f, 1f / b.Size, Broadcast.Scalar);
        // ∂L/∂ℓ_ref = −λ/B, masked by the floor; through log π_ref into ã.
        backend.Binary(BinaryOp.Mul, b.FloorMask, Lambda.Lambda, b.ReferenceGradient, -1f / b.Size, 1f, Broadcast.Scalar);
        var referenceGradient = ReferenceActor.LogProbBackward(b.ReferenceGradient, ReferenceCurrentSlot, trainActor: false);
        if (ReferenceAtPreImage) return referenceGradient;
        backend.Binary(BinaryOp.Add, actionGradient, referenceGradient, actionGradient);
        return null;
    }

    // ───────────────────────────── state (stage files) ─────────────────────────────

    /// <summary>
    /// Every tensor of the learner's state: networks (π_θ, π_ref, critics, targets), log α, log λ, and every
    /// optimiser's moments; <see cref="StateMetadata"/> holds the step counts and RNG counters.
    /// </summary>
    public IEnumerable<NamedTensor> StateTensors()
    {
        foreach (var t in Sac.Actor.Parameters.ToNamedTensors("actor")) yield return t;
        foreach (var t in ReferenceActor.Parameters.ToNamedTensors("actor_reference")) yield return t;
        foreach (var t in Sac.Critic.Parameters.ToNamedTensors("critic")) yield return t;
        foreach (var t in Sac.TargetCritic.Parameters.ToNamedTensors("critic_target")) yield return t;
        yield return Host("log_alpha", Sac.LogAlpha);
        yield return Host("log_lambda", Lambda.LogLambda);
        foreach (var (name, adam) in Optimizers())
        {
            yield return Host($"optimizer.{name}.exp_avg", adam.FirstMoment);
            yield return Host($"optimizer.{name}.exp_avg_sq", adam.SecondMoment);
        }
        // The latest loss values: stage C's first log (before its first update) reports them, so a run resumed from a
        // stage file logs what an uninterrupted one does.
        foreach (var (name, tensor) in LatestValues()) yield return Host(name, tensor);
    }

    IEnumerable<(string Name, Tensor Tensor)> LatestValues() =>
        [("latest.critic_loss", Sac.CriticLoss), ("latest.actor_loss", Sac.ActorLoss), ("latest.alpha_loss", Sac.AlphaLoss),
         ("latest.mean_q", Sac.MeanQ), ("latest.lambda_loss", Lambda.Loss)];

    /// <summary>Optimiser step counts and the update/acting RNG counters.</summary>
    public Dictionary<string, string> StateMetadata()
    {
        var metadata = new Dictionary<string, string>
        {
            ["rng.update"] = Sac.UpdateRandom.Counter.ToString(CultureInfo.InvariantCulture),
            ["rng.acting"] = Sac.ActingRandom.Counter.ToString(CultureInfo.InvariantCulture),
            ["updates"] = Updates.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (name, adam) in Optimizers()) metadata[$"optimizer.{name}.step"] = adam.StepCount.ToString(CultureInfo.InvariantCulture);
        return metadata;
    }

    /// <summary>Restores what <see cref="StateTensors"/> and <see cref="StateMetadata"/> saved (shapes checked).</summary>
    public void LoadState(Checkpoint checkpoint, string path)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        Sac.Actor.Parameters.LoadFrom(checkpoint, "actor");
        ReferenceActor.Parameters.LoadFrom(checkpoint, "actor_reference");
        Sac.Critic.Parameters.LoadFrom(checkpoint, "critic");
        Sac.TargetCritic.Parameters.LoadFrom(checkpoint, "critic_target");
        Upload(checkpoint, "log_alpha", Sac.LogAlpha);
        Upload(checkpoint, "log_lambda", Lambda.LogLambda);
        foreach (var (name, adam) in Optimizers())
        {
            Upload(checkpoint, $"optimizer.{name}.exp_avg", adam.FirstMoment);
            Upload(checkpoint, $"optimizer.{name}.exp_avg_sq", adam.SecondMoment);
            adam.StepCount = LongMetadata(checkpoint, $"optimizer.{name}.step", path);
        }
        // Older stage files lack these; a resume from one differs only in the losses its first stage-C log reports.
        foreach (var (name, tensor) in LatestValues())
            if (checkpoint.Tensors.ContainsKey(name)) Upload(checkpoint, name, tensor);
        Sac.UpdateRandom.Counter = (ulong)LongMetadata(checkpoint, "rng.update", path);
        Sac.ActingRandom.Counter = (ulong)LongMetadata(checkpoint, "rng.acting", path);
        Updates = LongMetadata(checkpoint, "updates", path);
        Sac.RefreshAlpha();
        Lambda.Refresh();
    }

    /// <summary>
    /// Adds the learner's complete stage-C state to a training state (a mid-stage-C checkpoint): π_θ, π_ref and π_off,
    /// critics and targets, log α and α, log λ with λ and its last loss, every optimiser (moments, step count,
    /// learning rate), the latest losses the next log reports, both random streams and the update count.
    /// </summary>
    public void SaveTrainingState(TrainingState state) => MapTrainingState(TrainingStateMap.Saving(state));

    /// <summary>Restores what <see cref="SaveTrainingState"/> stored into a learner built with the same config and seed.</summary>
    public void RestoreTrainingState(TrainingState state) => MapTrainingState(TrainingStateMap.Restoring(state));

    void MapTrainingState(TrainingStateMap map)
    {
        map.SoftActorCritic("o2sac", Sac);
        map.Tensor("o2sac.critic_loss", Sac.CriticLoss);
        map.Parameters("o2sac.actor_reference", ReferenceActor.Parameters);
        map.Parameters("o2sac.actor_offline", OfflineActor.Parameters);
        Lambda.Map(map, "o2sac.lambda");
        Updates = map.Count("o2sac.updates", Updates);
    }

    /// <summary>An integer metadata entry of a stage file.</summary>
    public static long LongMetadata(Checkpoint checkpoint, string key, string path)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return checkpoint.Metadata.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) ? value
            : throw CheckpointFormatException.Content(path, $"has no integer metadata '{key}'");
    }

    IEnumerable<(string Name, Adam Optimizer)> Optimizers() =>
        [("actor", Sac.ActorOptimizer), ("critic", Sac.CriticOptimizer), ("log_alpha", Sac.AlphaOptimizer), ("log_lambda", Lambda.Optimizer)];

    static NamedTensor Host(string name, Tensor tensor) => new(name, [tensor.Length], tensor.ToArray());

    void Upload(Checkpoint checkpoint, string name, Tensor destination) =>
        backend.Upload(checkpoint.GetTensor(name, [destination.Length]).Data, destination);

    Buffers BuffersFor(int size)
    {
        if (buffers.TryGetValue(size, out var b)) return b;
        buffers[size] = b = new Buffers(backend, size, Sac.ObsDim, Sac.ActionDim, Sac.Critic.Members);
        return b;
    }

    /// <summary>Per-batch-size buffers.</summary>
    sealed class Buffers
    {
        public Buffers(Backend backend, int size, int obsDim, int actionDim, int critics)
        {
            Size = size;
            Noise = backend.Allocate(size, actionDim);
            Scratch = backend.Allocate(size);
            FloorMask = backend.Allocate(size); FlooredReferenceLogProb = backend.Allocate(size);
            Divergence = backend.Allocate(size); ReferenceGradient = backend.Allocate(size); AlignedTarget = backend.Allocate(size);
            ScalarScratch = backend.Allocate(1);
            StackedObservations = backend.Allocate(2 * size, obsDim);
            StackedObservationsTop = StackedObservations.SliceRows(0, size); StackedObservationsBottom = StackedObservations.SliceRows(size, size);
            StackedActions = backend.Allocate(2 * size, actionDim);
            StackedActionsTop = StackedActions.SliceRows(0, size); StackedActionsBottom = StackedActions.SliceRows(size, size);
            StackedTargetMin = backend.Allocate(2, size); StackedArgMin = backend.Allocate(2, size);
            AnchorValue = StackedTargetMin.SliceRows(0, 1); CandidateTargetMin = StackedTargetMin.SliceRows(1, 1);
            // [E, 2B] read as [2E, B]: row 2e holds member e's anchor targets, row 2e + 1 its candidate targets.
            var targetRows = backend.Allocate(2 * critics, size);
            StackedTarget = targetRows.Reshape(critics, 2 * size);
            FixedTargetRows = [.. Enumerable.Range(0, critics).Select(e => targetRows.SliceRows(2 * e, 1))];
            AlignedTargetRows = [.. Enumerable.Range(0, critics).Select(e => targetRows.SliceRows(2 * e + 1, 1))];
            StackedCriticGradient = backend.Allocate(critics, 2 * size);
        }

        public readonly int Size;
        /// <summary>The stage-C minibatch's states (set per update; read by the reference terms).</summary>
        public Tensor? Observations;
        /// <summary>[B, d].</summary>
        public readonly Tensor Noise;
        /// <summary>[B].</summary>
        public readonly Tensor Scratch, FloorMask, FlooredReferenceLogProb, Divergence, ReferenceGradient, AlignedTarget;
        /// <summary>[1].</summary>
        public readonly Tensor ScalarScratch;
        /// <summary>[2B, obs] and [2B, d] with their top (anchor) and bottom (candidate) halves.</summary>
        public readonly Tensor StackedObservations, StackedObservationsTop, StackedObservationsBottom, StackedActions, StackedActionsTop, StackedActionsBottom;
        /// <summary>[2, B]: V* then Q̄min(s, â); the argmin; the two halves as [1, B] views.</summary>
        public readonly Tensor StackedTargetMin, StackedArgMin, AnchorValue, CandidateTargetMin;
        /// <summary>[E, 2B] critic targets and gradient; per-member [1, B] views of the anchor and candidate halves.</summary>
        public readonly Tensor StackedTarget, StackedCriticGradient;
        public readonly Tensor[] FixedTargetRows, AlignedTargetRows;
    }
}
