using System.Diagnostics;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Training;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Engine.Distributions;
using O2RL.Kernels;

namespace O2RL.Algorithms.Online;

/// <summary>
/// The networks of the TD3 family (TD3, TD3+BC, O2TD3): a deterministic actor μ and its target μ̄, twin critics
/// Q_1, Q_2 as one ensemble (E = 2) and their targets Q̄_1, Q̄_2 (exact copies at creation), and one Adam per
/// trained network (one Adam over the ensemble is two per-critic Adams with one learning rate, Adam being
/// elementwise). Optimisers persist for the object's life, so O2TD3's stages A → B → C can share them.
/// </summary>
public sealed class Td3Networks
{
    /// <summary>Builds and seeds every network; targets start as copies.</summary>
    public Td3Networks(Backend backend, int obsDim, int actionDim, int[] actorHidden, int[] criticHidden, bool criticLayerNorm,
        float actorLr, float criticLr, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (obsDim < 1 || actionDim < 1) throw new ArgumentOutOfRangeException(nameof(obsDim), $"obs_dim {obsDim} and act_dim {actionDim} must be positive");
        Backend = backend;
        ObsDim = obsDim; ActionDim = actionDim;
        Actor = new DeterministicActor(backend, obsDim, actionDim, Seeds.Derive(seed, 1), actorHidden);
        ActorTarget = new DeterministicActor(backend, obsDim, actionDim, Seeds.Derive(seed, 1), actorHidden);
        Critic = new QEnsemble(backend, obsDim, actionDim, criticHidden, criticLayerNorm, members: 2, Seeds.Derive(seed, 2));
        CriticTarget = new QEnsemble(backend, obsDim, actionDim, criticHidden, criticLayerNorm, members: 2, Seeds.Derive(seed, 2));
        ActorTarget.Parameters.CopyValuesFrom(Actor.Parameters);
        CriticTarget.Parameters.CopyValuesFrom(Critic.Parameters);
        ActorOptimizer = new Adam(Actor.Parameters, actorLr);
        CriticOptimizer = new Adam(Critic.Parameters, criticLr);
    }

    /// <summary>The device.</summary>
    public Backend Backend { get; }
    /// <summary>State features.</summary>
    public int ObsDim { get; }
    /// <summary>d.</summary>
    public int ActionDim { get; }
    /// <summary>μ_θ.</summary>
    public DeterministicActor Actor { get; }
    /// <summary>μ̄.</summary>
    public DeterministicActor ActorTarget { get; }
    /// <summary>Q_1, Q_2 (ensemble members 0 and 1).</summary>
    public QEnsemble Critic { get; }
    /// <summary>Q̄_1, Q̄_2.</summary>
    public QEnsemble CriticTarget { get; }
    /// <summary>Adam of μ_θ.</summary>
    public Adam ActorOptimizer { get; }
    /// <summary>Adam of both critics.</summary>
    public Adam CriticOptimizer { get; }

    /// <summary>Polyak-averages Q̄_i ← (1 − τ)Q̄_i + τQ_i and μ̄ ← (1 − τ)μ̄ + τμ_θ (TD3's delayed target update).</summary>
    public void UpdateTargets(float tau)
    {
        UpdateCriticTargets(tau);
        ActorTarget.Parameters.PolyakFrom(Actor.Parameters, tau);
    }

    /// <summary>Polyak-averages the critic targets only (O2TD3 stage A, where μ̄ stays the offline actor).</summary>
    public void UpdateCriticTargets(float tau) => CriticTarget.Parameters.PolyakFrom(Critic.Parameters, tau);

    /// <summary>Hard copies online → target (end of O2TD3's stage B; loading a checkpoint without targets).</summary>
    public void CopyTargets()
    {
        CriticTarget.Parameters.CopyValuesFrom(Critic.Parameters);
        ActorTarget.Parameters.CopyValuesFrom(Actor.Parameters);
    }

    /// <summary>Every network as checkpoint tensors: <c>actor.</c>, <c>actor_target.</c>, <c>critic.</c>, <c>critic_target.</c>.</summary>
    public IEnumerable<NamedTensor> ToNamedTensors() =>
        Actor.Parameters.ToNamedTensors(Td3Checkpoint.ActorPrefix)
            .Concat(ActorTarget.Parameters.ToNamedTensors(Td3Checkpoint.ActorTargetPrefix))
            .Concat(Critic.Parameters.ToNamedTensors(Td3Checkpoint.CriticPrefix))
            .Concat(CriticTarget.Parameters.ToNamedTensors(Td3Checkpoint.CriticTargetPrefix));
}

