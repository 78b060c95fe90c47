using System.Diagnostics;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Distributions;
using O2RL.Kernels;

namespace O2RL.Algorithms.FineTuning.O2Td3;

/// <summary>
/// O2TD3 (ALGORITHMS.md §4): the TD3 networks with the loaded TD3+BC actor in μ_θ and μ̄, the frozen offline
/// actor μ_off, the frozen reference μ_ref, the Lagrange multiplier λ = exp ℓ and the iteration counter n_it,
/// with one method per stage:
/// <list type="bullet">
/// <item><see cref="EvaluationStep"/> (stage A): TD3 evaluation of μ_off with target smoothing; Polyak on the
/// critic targets every step; μ̄ stays μ_off; n_it unchanged.</item>
/// <item><see cref="AlignmentStep"/> (stage B): distance-shrunk anchor targets, L_refine + L_fixed, DPG actor on
/// the pre-step Q_1; actor step then critic step; n_it += 1; targets frozen. <see cref="FinishAlignment"/> then
/// hard-copies μ̄ ← μ_θ, Q̄_i ← Q_i.</item>
/// <item><see cref="Update"/> (stage C): the constrained TD3 update of §4.6.</item>
/// </list>
/// The optimisers are created once and persist across the stages (pitfall 21). Its training state (for mid-stage-C
/// checkpoints) holds everything an update, a log or an evaluation hook reads, the <see cref="Tracker"/> included.
/// </summary>
public sealed class O2Td3Agent : IOffPolicyAgent, IResumableAgent
{
    /// <summary>The release's hard-coded learning rate of log λ (§1.5; not a config value).</summary>
    public const float LambdaLearningRate = 5e-5f;
    // Critic slot of Q(s, a_off) in stage B; slots 0 and 1 belong to the TD3 operators' critic and actor steps.
    const int FixedCriticSlot = 2;

    readonly O2Td3Config config;
    readonly Backend backend;
    readonly int batch, actionDim;
    readonly ThresholdSchedule schedule;
    readonly DeterministicTanh alignmentNoise;
    // Stage B, [B, d]: ξ; a_n − a_off (then squared).
    readonly Tensor alignmentEpsilon, alignmentGap;
    // Stage B, [B]: V*, its arg-min, ‖a_n − a_off‖²/d then δ, 1 + βδ², V*(1 + βδ²), V*/(1 + βδ²), 1(V* > 0), y_dist.
    readonly Tensor anchorValue, anchorArgMin, distance, shrink, shrunkNegative, shrunkPositive, anchorPositive, distanceTarget;
    // Stage B, [2, B]: y_i per critic; V* per critic; ∂L_refine/∂Q(s, a_n); ∂L_fixed/∂Q(s, a_off).
    readonly Tensor refineTargets, fixedTargets, refineGradient, fixedGradient;
    readonly Tensor fixedTargetRow1, fixedTargetRow2;
    // Stage B, [1]: L_refine, L_fixed, L_Q.
    readonly Tensor refineLoss, fixedLoss;
    // Stage C, [B, d]: (μ_θ(s′) − μ_ref(s′)) gradient scratch; (a_ref − a_cur)² with a flat [B·d] view for λ.
    readonly Tensor penaltyGradient, squaredGap, squaredGapFlat;
    // Stage C, [1]: P′ and λ·P′.
    readonly Tensor penalty, targetPenalty;
    long updateTicks, updatesSinceLog;

