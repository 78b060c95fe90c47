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
    public (Tensor Action, Tensor LogProb) SampleActor(Tensor observations, int slot)
    {
        int rows = observations.Rows;
        if (!noises.TryGetValue((slot, rows), out var noise)) noises[(slot, rows)] = noise = backend.Allocate(rows, ActionDim);
        UpdateRandom.Normal(noise);
        return Actor.Sample(observations, noise, slot);
    }

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
    /// Actor loss L_π = mean[ α·log π_θ(ã|s) − min_e Q_e(s, ã) ] with ã reparameterised at s (slot
    /// <see cref="CurrentSlot"/>) and α constant; zeroes the actor gradients and back-propagates into them through
    /// ã (pathwise) and log π. The critic backward leaves gradients in the critics: <see cref="CriticBackward"/>
    /// zeroes them before the critic loss's own backward. Returns the sample for the temperature loss.
    /// </summary>
    public (Tensor Action, Tensor LogProb) ActorLossBackward(Tensor observations) => ActorLossBackward(observations, null);

    /// <summary>
    /// Further terms of an actor loss (O2SAC's λ·(log π_θ − log π_ref)): called with the sample ã [B, d], its
    /// log π_θ(ã|s) [B], and the gradients ∂L_π/∂ã [B, d] and ∂L_π/∂log π [B] of the SAC terms, which it may add to
    /// in place (and add its value to <see cref="ActorLoss"/>) before they are propagated into the actor.
    /// </summary>
    public delegate void ActorLossTerms(Tensor action, Tensor logProb, Tensor actionGradient, Tensor logProbGradient);

    /// <summary>
    /// <see cref="ActorLossBackward(Tensor)"/> with <paramref name="extraTerms"/> added to the loss before the
    /// actor backward (one pass through the actor for all terms); null gives exactly the SAC actor loss.
    /// </summary>
    public (Tensor Action, Tensor LogProb) ActorLossBackward(Tensor observations, ActorLossTerms? extraTerms)
    {
        var b = BuffersFor(observations.Rows);
        var (action, logProb) = SampleActor(observations, CurrentSlot);
        var q = Critic.Forward(observations, action, ActorCriticSlot);
        backend.EnsembleMin(q, b.QMin, b.ArgMin);
        // L_π value: mean(α·log π − Qmin).
        backend.Binary(BinaryOp.Mul, logProb, Alpha, b.Scratch, 1f, 1f, Broadcast.Scalar);
        backend.Binary(BinaryOp.Add, b.Scratch, b.QMin, b.Scratch, 1f, -1f);
        backend.Sum(b.Scratch, ActorLoss, 1f / b.Size);
        // ∂L/∂Qmin = −1/B routed to the minimising critic; ∂L/∂log π = α/B.
        backend.EnsembleMinBackward(b.ArgMin, b.MinusInverseBatch, b.CriticGradient);
        Critic.Parameters.ZeroGradients();
        // The actor loss does not train the critics: propagate to the action only (no weight-gradient GEMMs).
        var actionGradient = Critic.Backward(b.CriticGradient, ActorCriticSlot, needActionGradient: true, accumulateParameterGradients: false)!;
        backend.Binary(BinaryOp.Mul, b.InverseBatch, Alpha, b.LogProbGradient, 1f, 1f, Broadcast.Scalar);
        extraTerms?.Invoke(action, logProb, actionGradient, b.LogProbGradient);
        Actor.Parameters.ZeroGradients();
        Actor.SampleBackward(actionGradient, b.LogProbGradient, CurrentSlot);
        return (action, logProb);
    }

    /// <summary>
    /// V(s′) = min_e Q̄_e(s′, ã′) − α·log π_θ(ã′|s′) with ã′ ~ π_θ(·|s′) (no gradient); without the entropy
    /// term when <paramref name="entropyTerm"/> is false (CQL's backup). Returns [B].
    /// </summary>
    public Tensor NextStateValue(Tensor nextObservations, bool entropyTerm) => NextStateValueWithSample(nextObservations, entropyTerm).Value;

    /// <summary>
    /// <see cref="NextStateValue"/> that also returns the sample it used: V(s′) [B] (a buffer a caller may add
    /// further terms to before <see cref="BellmanTarget"/>), ã′ [B, d] and log π_θ(ã′|s′) [B].
    /// </summary>
    public (Tensor Value, Tensor Action, Tensor LogProb) NextStateValueWithSample(Tensor nextObservations, bool entropyTerm)
    {
        var b = BuffersFor(nextObservations.Rows);
        var (nextAction, nextLogProb) = SampleActor(nextObservations, NextSlot);
        var q = TargetCritic.Forward(nextObservations, nextAction, 0);
        backend.EnsembleMin(q, b.NextValue, b.ArgMin);
        if (entropyTerm) backend.Binary(BinaryOp.Mul, nextLogProb, Alpha, b.Scratch, 1f, 1f, Broadcast.Scalar);
        if (entropyTerm) backend.Binary(BinaryOp.Add, b.NextValue, b.Scratch, b.NextValue, 1f, -1f);
        return (b.NextValue, nextAction, nextLogProb);
    }

    /// <summary>y = r + γ(1 − m)·V(s′) (no gradient): [B]. A time-limit truncation has m = 0 and bootstraps.</summary>
    public Tensor BellmanTarget(TransitionBatch batch, Tensor nextValue)
    {
        var b = BuffersFor(batch.Size);
        backend.Unary(UnaryOp.Affine, batch.Terminals, b.Scratch, -1f, 1f);            // 1 − m
        backend.Binary(BinaryOp.Mul, b.Scratch, nextValue, b.Scratch);
        backend.Binary(BinaryOp.Add, batch.Rewards, b.Scratch, b.Target, 1f, Options.Gamma);
        return b.Target;
    }

    /// <summary>
    /// TD loss L_Q = Σ_e MSE(Q_e(s, a), y) in critic slot <see cref="DataCriticSlot"/>: writes the loss and
    /// ∂L_Q/∂Q [E, B] (no backward yet, so a caller can add further terms of Q(s, a) to the gradient).
    /// Returns Q(s, a) [E, B] and the gradient.
    /// </summary>
    public (Tensor Q, Tensor Gradient) TdLoss(TransitionBatch batch, Tensor target)
    {
        var b = BuffersFor(batch.Size);
        var q = Critic.Forward(batch.Observations, batch.Actions, DataCriticSlot);
        foreach (var row in b.RepeatedTargetRows) backend.Copy(target, row);
        // scale E turns the mean over E·B into the sum over critics of per-critic means.
        backend.MseLoss(q, b.RepeatedTarget, b.CriticGradient, CriticLoss, Options.Critics);
        backend.Sum(q, MeanQ, 1f / q.Length);
        return (q, b.CriticGradient);
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
        CriticOptimizer.Step();
        TargetCritic.Parameters.PolyakFrom(Critic.Parameters, Options.Tau);
    }

    /// <summary>Acting on [1, obs] observations: the deterministic action clamp(tanh μ, ±0.9999) or a sample (in (−1, 1)).</summary>
    public Tensor Act(Tensor observation, bool deterministic)
    {
        if (deterministic) return Actor.DeterministicAction(observation, ActingSlot);
        ActingRandom.Normal(actingNoise);
        return Actor.Sample(observation, actingNoise, ActingSlot).Action;
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
            Size = size;
            QMin = backend.Allocate(size); ArgMin = backend.Allocate(size); Scratch = backend.Allocate(size);
            NextValue = backend.Allocate(size); Target = backend.Allocate(size);
            LogProbGradient = backend.Allocate(size);
            InverseBatch = backend.Allocate(size); backend.Fill(InverseBatch, 1f / size);
            MinusInverseBatch = backend.Allocate(size); backend.Fill(MinusInverseBatch, -1f / size);
            CriticGradient = backend.Allocate(critics, size); RepeatedTarget = backend.Allocate(critics, size);
            RepeatedTargetRows = [.. Enumerable.Range(0, critics).Select(e => RepeatedTarget.SliceRows(e, 1))];
        }

        public readonly int Size;
        /// <summary>[B].</summary>
        public readonly Tensor QMin, ArgMin, Scratch, NextValue, Target, LogProbGradient, InverseBatch, MinusInverseBatch;
        /// <summary>[E, B].</summary>
        public readonly Tensor CriticGradient, RepeatedTarget;
        /// <summary>Row views of RepeatedTarget, one per critic.</summary>
        public readonly Tensor[] RepeatedTargetRows;
    }
}