/// <summary>
/// The TD3 operators on one minibatch size, shared by TD3, TD3+BC and the O2TD3 stages: the smoothed target,
/// the twin-critic regression step and the deterministic-policy-gradient actor step (with optional Q
/// normalisation and action anchor). Every buffer is allocated here; the methods only enqueue device ops.
/// Slots: the actor uses slot 0 (at s) and 1 (at s′, free for O2TD3's penalty); the critic uses slot 0 for
/// (s, a) and slot 1 for (s, μ(s)); the targets use slot 0.
/// </summary>
public sealed partial class Td3Operators
{
    readonly Backend backend;
    readonly Td3Networks networks;
    readonly DeviceRandom random;
    readonly DeterministicTanh smoothing;
    readonly int batch;
    // [B, d]: ε of target smoothing; anchor gradient; total ∂L/∂μ with an anchor term.
    readonly Tensor smoothingNoise, anchorGradient, actionGradient;
    // [B]: y, the target penalty P per row, |Q_1|, ones.
    readonly Tensor target, penaltyPerRow, absQ, ones;
    // [2, B]: ∂L_Q/∂Q, ∂L_π/∂Q (row of Q_2 stays zero: only Q_1 feeds the actor, §10 item 10).
    readonly Tensor criticGradient, actorQGradient;
    // [1]: mean|Q_1|, κ, the normalisation numerator, mean Q_1 (actor), the anchor loss, mean of both critics (unused),
    // and the temperature the soft TD op takes (TD3's target has no entropy term, so it is never read).
    readonly Tensor meanAbsQ, kappa, normalizationNumerator, meanActorQ, anchorLoss, meanBothCritics, noTemperature;
    // Row view made once (a view is an object: making it per update would allocate).
    readonly Tensor actorQGradientRow1;
    Tensor? criticOutput, criticOutputRow1, actorCriticOutput, actorCriticOutputRow1;

    /// <summary>Operators for minibatches of <paramref name="batchSize"/>; smoothing noise from <paramref name="random"/>.</summary>
    public Td3Operators(Td3Networks networks, int batchSize, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(networks);
        ArgumentNullException.ThrowIfNull(random);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be at least 1");
        this.networks = networks;
        this.random = random;
        backend = networks.Backend;
        batch = batchSize;
        int d = networks.ActionDim;
        smoothing = new DeterministicTanh(backend, d);
        smoothingNoise = backend.Allocate(batch, d);
        anchorGradient = backend.Allocate(batch, d);
        actionGradient = backend.Allocate(batch, d);
        target = backend.Allocate(batch);
        penaltyPerRow = backend.Allocate(batch);
        absQ = backend.Allocate(batch);
        ones = backend.Allocate(batch);
        backend.Fill(ones, 1f);
        criticGradient = backend.Allocate(2, batch);
        actorQGradient = backend.Allocate(2, batch);
        meanAbsQ = backend.Allocate(1);
        kappa = backend.Allocate(1);
        normalizationNumerator = backend.Allocate(1);
        meanActorQ = backend.Allocate(1);
        anchorLoss = backend.Allocate(1);
        meanBothCritics = backend.Allocate(1);
        noTemperature = backend.Allocate(1);
        actorQGradientRow1 = actorQGradient.Slice(0, batch);
        CriticLoss = backend.Allocate(1);
        ActorLoss = backend.Allocate(1);
        MeanQ = backend.Allocate(1);
    }

    /// <summary>Minibatch size B.</summary>
    public int BatchSize => batch;
    /// <summary>L_Q of the latest <see cref="CriticStep"/> (device scalar).</summary>
    public Tensor CriticLoss { get; }
    /// <summary>L_π of the latest <see cref="ActorStep"/> (device scalar).</summary>
    public Tensor ActorLoss { get; }
    /// <summary>mean Q_1(s, a) of the latest <see cref="CriticStep"/> (device scalar).</summary>
    public Tensor MeanQ { get; }
    /// <summary>κ of the latest <see cref="ActorStep"/>: 1, or α / mean|Q_1| with Q normalisation (device scalar).</summary>
    public Tensor Kappa => kappa;

