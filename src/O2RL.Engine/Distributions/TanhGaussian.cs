using O2RL.Kernels;

namespace O2RL.Engine.Distributions;

/// <summary>
/// The tanh-squashed Gaussian head of the SAC/CQL actor. The actor network's last layer outputs
/// head: [batch, 2·actionDim], mean μ in the first actionDim columns and raw log-std ρ in the last;
/// log σ = clamp(m·ρ + o, −20, 2) with m (log_std_multiplier) and o (log_std_offset) trainable 1-element
/// tensors. Actions are a = tanh(u), u ~ N(μ, σ²), and
/// <code>log π(a|s) = Σ_j [ −½((u_j − μ_j)/σ_j)² − log σ_j − ½ log 2π − log(1 − tanh²u_j) ]</code>
/// with the Jacobian term in the stable form log(1 − tanh²u) = 2·(ln 2 − u − softplus(−2u)).
/// </summary>
/// <remarks>
/// No tape: each method is a fixed sequence of <see cref="Backend"/> ops on buffers this object owns, so it
/// runs on every backend without host round trips. The sample and the log-density of given actions are one fused
/// op each way (<see cref="Backend.TanhGaussianSample(Tensor, Tensor, Tensor, Tensor, float, float, Tensor, Tensor, Tensor)"/>, <see cref="Backend.TanhGaussianLogProb"/>), since SAC and
/// O2SAC run them on every update; their backwards read the head again, so keep it unchanged until the backward
/// (the actor network's own backward needs its output intact as well). Buffers are allocated on the first call with a given
/// batch size and reused afterwards (no allocation per call). The sample path (<see cref="Sample"/>), the
/// external-action path (<see cref="LogProb"/>) and <see cref="DeterministicAction"/> keep separate buffers,
/// so one backward of each path may be pending at a time. Each backward uses what the latest forward of its
/// path saved; to keep two forwards of one path alive (the actor at s and at s′), use two instances over the
/// same parameter tensors. Returned tensors belong to this object and are overwritten by the next call of
/// the same path with the same batch size.
/// Multiple samples per state (CQL) are rows: repeat the states (or the head rows) n times.
/// </remarks>
public sealed class TanhGaussian
{
    /// <summary>Lower clamp of log σ.</summary>
    public const float MinLogStd = -20f;

    /// <summary>Upper clamp of log σ.</summary>
    public const float MaxLogStd = 2f;

    /// <summary>Externally supplied actions are clamped into [−bound, bound] before atanh (1 − 1e-4).</summary>
    public const float ExternalActionBound = (float)(1.0 - 1e-4);

    /// <summary>The deterministic action clamp(tanh μ, ±0.9999).</summary>
    public const float DeterministicActionBound = 0.9999f;

    readonly Backend backend;
    readonly Tensor multiplier, offset;
    readonly Tensor? multiplierGradient, offsetGradient;
    readonly Dictionary<int, SampleBuffers> sampleBuffers = [];
    readonly Dictionary<int, ExternalBuffers> externalBuffers = [];
    readonly Dictionary<int, Tensor> deterministicBuffers = [];
    SampleBuffers? lastSample;
    ExternalBuffers? lastExternal;

    /// <summary>
    /// A tanh-Gaussian head over trainable scalars. Pass the gradient tensors to train m and o (gradients
    /// accumulate into them); pass null for a frozen actor (π_off, π_ref), which can still return
    /// ∂log π/∂action but not ∂/∂head.
    /// </summary>
    /// <param name="backend">Where every op runs.</param>
    /// <param name="actionDim">d, the action dimension.</param>
    /// <param name="logStdMultiplier">m: [1].</param>
    /// <param name="logStdOffset">o: [1].</param>
    /// <param name="logStdMultiplierGradient">dm: [1], accumulated by the backward passes; null if frozen.</param>
    /// <param name="logStdOffsetGradient">do: [1], accumulated by the backward passes; null if frozen.</param>
    public TanhGaussian(Backend backend, int actionDim, Tensor logStdMultiplier, Tensor logStdOffset,
        Tensor? logStdMultiplierGradient = null, Tensor? logStdOffsetGradient = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (actionDim < 1) throw new ArgumentOutOfRangeException(nameof(actionDim), actionDim, "action dimension must be at least 1");
        DistributionMath.RequireLength(backend, logStdMultiplier, nameof(logStdMultiplier), 1);
        DistributionMath.RequireLength(backend, logStdOffset, nameof(logStdOffset), 1);
        if (logStdMultiplierGradient is null != logStdOffsetGradient is null)
            throw new ArgumentException("pass both log-std gradient tensors (trainable) or neither (frozen)");
        if (logStdMultiplierGradient is not null) DistributionMath.RequireLength(backend, logStdMultiplierGradient, nameof(logStdMultiplierGradient), 1);
        if (logStdOffsetGradient is not null) DistributionMath.RequireLength(backend, logStdOffsetGradient, nameof(logStdOffsetGradient), 1);
        this.backend = backend;
        ActionDim = actionDim;
        multiplier = logStdMultiplier;
        offset = logStdOffset;
        multiplierGradient = logStdMultiplierGradient;
        offsetGradient = logStdOffsetGradient;
    }

