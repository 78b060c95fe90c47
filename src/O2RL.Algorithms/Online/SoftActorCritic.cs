using O2RL.Algorithms.Networks;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Algorithms.Online;

/// <summary>Architecture and optimiser settings shared by every learner built on <see cref="SoftActorCritic"/> (SAC, CQL, O2SAC).</summary>
public sealed record SoftActorCriticOptions
{
    /// <summary>Actor hidden widths.</summary>
    public required int[] ActorHidden { get; init; }
    /// <summary>Critic hidden widths (their count is the critic depth).</summary>
    public required int[] CriticHidden { get; init; }
    /// <summary>LayerNorm after each hidden critic Linear.</summary>
    public bool CriticLayerNorm { get; init; }
    /// <summary>Number of critics E (2: twin critics).</summary>
    public int Critics { get; init; } = 2;
    /// <summary>Actor Adam learning rate.</summary>
    public float ActorLearningRate { get; init; } = 3e-4f;
    /// <summary>Critic Adam learning rate.</summary>
    public float CriticLearningRate { get; init; } = 3e-4f;
    /// <summary>log α Adam learning rate.</summary>
    public float AlphaLearningRate { get; init; } = 3e-4f;
    /// <summary>Initial α (log α starts at ln of it).</summary>
    public float InitialAlpha { get; init; } = 1f;
    /// <summary>Tune α automatically (loss on log α); false keeps α at <see cref="InitialAlpha"/>.</summary>
    public bool AutoAlpha { get; init; } = true;
    /// <summary>Target entropy; null = −d.</summary>
    public float? TargetEntropy { get; init; }
    /// <summary>Polyak rate τ_p.</summary>
    public float Tau { get; init; } = 0.005f;
    /// <summary>Discount γ.</summary>
    public float Gamma { get; init; } = 0.99f;
}

/// <summary>
/// The pieces of a soft actor-critic update, shared by SAC, CQL and the O2SAC stages: a tanh-Gaussian actor π_θ,
/// E critics Q_e (one <see cref="QEnsemble"/>) and their Polyak-averaged targets Q̄_e, a trainable log α, and one
/// Adam per trainable object. Each method is one step of the paper's update (sample, temperature loss, actor
/// loss, soft target, TD loss, optimiser steps); callers compute every loss first and call <see cref="Step"/> last,
/// so the actor loss sees the pre-update critics and the target sees the pre-update actor and α
/// (ALGORITHMS.md §10 item 6). Buffers are allocated on first use per batch size; nothing allocates afterwards.
/// </summary>
public sealed class SoftActorCritic
{
    /// <summary>Actor slot of the reparameterised sample at s (actor and temperature losses).</summary>
    public const int CurrentSlot = 0;
    /// <summary>Actor slot of the sample at s′ (critic target).</summary>
    public const int NextSlot = 1;
    /// <summary>Actor slot used for acting in the environment (batch 1).</summary>
    public const int ActingSlot = 2;
    /// <summary>Critic slot of Q(s, a_data) (TD loss).</summary>
    public const int DataCriticSlot = 0;
    /// <summary>Critic slot of Q(s, ã) (actor loss).</summary>
    public const int ActorCriticSlot = 1;

    readonly Backend backend;
    readonly Dictionary<int, Batch> batches = [];
    readonly Dictionary<(int Slot, int Rows), Tensor> noises = [];
    readonly Tensor actingNoise;