    /// <summary>
    /// The critic step: the TD3 target with target policy smoothing (no gradient), the twin-critic regression and
    /// one Adam step on both critics:
    /// <code>
    /// ξ ~ clip(N(0, σ²I), −c, c);  ã′ = clip(μ̄(s′) + ξ, −1, 1);  y = r + γ(1 − m)[min(Q̄_1, Q̄_2)(s′, ã′) − P]
    /// L_Q = MSE(Q_1(s, a), y) + MSE(Q_2(s, a), y)
    /// </code>
    /// The target, the loss and its gradient are one fused op (<see cref="Backend.SoftTdLoss"/> without its entropy
    /// term), as in SAC. P is an optional device scalar subtracted from every target (O2TD3's λ·P′, §4.6); null for
    /// TD3 and TD3+BC. The bootstrap mask m is 1 only for true terminals (a time-limit end bootstraps).
    /// </summary>
    /// <param name="minibatch">s, a, r, s′ and m of B transitions.</param>
    /// <param name="gamma">γ.</param>
    /// <param name="noiseStd">σ of the smoothing noise (0.2).</param>
    /// <param name="noiseClip">c (0.5).</param>
    /// <param name="penalty">P: [1], or null.</param>
    public void CriticStep(TransitionBatch minibatch, float gamma, float noiseStd, float noiseClip, Tensor? penalty = null)
    {
        ArgumentNullException.ThrowIfNull(minibatch);
        CheckBatch(minibatch);
        if (!(gamma >= 0f && gamma <= 1f)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "γ must be in [0, 1]");
        if (penalty is not null && penalty.Length != 1) throw new ArgumentException($"the target penalty must be one device scalar, got [{penalty.ShapeText}]", nameof(penalty));

        // ξ ~ clip(N(0, σ²I), −c, c); ã′ = clip(μ̄(s′) + ξ, −1, 1); Q̄_e(s′, ã′)
        var targetAction = networks.ActorTarget.Forward(minibatch.NextObservations, slot: 0);
        var smoothedAction = smoothing.NoisyAction(targetAction, smoothingNoise, noiseStd, noiseClip, actionLimit: 1f, drawNoiseFrom: random);
        var targetQ = networks.CriticTarget.Forward(minibatch.NextObservations, smoothedAction, slot: 0);
        if (penalty is not null) backend.Binary(BinaryOp.Mul, ones, penalty, penaltyPerRow, 1f, 1f, Broadcast.Scalar);
        // Q_e(s, a); y, L_Q = Σ_e mean (Q_e − y)² and ∂L_Q/∂Q in one op.
        var q = networks.Critic.Forward(minibatch.Observations, minibatch.Actions, slot: 0);
        backend.SoftTdLoss(q, targetQ, nextLogProb: null, noTemperature, penalty is null ? null : penaltyPerRow, minibatch.Rewards, minibatch.Terminals,
            gamma, criticGradient, CriticLoss, meanBothCritics, target);
        backend.Sum(FirstRow(q, ref criticOutput, ref criticOutputRow1), MeanQ, 1f / batch);
        networks.Critic.Parameters.ZeroGradients();
        networks.Critic.Backward(criticGradient, slot: 0);
        networks.CriticOptimizer.Step();
    }

    /// <summary>y [B] of the latest <see cref="CriticStep"/> (valid until the next one).</summary>
    public Tensor Target => target;