    /// <summary>d, the action dimension.</summary>
    public int ActionDim { get; }

    /// <summary>Whether this head was given gradient tensors for m and o.</summary>
    public bool IsTrainable => multiplierGradient is not null;

    // ───────────────────────────── sample ─────────────────────────────

    /// <summary>
    /// Reparameterised sample: u = μ + σ ⊙ ε, a = tanh(u), and log π(a|s) computed from ε directly
    /// ((u − μ)/σ = ε), which has the same total derivative as scoring u.
    /// </summary>
    /// <param name="head">[batch, 2d]: μ then ρ.</param>
    /// <param name="noise">ε: [batch, d] standard normal (e.g. from <see cref="Backend.RandomNormal"/>).</param>
    /// <param name="drawNoiseFrom">
    /// When given, ε is drawn into <paramref name="noise"/> from this stream first (as its <see cref="DeviceRandom.Normal"/>
    /// would), in the same launch as the sample on ILGPU backends.
    /// </param>
    /// <returns>Action a: [batch, d]; LogProb: [batch].</returns>
    public (Tensor Action, Tensor LogProb) Sample(Tensor head, Tensor noise, DeviceRandom? drawNoiseFrom = null)
    {
        int batch = RequireHead(head);
        DistributionMath.RequireMatrix(backend, noise, nameof(noise), batch, ActionDim);
        if (!sampleBuffers.TryGetValue(batch, out var w))
            sampleBuffers[batch] = w = new SampleBuffers(backend, batch, ActionDim);

        // One fused op (TanhGaussianReference has the formulas): log σ = clamp(m·ρ + o), u = μ + σε, a = tanh u, log π.
        if (drawNoiseFrom is null)
            backend.TanhGaussianSample(head, noise, multiplier, offset, MinLogStd, MaxLogStd, w.Action, w.StdNoise, w.LogProb);
        else
            backend.TanhGaussianSample(head, noise, drawNoiseFrom.Take(noise.Length), multiplier, offset, MinLogStd, MaxLogStd, w.Action, w.StdNoise, w.LogProb);
        w.Head = head;
        lastSample = w;
        return (w.Action, w.LogProb);
    }

    /// <summary>
    /// Backward of the latest <see cref="Sample"/>: given ∂L/∂a and/or ∂L/∂log π, returns ∂L/∂head
    /// (overwritten) and accumulates ∂L/∂m, ∂L/∂o. The action gradient flows through u = μ + σε into μ and σ
    /// (the pathwise gradient that carries Q and the reference density into the actor).
    /// </summary>
    /// <param name="actionGradient">∂L/∂a: [batch, d], or null when the loss does not use the action.</param>
    /// <param name="logProbGradient">∂L/∂log π: [batch], or null when the loss does not use the log-density.</param>
    /// <param name="preImageGradient">
    /// ∂L/∂u: [batch, d] with respect to the pre-image of the sample (from a <see cref="LogProbAtPreImage"/> of
    /// <see cref="PreImage"/>'s result under another head), or null.
    /// </param>
    /// <returns>∂L/∂head: [batch, 2d].</returns>
    public Tensor SampleBackward(Tensor? actionGradient, Tensor? logProbGradient, Tensor? preImageGradient = null)
    {
        var w = lastSample ?? throw new InvalidOperationException("SampleBackward needs a Sample call first");
        RequireTrainable();
        if (actionGradient is null && logProbGradient is null && preImageGradient is null)
            throw new ArgumentException("SampleBackward needs an action, log-prob or pre-image gradient");
        if (actionGradient is not null) DistributionMath.RequireMatrix(backend, actionGradient, nameof(actionGradient), w.Batch, ActionDim);
        if (preImageGradient is not null) DistributionMath.RequireMatrix(backend, preImageGradient, nameof(preImageGradient), w.Batch, ActionDim);
        if (logProbGradient is not null) DistributionMath.RequireLength(backend, logProbGradient, nameof(logProbGradient), w.Batch);

        // ∂L/∂u = dA ⊙ (1 − a²) + dlogπ·2a + dU (= ∂L/∂μ); ∂L/∂log σ = ∂L/∂u ⊙ σε − dlogπ, through the clamp into ρ, m, o.
        backend.TanhGaussianSampleBackward(w.Head!, multiplier, offset, MinLogStd, MaxLogStd, w.Action, w.StdNoise, actionGradient, logProbGradient,
            w.HeadGradient, multiplierGradient!, offsetGradient!, preImageGradient);
        return w.HeadGradient;
    }