    /// <summary>
    /// Builds the agent around <paramref name="offlineActor"/> (the TD3+BC actor; its hidden widths set the actor's):
    /// μ_θ, μ̄, μ_ref start as copies of it; the critics and their targets are new (2 × 256 by default).
    /// </summary>
    public O2Td3Agent(Backend backend, DeterministicActor offlineActor, O2Td3Config config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(offlineActor);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (!ReferenceEquals(offlineActor.Parameters.Backend, backend)) throw new ArgumentException("the offline actor lives on another backend", nameof(offlineActor));
        this.config = config;
        this.backend = backend;
        batch = config.BatchSize;
        actionDim = offlineActor.ActionDim;
        int obsDim = offlineActor.ObsDim;
        int[] actorHidden = offlineActor.Network.Spec.HiddenDims;

        Networks = new Td3Networks(backend, obsDim, actionDim, actorHidden, config.CriticHidden, config.CriticLayerNorm, config.ActorLr, config.CriticLr, seed);
        OfflineActor = offlineActor;
        Reference = new DeterministicActor(backend, obsDim, actionDim, seed: 0, actorHidden);
        Networks.Actor.Parameters.CopyValuesFrom(offlineActor.Parameters);
        Networks.ActorTarget.Parameters.CopyValuesFrom(offlineActor.Parameters);
        Reference.Parameters.CopyValuesFrom(offlineActor.Parameters);

        SmoothingRandom = new DeviceRandom(Seeds.Derive(seed, 3));
        AlignmentRandom = new DeviceRandom(Seeds.Derive(seed, 6));
        Operators = new Td3Operators(Networks, batch, SmoothingRandom);
        Lagrange = new LagrangeMultiplier(backend, batch * actionDim, config.InitialLambda, LambdaLearningRate, config.LambdaTau);
        schedule = new ThresholdSchedule(config.ThresholdStart, config.ThresholdEnd, config.ThresholdSteps);
        ActingPolicy = new O2Td3ActingPolicy(Networks.Actor, config.ExplorationNoise, new DeviceRandom(Seeds.Derive(seed, 4)));
        // The faithful quirk stores μ_θ(s): only then does the trainer see the noise-free action (§4.5).
        Policy = config.StoreExecutedAction ? ActingPolicy : new NoiseFreeStoringPolicy(ActingPolicy);

        alignmentNoise = new DeterministicTanh(backend, actionDim);
        alignmentEpsilon = backend.Allocate(batch, actionDim);
        alignmentGap = backend.Allocate(batch, actionDim);
        anchorValue = backend.Allocate(batch);
        anchorArgMin = backend.Allocate(batch);
        distance = backend.Allocate(batch);
        shrink = backend.Allocate(batch);
        shrunkNegative = backend.Allocate(batch);
        shrunkPositive = backend.Allocate(batch);
        anchorPositive = backend.Allocate(batch);
        distanceTarget = backend.Allocate(batch);
        refineTargets = backend.Allocate(2, batch);
        fixedTargets = backend.Allocate(2, batch);
        refineGradient = backend.Allocate(2, batch);
        fixedGradient = backend.Allocate(2, batch);
        fixedTargetRow1 = fixedTargets.Slice(0, batch);
        fixedTargetRow2 = fixedTargets.Slice(batch, batch);
        refineLoss = backend.Allocate(1);
        fixedLoss = backend.Allocate(1);
        AlignmentCriticLoss = backend.Allocate(1);
        penaltyGradient = backend.Allocate(batch, actionDim);
        squaredGap = backend.Allocate(batch, actionDim);
        squaredGapFlat = squaredGap.Reshape(batch * actionDim);
        penalty = backend.Allocate(1);
        targetPenalty = backend.Allocate(1);
    }

    /// <summary>The resolved settings.</summary>
    public O2Td3Config Config => config;
    /// <summary>μ_θ, μ̄, Q_1, Q_2, Q̄_1, Q̄_2 and the actor and critic Adams.</summary>
    public Td3Networks Networks { get; }
    /// <summary>The TD3 operators (smoothed target, critic step, actor step) at batch size B.</summary>
    public Td3Operators Operators { get; }
    /// <summary>μ_off, the loaded actor: the stage-B anchor; never trained.</summary>
    public DeterministicActor OfflineActor { get; }
    /// <summary>μ_ref, a frozen snapshot (μ_off or the aligned actor at the start of stage C; then per §1.6); never trained.</summary>
    public DeterministicActor Reference { get; }
    /// <summary>λ = exp ℓ with its Adam (lr 5e-5) and asymmetric dual step.</summary>
    public LagrangeMultiplier Lagrange { get; }
    /// <summary>Noise of the target smoothing (stages A and C).</summary>
    public DeviceRandom SmoothingRandom { get; }
    /// <summary>Noise ξ of the alignment actions (stage B).</summary>
    public DeviceRandom AlignmentRandom { get; }
    /// <summary>The stage-C acting policy μ_θ(s) + N(0, σ_e²I), not clipped; deterministic: μ_θ(s).</summary>
    public O2Td3ActingPolicy ActingPolicy { get; }
    /// <inheritdoc/>
    public IPolicy Policy { get; }
    /// <summary>n_it: advanced by every stage-B step and every stage-C update, not by stage A (pitfall 24).</summary>
    public long IterationCount { get; set; }
    /// <summary>L_refine + L_fixed of the latest alignment step (device scalar).</summary>
    public Tensor AlignmentCriticLoss { get; }
    /// <summary>P′ of the latest stage-C update: mean over B·d of (μ_θ(s′) − μ_ref(s′))² (device scalar).</summary>
    public Tensor TargetPenalty => penalty;
    /// <summary>ε_t, the constraint threshold after t environment steps.</summary>
    public float Threshold(long environmentStep) => schedule.At(environmentStep);
    /// <summary>The rule that replaces μ_ref at evaluations (its best score is part of the state); null when none.</summary>
    public ReferencePolicyTracker? Tracker { get; set; }