    /// <summary>
    /// The actor step, with the critic as it is now (TD3 steps the critics first):
    /// <code>q = Q_1(s, μ_θ(s));  L_π = −κ·mean(q) + w·mean over B·d of (μ_θ(s) − a_anchor)²</code>
    /// κ = 1 without normalisation, κ = <paramref name="qNormalization"/> / mean|q| (a constant) with it (TD3+BC:
    /// 2.5; O2TD3: 1). The anchor term is TD3+BC's BC term (anchor = dataset actions, w = 1) or O2TD3's constraint
    /// (anchor = μ_ref(s), w = λ as a device scalar in <paramref name="anchorWeightScalar"/>). Then one Adam step.
    /// </summary>
    /// <param name="observations">s: [B, obsDim].</param>
    /// <param name="qNormalization">α of κ = α/mean|Q_1|, or null for κ = 1.</param>
    /// <param name="anchorActions">a_anchor: [B, d], or null for no anchor term.</param>
    /// <param name="anchorWeight">w (host constant), multiplied by <paramref name="anchorWeightScalar"/> when given.</param>
    /// <param name="anchorWeightScalar">a device scalar factor of w (e.g. λ = exp(log λ)), or null.</param>
    public void ActorStep(Tensor observations, float? qNormalization = null, Tensor? anchorActions = null, float anchorWeight = 1f, Tensor? anchorWeightScalar = null)
    {
        if (observations.Rows != batch) throw new ArgumentException($"actor step expects {batch} states, got [{observations.ShapeText}]", nameof(observations));
        if (anchorActions is not null && (anchorActions.Rows != batch || anchorActions.Cols != networks.ActionDim))
            throw new ArgumentException($"anchor actions must be [{batch}, {networks.ActionDim}], got [{anchorActions.ShapeText}]", nameof(anchorActions));
        if (qNormalization is float alpha && !(alpha > 0f)) throw new ArgumentOutOfRangeException(nameof(qNormalization), alpha, "Q normalisation α must be positive");
        if (anchorWeightScalar is not null && anchorWeightScalar.Length != 1) throw new ArgumentException($"anchor weight must be one device scalar, got [{anchorWeightScalar.ShapeText}]");

        // q = Q_1(s, μ_θ(s))
        var mu = networks.Actor.Forward(observations, slot: 0);
        var q = networks.Critic.Forward(observations, mu, slot: 1);
        var q1 = FirstRow(q, ref actorCriticOutput, ref actorCriticOutputRow1);
        // κ = α / mean|q| (no gradient), or 1
        if (qNormalization is float a)
        {
            backend.Unary(UnaryOp.Abs, q1, absQ);
            backend.Sum(absQ, meanAbsQ, 1f / batch);
            backend.Fill(normalizationNumerator, a);
            backend.Binary(BinaryOp.Div, normalizationNumerator, meanAbsQ, kappa);
        }
        else backend.Fill(kappa, 1f);
        // −κ·mean(q): ∂/∂q_1 = −κ/B, ∂/∂q_2 = 0
        backend.Sum(q1, meanActorQ, 1f / batch);
        backend.Binary(BinaryOp.Mul, meanActorQ, kappa, ActorLoss, -1f, 1f);
        backend.Binary(BinaryOp.Mul, ones, kappa, actorQGradientRow1, 1f, -1f / batch, Broadcast.Scalar);
        // The pathwise gradient passes through the critics; their parameter gradients are discarded (zeroed again
        // before the critic loss's own backward pass, pitfall 7).
        networks.Critic.Parameters.ZeroGradients();
        // The actor loss does not train the critic: propagate to the action only (no weight-gradient GEMMs).
        var qActionGradient = networks.Critic.Backward(actorQGradient, slot: 1, needActionGradient: true, accumulateParameterGradients: false)!;
        // + w·mean (μ_θ(s) − a_anchor)²; without it ∂L/∂μ is the critic's action gradient itself (read-only below).
        var muGradient = qActionGradient;
        if (anchorActions is not null)
        {
            backend.MseLoss(mu, anchorActions, anchorGradient, anchorLoss, anchorWeight);
            if (anchorWeightScalar is not null)
            {
                backend.Binary(BinaryOp.Mul, anchorGradient, anchorWeightScalar, anchorGradient, 1f, 1f, Broadcast.Scalar);
                backend.Binary(BinaryOp.Mul, anchorLoss, anchorWeightScalar, anchorLoss, 1f, 1f, Broadcast.Scalar);
            }
            backend.Binary(BinaryOp.Add, qActionGradient, anchorGradient, actionGradient);
            backend.Binary(BinaryOp.Add, ActorLoss, anchorLoss, ActorLoss);
            muGradient = actionGradient;
        }
        networks.Actor.Parameters.ZeroGradients();
        networks.Actor.Backward(muGradient, slot: 0);
        networks.ActorOptimizer.Step();
    }

    // Q_1's row of a critic output [2, B]; the critic returns the same view object for a slot, so the row view is reused.
    Tensor FirstRow(Tensor output, ref Tensor? cachedOutput, ref Tensor? cachedRow)
    {
        if (!ReferenceEquals(output, cachedOutput) || cachedRow is null)
        {
            cachedOutput = output;
            cachedRow = output.Slice(0, batch);
        }
        return cachedRow;
    }