    /// <summary>Builds the networks (seeded), the target copy and the optimisers.</summary>
    public SoftActorCritic(Backend backend, int obsDim, int actionDim, SoftActorCriticOptions options, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        if (obsDim < 1 || actionDim < 1) throw new ArgumentOutOfRangeException(nameof(obsDim), $"obs_dim {obsDim} and act_dim {actionDim} must be positive");
        if (!(options.InitialAlpha > 0f)) throw new ArgumentOutOfRangeException(nameof(options), options.InitialAlpha, "initial α must be positive");
        if (!(options.Tau > 0f && options.Tau <= 1f)) throw new ArgumentOutOfRangeException(nameof(options), options.Tau, "Polyak τ must be in (0, 1]");
        if (options.Critics < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Critics, "need at least one critic");
        this.backend = backend;
        Options = options;
        ObsDim = obsDim; ActionDim = actionDim;
        TargetEntropy = options.TargetEntropy ?? -actionDim;
        Actor = new TanhGaussianActor(backend, obsDim, actionDim, seed * 4 + 1, trainable: true, hiddenDims: options.ActorHidden);
        Critic = new QEnsemble(backend, obsDim, actionDim, options.CriticHidden, options.CriticLayerNorm, options.Critics, seed * 4 + 2);
        TargetCritic = new QEnsemble(backend, obsDim, actionDim, options.CriticHidden, options.CriticLayerNorm, options.Critics, seed * 4 + 2);
        TargetCritic.Parameters.CopyValuesFrom(Critic.Parameters);
        ActorOptimizer = new Adam(Actor.Parameters, options.ActorLearningRate);
        CriticOptimizer = new Adam(Critic.Parameters, options.CriticLearningRate);
        LogAlpha = backend.FromArray([MathF.Log(options.InitialAlpha)], 1);
        LogAlphaGradient = backend.Allocate(1);
        Alpha = backend.Allocate(1);
        AlphaOptimizer = new Adam(LogAlpha, LogAlphaGradient, options.AlphaLearningRate);
        AlphaLoss = backend.Allocate(1);
        ActorLoss = backend.Allocate(1);
        CriticLoss = backend.Allocate(1);
        MeanQ = backend.Allocate(1);
        UpdateRandom = new DeviceRandom(seed * 4 + 3);
        ActingRandom = new DeviceRandom(seed * 4 + 4);
        actingNoise = backend.Allocate(1, actionDim);
        RefreshAlpha();
    }