    /// <inheritdoc/>
    /// <remarks>
    /// ε_t is a function of the environment step alone, so the schedule's position needs no entry; the actor's
    /// gradient clip is set again by <see cref="BeginOnline"/> before stage C, resumed or not.
    /// </remarks>
    public void SaveState(TrainingState state) => Map(TrainingStateMap.Saving(state));

    /// <inheritdoc/>
    public void RestoreState(TrainingState state) => Map(TrainingStateMap.Restoring(state));

    void Map(TrainingStateMap map)
    {
        long hasTracker = map.Count("o2td3.has_tracker", Tracker is null ? 0 : 1);
        if ((hasTracker != 0) != (Tracker is not null))
            throw new InvalidDataException($"{map.Source ?? "training state"}: saved {(Tracker is null ? "with" : "without")} a reference tracker, restored {(Tracker is null ? "without" : "with")} one");
        map.Td3Networks("o2td3", Networks);
        map.Parameters("o2td3.actor_reference", Reference.Parameters);
        map.Parameters("o2td3.actor_offline", OfflineActor.Parameters);
        Lagrange.Map(map, "o2td3.lambda");
        // The latest losses, κ and P′: what the next log reports even when no update happened since the checkpoint.
        map.Td3Losses("o2td3", Operators);
        map.Tensor("o2td3.kappa", Operators.Kappa);
        map.Tensor("o2td3.target_penalty", penalty);
        map.Tensor("o2td3.weighted_target_penalty", targetPenalty);
        map.Random("o2td3.smoothing_random", SmoothingRandom);
        map.Random("o2td3.alignment_random", AlignmentRandom);
        map.Random("o2td3.exploration_random", ActingPolicy.Random);
        // n_it: its parity decides which updates step λ, the actor and the targets.
        IterationCount = map.Count("o2td3.iterations", IterationCount);
        if (Tracker is { } tracker)
            map.Part(s => tracker.SaveState(s, "o2td3.reference_tracker"), s => tracker.RestoreState(s, "o2td3.reference_tracker"));
    }

    /// <summary>
    /// Stage A, one step on an offline minibatch (μ̄ = μ_off throughout; n_it is not advanced):
    /// <code>
    /// ξ ~ clip(N(0, σ_tp²I), −c, c);  ã′ = clip(μ̄(s′) + ξ, −1, 1)
    /// y = r + γ(1 − m)·min(Q̄_1, Q̄_2)(s′, ã′)                  (no gradient)
    /// L_Q = MSE(Q_1(s, a), y) + MSE(Q_2(s, a), y);  Adam on the critics;  Polyak on Q̄_1, Q̄_2
    /// </code>
    /// </summary>
    public void EvaluationStep(TransitionBatch minibatch)
    {
        ArgumentNullException.ThrowIfNull(minibatch);
        Operators.CriticStep(minibatch, config.Gamma, config.PolicyNoise, config.NoiseClip);
        Networks.UpdateCriticTargets(config.Tau);
    }