    void CheckBatch(TransitionBatch b)
    {
        if (b.Rewards.Length != batch || b.Terminals.Length != batch || b.NextObservations.Rows != batch || b.NextObservations.Cols != networks.ObsDim
            || b.Observations.Rows != batch || b.Observations.Cols != networks.ObsDim || b.Actions.Rows != batch || b.Actions.Cols != networks.ActionDim)
            throw new ArgumentException(
                $"the critic step expects s [{batch}, {networks.ObsDim}], a [{batch}, {networks.ActionDim}], r [{batch}], s′ [{batch}, {networks.ObsDim}], m [{batch}]; " +
                $"got [{b.Observations.ShapeText}], [{b.Actions.ShapeText}], [{b.Rewards.ShapeText}], [{b.NextObservations.ShapeText}], [{b.Terminals.ShapeText}]");
    }
}

/// <summary>
/// Acting with a deterministic actor on one host observation (slot 2 of the actor, never disturbing an update):
/// the deterministic action μ(s), or μ(s) + N(0, σ_e²I) when exploring, clipped to [−1, 1] or not.
/// </summary>
public sealed partial class DeterministicActorPolicy : IPolicy
{
    /// <summary>The actor slot used for acting.</summary>
    public const int ActingSlot = 2;
    readonly DevicePolicy policy;
    readonly DeviceRandom random;
    readonly DeterministicTanh noise;
    readonly Tensor epsilon;

    /// <summary>A policy over <paramref name="actor"/> with exploration std σ_e (noise drawn from <paramref name="random"/>).</summary>
    public DeterministicActorPolicy(DeterministicActor actor, float explorationNoise, bool clipAction, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (!(explorationNoise >= 0f) || float.IsInfinity(explorationNoise))
            throw new ArgumentOutOfRangeException(nameof(explorationNoise), explorationNoise, "exploration noise std must be finite and ≥ 0");
        this.random = random;
        var backend = actor.Network.Backend;
        noise = new DeterministicTanh(backend, actor.ActionDim);
        epsilon = backend.Allocate(1, actor.ActionDim);
        ExplorationNoise = explorationNoise;
        policy = new DevicePolicy(backend, actor.ObsDim, actor.ActionDim, (observation, deterministic) =>
        {
            var mu = actor.Forward(observation, ActingSlot);
            if (deterministic) return mu;
            return noise.NoisyAction(mu, epsilon, ExplorationNoise, actionLimit: clipAction ? 1f : float.PositiveInfinity, drawNoiseFrom: this.random);
        });
    }

    /// <summary>σ_e (settable, e.g. for schedules).</summary>
    public float ExplorationNoise { get; set; }

    /// <inheritdoc/>
    public int ObservationDim => policy.ObservationDim;

    /// <inheritdoc/>
    public int ActionDim => policy.ActionDim;

    /// <inheritdoc/>
    public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic) => policy.Act(observation, action, deterministic);
}

/// <summary>
/// Online TD3 (Fujimoto et al. 2018): twin critics, target policy smoothing, delayed actor and target updates.
/// One <see cref="Update"/>:
/// <code>
/// y = r + γ(1 − m)·min(Q̄_1, Q̄_2)(s′, clip(μ̄(s′) + clip(N(0, 0.2²), −0.5, 0.5), −1, 1))
/// L_Q = MSE(Q_1(s,a), y) + MSE(Q_2(s,a), y); Adam on the critics
/// n_it += 1; if n_it mod delay = 0: L_π = −mean Q_1(s, μ_θ(s)) (updated critic); Adam on the actor;
///                                    Polyak(0.005) on Q̄_1, Q̄_2, μ̄
/// </code>
/// The stored action is the executed one (the online loop stores what the policy returned).
/// </summary>
public sealed partial class Td3Agent : IOffPolicyAgent
{
    readonly Td3Config config;
    long updateTicks;
    long updatesSinceLog;

    /// <summary>Builds networks, operators and the exploring policy.</summary>
    public Td3Agent(Backend backend, int obsDim, int actionDim, Td3Config config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        Validate(config);
        this.config = config;
        Networks = new Td3Networks(backend, obsDim, actionDim, config.ActorHidden, config.CriticHidden, config.CriticLayerNorm,
            config.ActorLr, config.CriticLr, seed);
        Operators = new Td3Operators(Networks, config.BatchSize, new DeviceRandom(Seeds.Derive(seed, 3)));
        ActingPolicy = new DeterministicActorPolicy(Networks.Actor, config.ExplorationNoise, config.ClipExplorationAction, new DeviceRandom(Seeds.Derive(seed, 4)));
    }