    /// <summary>The settings.</summary>
    public SoftActorCriticOptions Options { get; }
    /// <summary>State features.</summary>
    public int ObsDim { get; }
    /// <summary>d.</summary>
    public int ActionDim { get; }
    /// <summary>
    /// Target entropy H̄ (−d unless configured). Settable between updates: O2SAC takes it from the aligned policy for
    /// converted actors (FineTuning.EntropyTarget).
    /// </summary>
    public float TargetEntropy
    {
        get => targetEntropy;
        set => targetEntropy = float.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "the target entropy must be finite");
    }
    float targetEntropy;
    /// <summary>π_θ.</summary>
    public TanhGaussianActor Actor { get; }
    /// <summary>Q_1 … Q_E.</summary>
    public QEnsemble Critic { get; }
    /// <summary>Q̄_1 … Q̄_E.</summary>
    public QEnsemble TargetCritic { get; }
    /// <summary>Actor Adam.</summary>
    public Adam ActorOptimizer { get; }
    /// <summary>Adam over all critics (Adam is elementwise, so one optimiser over the stacked critics equals one per critic).</summary>
    public Adam CriticOptimizer { get; }
    /// <summary>log α Adam.</summary>
    public Adam AlphaOptimizer { get; }
    /// <summary>log α: [1].</summary>
    public Tensor LogAlpha { get; }
    /// <summary>∂L_α/∂log α: [1].</summary>
    public Tensor LogAlphaGradient { get; }
    /// <summary>α = exp(log α) as of the last <see cref="RefreshAlpha"/>: [1].</summary>
    public Tensor Alpha { get; }
    /// <summary>Latest L_α, L_π, L_Q (TD part) and mean Q(s, a_data): device scalars.</summary>
    public Tensor AlphaLoss { get; }
    /// <inheritdoc cref="AlphaLoss"/>
    public Tensor ActorLoss { get; }
    /// <inheritdoc cref="AlphaLoss"/>
    public Tensor CriticLoss { get; }
    /// <inheritdoc cref="AlphaLoss"/>
    public Tensor MeanQ { get; }
    /// <summary>Noise stream of the updates.</summary>
    public DeviceRandom UpdateRandom { get; }
    /// <summary>Noise stream of exploration (kept apart so evaluation and acting never shift the update noise).</summary>
    public DeviceRandom ActingRandom { get; }

    /// <summary>α ← exp(log α); call once at the start of an update so every loss uses the pre-step α.</summary>
    public void RefreshAlpha() => backend.Unary(UnaryOp.Exp, LogAlpha, Alpha);

    /// <summary>Reparameterised ã ~ π_θ(·|obs) in an actor slot, with fresh noise: [rows, d] and log π: [rows].</summary>
    public (Tensor Action, Tensor LogProb) SampleActor(Tensor observations, int slot) =>
        Actor.Sample(observations, Noise(slot, observations.Rows), slot, drawNoiseFrom: UpdateRandom);

    /// <summary>The ε buffer of a slot and row count: [rows, d], allocated on first use.</summary>
    Tensor Noise(int slot, int rows)
    {
        if (!noises.TryGetValue((slot, rows), out var noise)) noises[(slot, rows)] = noise = backend.Allocate(rows, ActionDim);
        return noise;
    }

    /// <summary>
    /// <see cref="SampleActor"/> at the states <paramref name="observations"/> each repeated as
    /// <paramref name="repeatIndices"/> says (detached samples; see <see cref="TanhGaussianActor.SampleRepeated"/>):
    /// [rows, d] and log π: [rows], with rows = <paramref name="repeatIndices"/>.Length and the same noise draws.
    /// </summary>
    public (Tensor Action, Tensor LogProb) SampleActorRepeated(Tensor observations, IndexTensor repeatIndices, Tensor repeatedHead, int slot) =>
        Actor.SampleRepeated(observations, repeatIndices, repeatedHead, Noise(slot, repeatedHead.Rows), slot, drawNoiseFrom: UpdateRandom);

    /// <summary>
    /// Temperature loss L_α = −mean[ log α · (log π(ã|s) + H̄) ] with the bracket constant: writes
    /// ∂L_α/∂log α = −(mean log π + H̄) and the loss value.
    /// </summary>
    public void TemperatureGradient(Tensor logProb)
    {
        backend.Sum(logProb, LogAlphaGradient, -1f / logProb.Length);
        backend.Unary(UnaryOp.Affine, LogAlphaGradient, LogAlphaGradient, 1f, -TargetEntropy);
        backend.Binary(BinaryOp.Mul, LogAlpha, LogAlphaGradient, AlphaLoss);
    }

    /// <summary>
    /// Further terms of an actor loss (O2SAC's λ·(log π_θ − log π_ref)): called with the sample ã [B, d], its
    /// log π_θ(ã|s) [B], and the gradients ∂L_π/∂ã [B, d] and ∂L_π/∂log π [B] of the SAC terms, which it may add to
    /// in place (and add its value to <see cref="ActorLoss"/>) before they are propagated into the actor. Returns a
    /// gradient with respect to the sample's pre-image u ([B, d], for terms that score the sample by u, e.g.
    /// log π_ref at <see cref="TanhGaussianActor.PreImage"/>), propagated with the others, or null.
    /// </summary>
    public delegate Tensor? ActorLossTerms(Tensor action, Tensor logProb, Tensor actionGradient, Tensor logProbGradient);

    /// <summary>
    /// Actor loss L_π = mean[ α·log π_θ(ã|s) − min_e Q_e(s, ã) ] with ã reparameterised at s (slot
    /// <see cref="CurrentSlot"/>) and α constant, plus <paramref name="extraTerms"/> (null: exactly SAC's loss);
    /// zeroes the actor gradients and back-propagates into them through ã (pathwise) and log π, in one pass through
    /// the actor for all terms. The critic backward leaves gradients in the critics: <see cref="CriticBackward"/>
    /// zeroes them before the critic loss's own backward. With <paramref name="temperatureGradient"/> the same op
    /// also forms the temperature loss L_α = −mean[ log α · (log π + H̄) ] (the bracket constant): writes
    /// ∂L_α/∂log α = −(mean log π + H̄) and <see cref="AlphaLoss"/> (<see cref="TemperatureGradient"/> does it alone).
    /// Returns the sample.
    /// </summary>
    public (Tensor Action, Tensor LogProb) ActorLossBackward(Tensor observations, ActorLossTerms? extraTerms = null, bool temperatureGradient = false)
    {
        var b = BuffersFor(observations.Rows);
        var (action, logProb) = SampleActor(observations, CurrentSlot);
        var q = Critic.Forward(observations, action, ActorCriticSlot);
        // L_π = mean(α·log π − Qmin); ∂L/∂Q = −1/B at the minimising critic, ∂L/∂log π = α/B; one op.
        if (temperatureGradient)
            backend.SoftActorLoss(q, logProb, Alpha, b.CriticGradient, b.LogProbGradient, ActorLoss, LogAlpha, TargetEntropy, LogAlphaGradient, AlphaLoss);
        else
            backend.SoftActorLoss(q, logProb, Alpha, b.CriticGradient, b.LogProbGradient, ActorLoss);
        Critic.Parameters.ZeroGradients();
        // The actor loss does not train the critics: propagate to the action only (no weight-gradient GEMMs).
        var actionGradient = Critic.Backward(b.CriticGradient, ActorCriticSlot, needActionGradient: true, accumulateParameterGradients: false)!;
        var preImageGradient = extraTerms?.Invoke(action, logProb, actionGradient, b.LogProbGradient);
        Actor.Parameters.ZeroGradients();
        Actor.SampleBackward(actionGradient, b.LogProbGradient, CurrentSlot, preImageGradient);
        return (action, logProb);
    }

    /// <summary>
    /// ã′ ~ π_θ(·|s′) (slot <see cref="NextSlot"/>) and the target critics at it, Q̄_e(s′, ã′) [E, B] (no gradient);
    /// returns them with ã′ [B, d] and log π_θ(ã′|s′) [B] for <see cref="TdLoss"/>.
    /// </summary>
    public (Tensor NextQ, Tensor Action, Tensor LogProb) NextStateSample(Tensor nextObservations)
    {
        var (nextAction, nextLogProb) = SampleActor(nextObservations, NextSlot);
        return (TargetCritic.Forward(nextObservations, nextAction, 0), nextAction, nextLogProb);
    }

    /// <summary>
    /// TD loss L_Q = Σ_e MSE(Q_e(s, a), y) in critic slot <see cref="DataCriticSlot"/>, with the soft Bellman target
    /// y = r + γ(1 − m)[min_e Q̄_e(s′, ã′) − α·log π(ã′|s′) − c] formed in the same op (no gradient through y):
    /// <paramref name="nextQ"/> [E′, B] from <see cref="NextStateSample"/> (or one precomputed value per row), the
    /// entropy term only with <paramref name="nextLogProb"/> (CQL's backup has none), the cost c only with
    /// <paramref name="nextCost"/> (O2SAC's λ(log π − log π_ref)). A time-limit truncation has m = 0 and bootstraps.
    /// Writes <see cref="CriticLoss"/> and <see cref="MeanQ"/>; no backward yet, so a caller can add further terms
    /// of Q(s, a) to the gradient. Returns Q(s, a) [E, B], ∂L_Q/∂Q [E, B] and y [B].
    /// </summary>
    public (Tensor Q, Tensor Gradient, Tensor Target) TdLoss(TransitionBatch batch, Tensor nextQ, Tensor? nextLogProb, Tensor? nextCost = null)
    {
        var b = BuffersFor(batch.Size);
        var q = Critic.Forward(batch.Observations, batch.Actions, DataCriticSlot);
        backend.SoftTdLoss(q, nextQ, nextLogProb, Alpha, nextCost, batch.Rewards, batch.Terminals, Options.Gamma, b.CriticGradient, CriticLoss, MeanQ, b.Target);
        return (q, b.CriticGradient, b.Target);
    }

    /// <summary>Zeroes the critic gradients and back-propagates ∂L/∂Q(s, a_data) ([E, B]) of slot <see cref="DataCriticSlot"/>.</summary>
    public void CriticBackward(Tensor dataGradient)
    {
        Critic.Parameters.ZeroGradients();
        Critic.Backward(dataGradient, DataCriticSlot);
    }

    /// <summary>
    /// The optimiser steps in the paper's order: log α (when tuned and <paramref name="stepAlpha"/>), actor,
    /// critics, then Polyak θ̄ ← (1 − τ)θ̄ + τθ of the targets.
    /// </summary>
    public void Step(bool stepAlpha = true, bool stepActor = true)
    {
        if (stepAlpha && Options.AutoAlpha) AlphaOptimizer.Step();
        if (stepActor) ActorOptimizer.Step();
        CriticOptimizer.StepThenPolyak(TargetCritic.Parameters, Options.Tau);
    }

    /// <summary>Acting on [1, obs] observations: the deterministic action clamp(tanh μ, ±0.9999) or a sample (in (−1, 1)).</summary>
    public Tensor Act(Tensor observation, bool deterministic)
    {
        if (deterministic) return Actor.DeterministicAction(observation, ActingSlot);
        return Actor.Sample(observation, actingNoise, ActingSlot, drawNoiseFrom: ActingRandom).Action;
    }

    Batch BuffersFor(int size)
    {
        if (batches.TryGetValue(size, out var b)) return b;
        batches[size] = b = new Batch(backend, size, Options.Critics);
        return b;
    }

    /// <summary>Per-batch-size buffers.</summary>
    sealed class Batch
    {
        public Batch(Backend backend, int size, int critics)
        {
            Target = backend.Allocate(size);
            LogProbGradient = backend.Allocate(size);
            CriticGradient = backend.Allocate(critics, size);
        }

        /// <summary>[B].</summary>
        public readonly Tensor Target, LogProbGradient;
        /// <summary>[E, B]: ∂L/∂Q of the actor loss, then of the TD loss.</summary>
        public readonly Tensor CriticGradient;
    }
}