    /// <summary>
    /// Stage B, one value-alignment step on the states of an offline minibatch (§4.4). No gradient through 1–4:
    /// <code>
    /// 1. a_off = μ_off(s);  a_on = μ_θ(s)
    /// 2. V* = min(Q̄_1, Q̄_2)(s, a_off)
    /// 3. ξ ~ clip(N(0, σ_tp²I), −c, c);  a_n = clip(a_on + ξ, −1, 1)
    /// 4. δ = min(‖a_n − a_off‖₂/√d, σ_tp);  y_dist = V*(1 + βδ²) if V* &lt; 0 else V*/(1 + βδ²);  y_i = min(y_dist, Q̄_i(s, a_n))
    /// 5. L_Q = Σ_i MSE(Q_i(s, a_n), y_i) + Σ_i MSE(Q_i(s, a_off), V*)
    /// 6. L_π = −mean Q_1(s, μ_θ(s)) with the pre-step Q_1
    /// 7. actor Adam step, then critic Adam step; n_it += 1; targets untouched
    /// </code>
    /// </summary>
    public void AlignmentStep(TransitionBatch minibatch)
    {
        ArgumentNullException.ThrowIfNull(minibatch);
        var s = minibatch.Observations;
        if (s.Rows != batch) throw new ArgumentException($"alignment expects {batch} states, got [{s.ShapeText}]", nameof(minibatch));

        // 1–2. a_off = μ_off(s); V* = min(Q̄_1, Q̄_2)(s, a_off)
        var offlineAction = OfflineActor.Forward(s, slot: 0);
        var anchorQ = Networks.CriticTarget.Forward(s, offlineAction, slot: 0);
        backend.EnsembleMin(anchorQ, anchorValue, anchorArgMin);
        // 3. a_n = clip(μ_θ(s) + clip(σξ, −c, c), −1, 1): noise around the online actor, which is being trained (pitfall 9).
        var onlineAction = Networks.Actor.Forward(s, slot: 0);
        var noisyAction = alignmentNoise.NoisyAction(onlineAction, alignmentEpsilon, config.PolicyNoise, config.NoiseClip, actionLimit: 1f,
            drawNoiseFrom: AlignmentRandom);
        // 4. δ = min(√(‖a_n − a_off‖²/d), σ_tp)
        backend.Binary(BinaryOp.Add, noisyAction, offlineAction, alignmentGap, 1f, -1f);
        backend.Unary(UnaryOp.Square, alignmentGap, alignmentGap);
        backend.RowSum(alignmentGap, distance, 1f / actionDim);
        backend.Unary(UnaryOp.Sqrt, distance, distance);
        backend.Unary(UnaryOp.Clamp, distance, distance, 0f, config.PolicyNoise);
        // 1 + β_dist·δ²; the shrunk anchor is always ≤ V*, whatever the sign of V*.
        backend.Unary(UnaryOp.Square, distance, shrink);
        backend.Unary(UnaryOp.Affine, shrink, shrink, config.DistanceBeta, 1f);
        backend.Binary(BinaryOp.Mul, anchorValue, shrink, shrunkNegative);
        backend.Binary(BinaryOp.Div, anchorValue, shrink, shrunkPositive);
        backend.Unary(UnaryOp.Step, anchorValue, anchorPositive, 0f);
        backend.Select(anchorPositive, shrunkPositive, shrunkNegative, distanceTarget);
        // y_i = min(y_dist, Q̄_i(s, a_n)): each critic is capped by its own target network.
        var noisyTargetQ = Networks.CriticTarget.Forward(s, noisyAction, slot: 1);
        backend.Binary(BinaryOp.Min, noisyTargetQ, distanceTarget, refineTargets, 1f, 1f, Broadcast.Row);
        backend.Copy(anchorValue, fixedTargetRow1);
        backend.Copy(anchorValue, fixedTargetRow2);

        // 6–7. The actor first, on the critics as they are before this step's critic update: L_π = −mean Q_1(s, μ_θ(s)).
        Operators.ActorStep(s);

        // 5. L_refine + L_fixed (scale 2: one MSE over [2, B] is the mean of the two critics' MSEs; the paper sums them).
        var refineQ = Networks.Critic.Forward(s, noisyAction, slot: 0);
        backend.MseLoss(refineQ, refineTargets, refineGradient, refineLoss, scale: 2f);
        // Slot 2: the actor step owns critic slot 1, and sharing a slot would re-make its gradient view every step.
        var fixedQ = Networks.Critic.Forward(s, offlineAction, slot: FixedCriticSlot);
        backend.MseLoss(fixedQ, fixedTargets, fixedGradient, fixedLoss, scale: 2f);
        backend.Binary(BinaryOp.Add, refineLoss, fixedLoss, AlignmentCriticLoss);
        // The actor step's pathwise pass left nothing in the critic gradients (propagate-only), but zero anyway (pitfall 7).
        Networks.Critic.Parameters.ZeroGradients();
        Networks.Critic.Backward(refineGradient, slot: 0);
        Networks.Critic.Backward(fixedGradient, slot: FixedCriticSlot);
        Networks.CriticOptimizer.Step();
        IterationCount++;
    }

    /// <summary>End of stage B (pitfall 8): μ̄ ← μ_θ, Q̄_i ← Q_i (hard copies).</summary>
    public void FinishAlignment() => Networks.CopyTargets();

    /// <summary>Makes μ_ref a deep copy of the current actor (§1.6); the reference never shares storage with it.</summary>
    public void ReplaceReferenceWithActor() => Reference.Parameters.CopyValuesFrom(Networks.Actor.Parameters);

    /// <summary>Makes μ_ref a deep copy of μ_off.</summary>
    public void ResetReferenceToOffline() => Reference.Parameters.CopyValuesFrom(OfflineActor.Parameters);

    /// <summary>Enters stage C: the actor's gradient clip of the §1.6 ablation, when configured.</summary>
    public void BeginOnline() => Networks.ActorOptimizer.MaxGradientNorm = config.ActorMaxGradientNorm;