    /// <summary>The networks and optimisers.</summary>
    public Td3Networks Networks { get; }
    /// <summary>The update operators.</summary>
    public Td3Operators Operators { get; }
    /// <summary>The acting policy with its exploration noise.</summary>
    public DeterministicActorPolicy ActingPolicy { get; }
    /// <inheritdoc/>
    public IPolicy Policy => ActingPolicy;
    /// <summary>n_it: updates made so far (the delayed update happens when it is a multiple of the delay).</summary>
    public long IterationCount { get; set; }

    /// <inheritdoc/>
    /// <remarks>
    /// A TD3 update's launches repeat with the policy delay (the actor step and Polyak every delay-th update); its
    /// constants (γ, the smoothing noise and clip, τ) are fixed and its step arguments feed no op.
    /// </remarks>
    public bool UpdatesCanBeGraphed => true;

    /// <inheritdoc/>
    public int UpdateGraphPhases => config.PolicyDelay;

    /// <inheritdoc/>
    public void Update(TransitionBatch batch, long environmentStep, int updateIndex)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long start = Stopwatch.GetTimestamp();
        // Target (no gradient), critic loss, critic step.
        Operators.CriticStep(batch, config.Gamma, config.PolicyNoise, config.NoiseClip);
        // Delayed policy and target updates.
        IterationCount++;
        if (IterationCount % config.PolicyDelay == 0)
        {
            Operators.ActorStep(batch.Observations);
            Networks.UpdateTargets(config.Tau);
        }
        updateTicks += Stopwatch.GetTimestamp() - start;
        updatesSinceLog++;
    }

    /// <inheritdoc/>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var backend = Networks.Backend;
        metrics.Log(step, "losses/qf_loss", backend.ReadScalar(Operators.CriticLoss));
        metrics.Log(step, "losses/qf1_values", backend.ReadScalar(Operators.MeanQ));
        if (IterationCount >= config.PolicyDelay) metrics.Log(step, "losses/actor_loss", backend.ReadScalar(Operators.ActorLoss));
        if (updatesSinceLog > 0)
        {
            // Host time per update call (on a GPU this is enqueue time unless the device is synchronised by the reads above).
            metrics.Log(step, "time/update", Stopwatch.GetElapsedTime(0, updateTicks).TotalMilliseconds / updatesSinceLog);
            updateTicks = 0; updatesSinceLog = 0;
        }
    }

    internal static void Validate(Td3Config c)
    {
        if (c.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(c), c.BatchSize, "batch_size must be at least 1");
        if (c.PolicyDelay < 1) throw new ArgumentOutOfRangeException(nameof(c), c.PolicyDelay, "policy_delay must be at least 1");
        if (c.UpdatesPerStep < 1) throw new ArgumentOutOfRangeException(nameof(c), c.UpdatesPerStep, "updates_per_step must be at least 1");
        if (!(c.Tau > 0f && c.Tau <= 1f)) throw new ArgumentOutOfRangeException(nameof(c), c.Tau, "tau must be in (0, 1]");
        if (!(c.PolicyNoise >= 0f) || !(c.NoiseClip > 0f)) throw new ArgumentOutOfRangeException(nameof(c), $"policy_noise {c.PolicyNoise} must be ≥ 0 and noise_clip {c.NoiseClip} > 0");
        if (c.TotalSteps < 1) throw new ArgumentOutOfRangeException(nameof(c), c.TotalSteps, "total_steps must be at least 1");
        if (c.BufferSize < c.BatchSize) throw new ArgumentOutOfRangeException(nameof(c), c.BufferSize, $"buffer_size must hold at least one batch ({c.BatchSize})");
    }
}

/// <summary>Derived seeds of the independent random streams of one run (networks, smoothing noise, acting noise …).</summary>
public static class Seeds
{
    /// <summary>A seed for stream <paramref name="stream"/> of a run seeded with <paramref name="seed"/> (SplitMix64 finaliser).</summary>
    public static ulong Derive(ulong seed, ulong stream)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL + stream * 0xBF58476D1CE4E5B9UL + 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
