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
/// runs on every backend without host round trips. Buffers are allocated on the first call with a given
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
    readonly float logProbConstant;
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
        // Σ_j of the per-coordinate constants −½ ln 2π and −2 ln 2 (the latter from the Jacobian term).
        logProbConstant = (float)(-actionDim * (DistributionMath.HalfLogTwoPi + 2.0 * DistributionMath.LogTwo));
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
    /// <returns>Action a: [batch, d]; LogProb: [batch].</returns>
    public (Tensor Action, Tensor LogProb) Sample(Tensor head, Tensor noise)
    {
        int batch = RequireHead(head);
        DistributionMath.RequireMatrix(backend, noise, nameof(noise), batch, ActionDim);
        if (!sampleBuffers.TryGetValue(batch, out var w))
            sampleBuffers[batch] = w = new SampleBuffers(backend, batch, ActionDim);

        LogStdForward(head, w.Head);
        backend.Binary(BinaryOp.Mul, w.Head.Std, noise, w.StdNoise);                  // σ ⊙ ε
        backend.Binary(BinaryOp.Add, w.Head.Mean, w.StdNoise, w.PreTanh);             // u = μ + σ ⊙ ε
        backend.Unary(UnaryOp.Tanh, w.PreTanh, w.Action);                              // a = tanh u

        backend.Unary(UnaryOp.Square, noise, w.Terms);                                 // ε²
        backend.Binary(BinaryOp.Add, w.Terms, w.Head.LogStd, w.Terms, -0.5f, -1f);    // −½ε² − log σ
        AddNegativeLogJacobianAndSum(w.PreTanh, w.Terms, w.Head.Scratch, w.LogProb);
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
    /// <returns>∂L/∂head: [batch, 2d].</returns>
    public Tensor SampleBackward(Tensor? actionGradient, Tensor? logProbGradient)
    {
        var w = lastSample ?? throw new InvalidOperationException("SampleBackward needs a Sample call first");
        RequireTrainable();
        if (actionGradient is null && logProbGradient is null)
            throw new ArgumentException("SampleBackward needs an action gradient, a log-prob gradient or both");
        if (actionGradient is not null) DistributionMath.RequireMatrix(backend, actionGradient, nameof(actionGradient), w.Batch, ActionDim);
        if (logProbGradient is not null) DistributionMath.RequireLength(backend, logProbGradient, nameof(logProbGradient), w.Batch);

        // ∂L/∂u = dA ⊙ (1 − a²) + dlogπ · 2 tanh u   (−∂/∂u log(1 − tanh²u) = 2 tanh u)
        if (actionGradient is not null)
        {
            backend.Unary(UnaryOp.Square, w.Action, w.PreTanhGradient);
            backend.Unary(UnaryOp.Affine, w.PreTanhGradient, w.PreTanhGradient, -1f, 1f);
            backend.Binary(BinaryOp.Mul, w.PreTanhGradient, actionGradient, w.PreTanhGradient);
            if (logProbGradient is not null)
            {
                backend.Binary(BinaryOp.Mul, w.Action, logProbGradient, w.Head.Scratch, 2f, 1f, Broadcast.Column);
                backend.Binary(BinaryOp.Add, w.PreTanhGradient, w.Head.Scratch, w.PreTanhGradient);
            }
        }
        else
        {
            backend.Binary(BinaryOp.Mul, w.Action, logProbGradient!, w.PreTanhGradient, 2f, 1f, Broadcast.Column);
        }

        // ∂u/∂μ = 1
        backend.CopyColumns(w.PreTanhGradient, 0, w.Head.HeadGradient, 0, ActionDim);
        // ∂L/∂log σ = ∂L/∂u ⊙ σε − dlogπ   (the −log σ term; −½ε² does not depend on σ for fixed ε)
        backend.Binary(BinaryOp.Mul, w.PreTanhGradient, w.StdNoise, w.Head.LogStdGradient);
        if (logProbGradient is not null)
            backend.Binary(BinaryOp.Add, w.Head.LogStdGradient, logProbGradient, w.Head.LogStdGradient, 1f, -1f, Broadcast.Column);
        LogStdBackward(w.Head);
        return w.Head.HeadGradient;
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

        backend.Unary(UnaryOp.Clamp, action, w.ClampedAction, -ExternalActionBound, ExternalActionBound);
        DistributionMath.ClampedIndicator(backend, action, w.ClampedAction, w.ActionClamped);
        backend.Unary(UnaryOp.Atanh, w.ClampedAction, w.PreTanh);                           // u = atanh(a)
        LogStdForward(head, w.Head);
        backend.Binary(BinaryOp.Add, w.PreTanh, w.Head.Mean, w.Standardized, 1f, -1f);
        backend.Binary(BinaryOp.Div, w.Standardized, w.Head.Std, w.Standardized);          // z = (u − μ)/σ

        backend.Unary(UnaryOp.Square, w.Standardized, w.Terms);
        backend.Binary(BinaryOp.Add, w.Terms, w.Head.LogStd, w.Terms, -0.5f, -1f);          // −½z² − log σ
        AddNegativeLogJacobianAndSum(w.PreTanh, w.Terms, w.Head.Scratch, w.LogProb);
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

        // ∂log π/∂u = −z/σ + 2 tanh u, with tanh u = the clamped action.
        backend.Binary(BinaryOp.Div, w.Standardized, w.Head.Std, w.StandardizedOverStd);
        backend.Binary(BinaryOp.Add, w.ClampedAction, w.StandardizedOverStd, w.PreTanhGradient, 2f, -1f);
        backend.Binary(BinaryOp.Mul, w.PreTanhGradient, logProbGradient, w.PreTanhGradient, 1f, 1f, Broadcast.Column);
        // ∂u/∂a = 1/(1 − a²) inside the clamp, 0 outside.
        backend.Unary(UnaryOp.Square, w.ClampedAction, w.Head.Scratch);
        backend.Unary(UnaryOp.Affine, w.Head.Scratch, w.Head.Scratch, -1f, 1f);
        backend.Binary(BinaryOp.Div, w.PreTanhGradient, w.Head.Scratch, w.ActionGradient);
        backend.Select(w.ActionClamped, w.Head.Zeros, w.ActionGradient, w.ActionGradient);
        if (!computeHeadGradient) return (w.ActionGradient, null);

        // ∂log π/∂μ = z/σ; ∂log π/∂log σ = z² − 1.
        backend.Binary(BinaryOp.Mul, w.StandardizedOverStd, logProbGradient, w.Head.Scratch, 1f, 1f, Broadcast.Column);
        backend.CopyColumns(w.Head.Scratch, 0, w.Head.HeadGradient, 0, ActionDim);
        backend.Unary(UnaryOp.Square, w.Standardized, w.Head.LogStdGradient);
        backend.Unary(UnaryOp.Affine, w.Head.LogStdGradient, w.Head.LogStdGradient, 1f, -1f);
        backend.Binary(BinaryOp.Mul, w.Head.LogStdGradient, logProbGradient, w.Head.LogStdGradient, 1f, 1f, Broadcast.Column);
        LogStdBackward(w.Head);
        return (w.ActionGradient, w.Head.HeadGradient);
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

    /// <summary>μ, ρ ← split(head); log σ = clamp(m·ρ + o, −20, 2); σ = exp(log σ).</summary>
    void LogStdForward(Tensor head, HeadBuffers h)
    {
        backend.CopyColumns(head, 0, h.Mean, 0, ActionDim);
        backend.CopyColumns(head, ActionDim, h.RawLogStd, 0, ActionDim);
        backend.Binary(BinaryOp.Mul, h.RawLogStd, multiplier, h.PreClampLogStd, 1f, 1f, Broadcast.Scalar);
        backend.Binary(BinaryOp.Add, h.PreClampLogStd, offset, h.PreClampLogStd, 1f, 1f, Broadcast.Scalar);
        backend.Unary(UnaryOp.Clamp, h.PreClampLogStd, h.LogStd, MinLogStd, MaxLogStd);
        backend.Unary(UnaryOp.Exp, h.LogStd, h.Std);
    }

    /// <summary>
    /// From ∂L/∂log σ in h.LogStdGradient: zero it where the clamp was active, accumulate
    /// ∂L/∂m = Σ ∂L/∂(m·ρ + o) ⊙ ρ and ∂L/∂o = Σ ∂L/∂(m·ρ + o), and write ∂L/∂ρ = m·∂L/∂(m·ρ + o) into the
    /// last d columns of h.HeadGradient.
    /// </summary>
    void LogStdBackward(HeadBuffers h)
    {
        DistributionMath.ClampedIndicator(backend, h.PreClampLogStd, h.LogStd, h.Scratch);
        backend.Select(h.Scratch, h.Zeros, h.LogStdGradient, h.LogStdGradient);
        backend.Binary(BinaryOp.Mul, h.LogStdGradient, h.RawLogStd, h.Scratch);
        backend.RowSum(h.ScratchFlat, multiplierGradient!, 1f, 1f);
        backend.RowSum(h.LogStdGradientFlat, offsetGradient!, 1f, 1f);
        backend.Binary(BinaryOp.Mul, h.LogStdGradient, multiplier, h.Scratch, 1f, 1f, Broadcast.Scalar);
        backend.CopyColumns(h.Scratch, 0, h.HeadGradient, ActionDim, ActionDim);
    }

    /// <summary>
    /// terms += −log(1 − tanh²u) − (the constants, added after the sum) = 2u + 2·softplus(−2u);
    /// logProb[r] = Σ_j terms[r, j] + Σ_j(−½ ln 2π − 2 ln 2).
    /// </summary>
    void AddNegativeLogJacobianAndSum(Tensor preTanh, Tensor terms, Tensor scratch, Tensor logProb)
    {
        backend.Binary(BinaryOp.Add, terms, preTanh, terms, 1f, 2f);
        backend.Unary(UnaryOp.Affine, preTanh, scratch, -2f, 0f);
        backend.Unary(UnaryOp.Softplus, scratch, scratch);
        backend.Binary(BinaryOp.Add, terms, scratch, terms, 1f, 2f);
        backend.RowSum(terms, logProb);
        backend.Unary(UnaryOp.Affine, logProb, logProb, 1f, logProbConstant);
    }

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

    /// <summary>Buffers of the split head and the log-std map, one set per path and batch size.</summary>
    sealed class HeadBuffers
    {
        public HeadBuffers(Backend backend, int batch, int actionDim)
        {
            Mean = backend.Allocate(batch, actionDim);
            RawLogStd = backend.Allocate(batch, actionDim);
            PreClampLogStd = backend.Allocate(batch, actionDim);
            LogStd = backend.Allocate(batch, actionDim);
            Std = backend.Allocate(batch, actionDim);
            LogStdGradient = backend.Allocate(batch, actionDim);
            Scratch = backend.Allocate(batch, actionDim);
            Zeros = backend.Allocate(batch, actionDim);
            HeadGradient = backend.Allocate(batch, 2 * actionDim);
            ScratchFlat = Scratch.Reshape(1, batch * actionDim);
            LogStdGradientFlat = LogStdGradient.Reshape(1, batch * actionDim);
        }

        /// <summary>μ, ρ, m·ρ + o, log σ, σ: [batch, d].</summary>
        public readonly Tensor Mean, RawLogStd, PreClampLogStd, LogStd, Std;
        /// <summary>∂L/∂log σ and a scratch buffer: [batch, d]; Zeros is never written.</summary>
        public readonly Tensor LogStdGradient, Scratch, Zeros;
        /// <summary>∂L/∂head: [batch, 2d].</summary>
        public readonly Tensor HeadGradient;
        /// <summary>[1, batch·d] views, so one RowSum accumulates a whole buffer into a scalar.</summary>
        public readonly Tensor ScratchFlat, LogStdGradientFlat;
    }

    sealed class SampleBuffers(Backend backend, int batch, int actionDim)
    {
        public readonly int Batch = batch;
        public readonly HeadBuffers Head = new(backend, batch, actionDim);
        /// <summary>σ ⊙ ε, u, a, the per-coordinate log-density terms, ∂L/∂u: [batch, d].</summary>
        public readonly Tensor StdNoise = backend.Allocate(batch, actionDim), PreTanh = backend.Allocate(batch, actionDim),
            Action = backend.Allocate(batch, actionDim), Terms = backend.Allocate(batch, actionDim),
            PreTanhGradient = backend.Allocate(batch, actionDim);
        /// <summary>log π: [batch].</summary>
        public readonly Tensor LogProb = backend.Allocate(batch);
    }

    sealed class ExternalBuffers(Backend backend, int batch, int actionDim)
    {
        public readonly int Batch = batch;
        public readonly HeadBuffers Head = new(backend, batch, actionDim);
        /// <summary>Clamped a, clamp indicator, u = atanh a, z = (u − μ)/σ, z/σ, terms, ∂L/∂u, ∂L/∂a: [batch, d].</summary>
        public readonly Tensor ClampedAction = backend.Allocate(batch, actionDim), ActionClamped = backend.Allocate(batch, actionDim),
            PreTanh = backend.Allocate(batch, actionDim), Standardized = backend.Allocate(batch, actionDim),
            StandardizedOverStd = backend.Allocate(batch, actionDim), Terms = backend.Allocate(batch, actionDim),
            PreTanhGradient = backend.Allocate(batch, actionDim), ActionGradient = backend.Allocate(batch, actionDim);
        /// <summary>log π: [batch].</summary>
        public readonly Tensor LogProb = backend.Allocate(batch);
    }
}