    /// <summary>
    /// One stage-C update (§4.6) on a mixed minibatch after <paramref name="environmentStep"/> environment steps:
    /// <code>
    /// λ = exp ℓ (pre-step);  P′ = mean over B·d of (μ_θ(s′) − μ_ref(s′))²     (ONE scalar, online actor)
    /// y = r + γ(1 − m)[min(Q̄_1, Q̄_2)(s′, ã′) − λ·P′];  critic step
    /// n_it += 1; if n_it even:
    ///     u_ij = ε_t − (μ_ref(s)_ij − μ_θ(s)_ij)²  (per sample and coordinate) → λ gradient
    ///     L_π = −κ·mean Q_1(s, μ_θ(s)) + λ·mean (μ_ref(s) − μ_θ(s))²,  κ = 1/mean|Q_1| with the UPDATED Q_1
    ///     λ step, then actor step; Polyak on Q̄_1, Q̄_2, μ̄
    /// </code>
    /// </summary>
    public void Update(TransitionBatch minibatch, long environmentStep, int updateIndex)
    {
        ArgumentNullException.ThrowIfNull(minibatch);
        long start = Stopwatch.GetTimestamp();
        var s = minibatch.Observations;
        var nextStates = minibatch.NextObservations;

        // λ as it is before this update's dual step; actor and critic both use it (pitfall 3).
        Lagrange.Refresh();
        // P′ with the online actor at s′, one batch-wide scalar (pitfall 11); the gradient buffer is scratch.
        var nextAction = Networks.Actor.Forward(nextStates, slot: 1);
        var nextReference = Reference.Forward(nextStates, slot: 1);
        backend.MseLoss(nextAction, nextReference, penaltyGradient, penalty);
        backend.Binary(BinaryOp.Mul, penalty, Lagrange.Lambda, targetPenalty, 1f, 1f, Broadcast.Scalar);
        // 1. y = r + γ(1 − m)[min Q̄(s′, ã′) − λP′]; critic step first (pitfall 6).
        Operators.CriticStep(minibatch, config.Gamma, config.PolicyNoise, config.NoiseClip, targetPenalty);

        // 2. Delayed λ, actor and target updates on even n_it.
        IterationCount++;
        if (IterationCount % config.PolicyDelay == 0)
        {
            // a. Slacks per sample and per coordinate: Div_ij = (a_ref,ij − a_cur,ij)² (no gradient).
            var referenceAction = Reference.Forward(s, slot: 0);
            var currentAction = Networks.Actor.Forward(s, slot: 0);
            backend.Binary(BinaryOp.Add, referenceAction, currentAction, squaredGap, 1f, -1f);
            backend.Unary(UnaryOp.Square, squaredGap, squaredGap);
            Lagrange.DualGradient(squaredGapFlat, schedule.At(environmentStep));
            // c. λ step first; the actor loss still uses the pre-step λ captured by Refresh above.
            Lagrange.Step();
            // b. L_π = −κ·mean Q_1(s, μ_θ(s)) + λ·mean (a_ref − μ_θ(s))², κ = 1/mean|Q_1| on the critic just stepped (no 2.5).
            Operators.ActorStep(s, qNormalization: 1f, anchorActions: referenceAction, anchorWeight: 1f, anchorWeightScalar: Lagrange.Lambda);
            // d. Polyak on Q̄_1, Q̄_2 and μ̄.
            Networks.UpdateTargets(config.Tau);
        }
        updateTicks += Stopwatch.GetTimestamp() - start;
        updatesSinceLog++;
    }

    /// <inheritdoc/>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        metrics.Log(step, "losses/qf_loss", backend.ReadScalar(Operators.CriticLoss));
        metrics.Log(step, "losses/qf1_values", backend.ReadScalar(Operators.MeanQ));
        metrics.Log(step, "losses/target_penalty", backend.ReadScalar(penalty));
        // λ after its last dual step (Lagrange.Lambda is the pre-step value the actor loss used), as O2SAC logs it.
        metrics.Log(step, "losses/lambda", Lagrange.ReadLambda());
        metrics.Log(step, "losses/lambda_loss", backend.ReadScalar(Lagrange.Loss));
        metrics.Log(step, "losses/actor_loss", backend.ReadScalar(Operators.ActorLoss));
        metrics.Log(step, "charts/threshold", schedule.At(step));
        if (updatesSinceLog > 0)
        {
            metrics.Log(step, "time/update", Stopwatch.GetElapsedTime(0, updateTicks).TotalMilliseconds / updatesSinceLog);
            updateTicks = 0; updatesSinceLog = 0;
        }
    }
}