    /// <summary>
    /// The pre-image u = μ + σε of the latest <see cref="Sample"/> ([batch, d]; a = tanh u), the same float sum the
    /// sample formed. Where tanh u has rounded to ±1 the action no longer determines u, so a density of the sample
    /// under another head (π_ref's) is exact only from u: <see cref="LogProbAtPreImage"/>. Overwritten by the next call.
    /// </summary>
    public Tensor PreImage()
    {
        var w = lastSample ?? throw new InvalidOperationException("PreImage needs a Sample call first");
        var preImage = w.PreImage ??= backend.Allocate(w.Batch, ActionDim);
        backend.CopyColumns(w.Head!, 0, preImage, 0, ActionDim);
        backend.Binary(BinaryOp.Add, preImage, w.StdNoise, preImage);
        return preImage;
    }

    // ───────────────────────────── log-density of given actions ─────────────────────────────

    /// <summary>
    /// log π(a|s) of externally supplied actions (dataset actions, another actor's samples, a deterministic
    /// action): a is clamped into ±(1 − 1e-4), u = atanh(a), then the formula of the class summary.
    /// </summary>
    /// <param name="head">[batch, 2d]: μ then ρ.</param>
    /// <param name="action">a: [batch, d].</param>
    /// <returns>[batch].</returns>
    public Tensor LogProb(Tensor head, Tensor action)
    {
        int batch = RequireHead(head);
        DistributionMath.RequireMatrix(backend, action, nameof(action), batch, ActionDim);
        if (!externalBuffers.TryGetValue(batch, out var w))
            externalBuffers[batch] = w = new ExternalBuffers(backend, batch, ActionDim);

        // One fused op: a clamped, u = atanh a, z = (u − μ)/σ, log π; z, z/σ, the clamped a and ∂u/∂a saved for the backward.
        backend.TanhGaussianLogProb(head, action, multiplier, offset, MinLogStd, MaxLogStd, ExternalActionBound, w.LogProb, w.Saved);
        w.Head = head;
        lastExternal = w;
        return w.LogProb;
    }

    /// <summary>
    /// log π(tanh u|s) of actions given by their pre-images u (another head's sample, <see cref="PreImage"/>): the
    /// formula of the class summary at u itself, with no clamp and no atanh. It equals <see cref="LogProb"/> of tanh u
    /// wherever |u| &lt; atanh(1 − 1e-4) ≈ 4.95; beyond, <see cref="LogProb"/> reads the action as u = ±4.95.
    /// <see cref="LogProbBackward"/> then returns ∂L/∂u in place of ∂L/∂a (for the sampling head's
    /// <see cref="SampleBackward"/> pre-image gradient). Shares the buffers of <see cref="LogProb"/>.
    /// </summary>
    /// <param name="head">[batch, 2d]: μ then ρ.</param>
    /// <param name="preImage">u: [batch, d].</param>
    /// <returns>[batch].</returns>
    public Tensor LogProbAtPreImage(Tensor head, Tensor preImage)
    {
        int batch = RequireHead(head);
        DistributionMath.RequireMatrix(backend, preImage, nameof(preImage), batch, ActionDim);
        if (!externalBuffers.TryGetValue(batch, out var w))
            externalBuffers[batch] = w = new ExternalBuffers(backend, batch, ActionDim);
        backend.TanhGaussianLogProb(head, preImage, multiplier, offset, MinLogStd, MaxLogStd, ExternalActionBound, w.LogProb, w.Saved, givenIsPreImage: true);
        w.Head = head;
        lastExternal = w;
        return w.LogProb;
    }

    /// <summary>
    /// Backward of the latest <see cref="LogProb"/>. Returns ∂L/∂a (zero where the action was clamped),
    /// which carries the gradient of a reference density through a reparameterised action into the actor
    /// that produced it; and, when <paramref name="computeHeadGradient"/>, ∂L/∂head with ∂L/∂m and ∂L/∂o
    /// accumulated (a trainable head only).
    /// </summary>
    /// <param name="logProbGradient">∂L/∂log π: [batch].</param>
    /// <param name="computeHeadGradient">Whether to also differentiate with respect to this head.</param>
    /// <returns>ActionGradient: [batch, d]; HeadGradient: [batch, 2d] or null.</returns>
    public (Tensor ActionGradient, Tensor? HeadGradient) LogProbBackward(Tensor logProbGradient, bool computeHeadGradient)
    {
        var w = lastExternal ?? throw new InvalidOperationException("LogProbBackward needs a LogProb call first");
        DistributionMath.RequireLength(backend, logProbGradient, nameof(logProbGradient), w.Batch);
        if (computeHeadGradient) RequireTrainable();

        // ∂log π/∂u = 2a − z/σ, times ∂u/∂a (0 where a was clamped); with the head: ∂/∂μ = z/σ, ∂/∂log σ = z² − 1.
        backend.TanhGaussianLogProbBackward(w.Head!, multiplier, offset, MinLogStd, MaxLogStd, w.Saved, logProbGradient, w.ActionGradient,
            computeHeadGradient ? w.HeadGradient : null, computeHeadGradient ? multiplierGradient : null, computeHeadGradient ? offsetGradient : null);
        return (w.ActionGradient, computeHeadGradient ? w.HeadGradient : null);
    }

    // ───────────────────────────── deterministic action ─────────────────────────────

    /// <summary>
    /// The mode used for evaluation and as the stage-B anchor: clamp(tanh μ, ±0.9999). Not differentiated.
    /// Its log-density is <see cref="LogProb"/> of the returned tensor.
    /// </summary>
    /// <param name="head">[batch, 2d].</param>
    /// <returns>[batch, d].</returns>
    public Tensor DeterministicAction(Tensor head)
    {
        int batch = RequireHead(head);
        if (!deterministicBuffers.TryGetValue(batch, out var action))
            deterministicBuffers[batch] = action = backend.Allocate(batch, ActionDim);
        backend.CopyColumns(head, 0, action, 0, ActionDim);
        backend.Unary(UnaryOp.Tanh, action, action);
        backend.Unary(UnaryOp.Clamp, action, action, -DeterministicActionBound, DeterministicActionBound);
        return action;
    }

    // ───────────────────────────── shared pieces ─────────────────────────────

    int RequireHead(Tensor head)
    {
        DistributionMath.RequireBackend(backend, head, nameof(head));
        if (head.Cols != 2 * ActionDim)
            throw new ArgumentException($"head is [{head.ShapeText}] but a tanh-Gaussian over {ActionDim} action dimensions needs {2 * ActionDim} columns (mean, then raw log-std)", nameof(head));
        if (head.Rows < 1) throw new ArgumentException($"head [{head.ShapeText}] has no rows", nameof(head));
        return head.Rows;
    }

    void RequireTrainable()
    {
        if (!IsTrainable)
            throw new InvalidOperationException("this tanh-Gaussian head was built without log-std gradient tensors (frozen), so it cannot differentiate with respect to its head");
    }

    sealed class SampleBuffers(Backend backend, int batch, int actionDim)
    {
        public readonly int Batch = batch;
        /// <summary>The head of the latest sample (read again by the backward).</summary>
        public Tensor? Head;
        /// <summary>a and σε (saved for the backward): [batch, d].</summary>
        public readonly Tensor Action = backend.Allocate(batch, actionDim), StdNoise = backend.Allocate(batch, actionDim);
        /// <summary>log π: [batch].</summary>
        public readonly Tensor LogProb = backend.Allocate(batch);
        /// <summary>∂L/∂head: [batch, 2d].</summary>
        public readonly Tensor HeadGradient = backend.Allocate(batch, 2 * actionDim);
        /// <summary>u = μ + σε, formed on request (<see cref="PreImage"/>): [batch, d], allocated by the first request.</summary>
        public Tensor? PreImage;
    }

    sealed class ExternalBuffers(Backend backend, int batch, int actionDim)
    {
        public readonly int Batch = batch;
        /// <summary>The head of the latest call (read again by a backward with the head gradient).</summary>
        public Tensor? Head;
        /// <summary>log π: [batch].</summary>
        public readonly Tensor LogProb = backend.Allocate(batch);
        /// <summary>z, z/σ, the clamped action and ∂u/∂a, saved for the backward: [4, batch, d].</summary>
        public readonly Tensor Saved = backend.Allocate(4, batch, actionDim);
        /// <summary>∂L/∂a: [batch, d]; ∂L/∂head: [batch, 2d].</summary>
        public readonly Tensor ActionGradient = backend.Allocate(batch, actionDim), HeadGradient = backend.Allocate(batch, 2 * actionDim);
    }
}
