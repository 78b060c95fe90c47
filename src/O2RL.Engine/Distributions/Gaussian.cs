using O2RL.Kernels;

namespace O2RL.Engine.Distributions;

/// <summary>
/// The diagonal Gaussian of the IQL and PPO actors: mean μ from the actor network, a state-independent
/// log-std vector ψ: [d], σ = exp(clamp(ψ, minLogStd, maxLogStd)), no squashing of samples:
/// <code>log π(a|s) = Σ_j [ −½((a_j − μ_j)/σ_j)² − log σ_j − ½ log 2π ],   H = Σ_j (½ + ½ log 2π + log σ_j)</code>
/// </summary>
/// <remarks>
/// The mean is taken as given: the actor network's output layer applies the tanh (its Mlp output
/// activation), so gradients returned here are with respect to the tanh output and the network's own
/// backward applies 1 − μ². The deterministic action is that mean itself.
/// Each method is a fixed sequence of <see cref="Backend"/> ops on buffers allocated on the first call with
/// a batch size (no allocation per call afterwards, no host round trips). A backward uses what the latest
/// forward of the same kind saved; returned tensors belong to this object and are overwritten by the next
/// call of the same kind with the same batch size.
/// </remarks>
public sealed class Gaussian
{
    /// <summary>Lower log-std clamp of the IQL actor.</summary>
    public const float IqlMinLogStd = -20f;

    /// <summary>Lower log-std clamp of the PPO actor (tighter than IQL's although the weights load across).</summary>
    public const float PpoMinLogStd = -10f;

    /// <summary>Upper log-std clamp of both actors.</summary>
    public const float DefaultMaxLogStd = 2f;

    readonly Backend backend;
    readonly Tensor logStd;
    readonly Tensor? logStdGradient;
    readonly float logProbConstant, entropyConstant;
    readonly Dictionary<int, LogProbBuffers> logProbBuffers = [];
    readonly Dictionary<int, SampleBuffers> sampleBuffers = [];
    readonly StdBuffers entropyStd;
    readonly Tensor entropy;
    LogProbBuffers? lastLogProb;
    bool entropyComputed;

    /// <summary>A Gaussian head over the trainable log-std vector ψ.</summary>
    /// <param name="backend">Where every op runs.</param>
    /// <param name="actionDim">d.</param>
    /// <param name="logStd">ψ: [d].</param>
    /// <param name="logStdGradient">dψ: [d], accumulated by the backward passes; null for a frozen actor.</param>
    /// <param name="minLogStd"><see cref="IqlMinLogStd"/> (−20) or <see cref="PpoMinLogStd"/> (−10).</param>
    /// <param name="maxLogStd">Upper clamp, 2 in both actors.</param>
    public Gaussian(Backend backend, int actionDim, Tensor logStd, Tensor? logStdGradient, float minLogStd, float maxLogStd = DefaultMaxLogStd)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (actionDim < 1) throw new ArgumentOutOfRangeException(nameof(actionDim), actionDim, "action dimension must be at least 1");
        DistributionMath.RequireLength(backend, logStd, nameof(logStd), actionDim);
        if (logStdGradient is not null) DistributionMath.RequireLength(backend, logStdGradient, nameof(logStdGradient), actionDim);
        if (!(minLogStd < maxLogStd))
            throw new ArgumentOutOfRangeException(nameof(minLogStd), minLogStd, $"log-std clamp [{minLogStd}, {maxLogStd}] is empty");
        this.backend = backend;
        ActionDim = actionDim;
        this.logStd = logStd;
        this.logStdGradient = logStdGradient;
        MinLogStd = minLogStd;
        MaxLogStd = maxLogStd;
        logProbConstant = (float)-DistributionMath.HalfLogTwoPi;
        entropyConstant = (float)(actionDim * (0.5 + DistributionMath.HalfLogTwoPi));
        entropyStd = new StdBuffers(backend, actionDim);
        entropy = backend.Allocate(1);
    }

    /// <summary>d.</summary>
    public int ActionDim { get; }

    /// <summary>Lower clamp of ψ.</summary>
    public float MinLogStd { get; }

    /// <summary>Upper clamp of ψ.</summary>
    public float MaxLogStd { get; }

    /// <summary>Whether ψ has a gradient tensor.</summary>
    public bool IsTrainable => logStdGradient is not null;

    // ───────────────────────────── log-density ─────────────────────────────

    /// <summary>log π(a|s) summed over coordinates.</summary>
    /// <param name="mean">μ: [batch, d].</param>
    /// <param name="action">a: [batch, d] (PPO passes the clamped action it executed).</param>
    /// <returns>[batch].</returns>
    public Tensor LogProb(Tensor mean, Tensor action) => Forward(mean, action).LogProb;

    /// <summary>
    /// log π(a_j|s) per coordinate, as PPO stores it for the ratio (the sum over j is <see cref="LogProb"/>).
    /// </summary>
    /// <param name="mean">μ: [batch, d].</param>
    /// <param name="action">a: [batch, d].</param>
    /// <returns>[batch, d].</returns>
    public Tensor LogProbPerCoordinate(Tensor mean, Tensor action) => Forward(mean, action).PerCoordinate;

    /// <summary>
    /// Backward of the latest <see cref="LogProb"/> or <see cref="LogProbPerCoordinate"/>: returns ∂L/∂μ
    /// (overwritten) and accumulates ∂L/∂ψ (zero where ψ is clamped) when the head is trainable.
    /// </summary>
    /// <param name="logProbGradient">∂L/∂log π: [batch] for the summed log-density, or [batch, d] per coordinate.</param>
    /// <returns>∂L/∂μ: [batch, d].</returns>
    public Tensor LogProbBackward(Tensor logProbGradient)
    {
        var w = lastLogProb ?? throw new InvalidOperationException("LogProbBackward needs a LogProb call first");
        DistributionMath.RequireBackend(backend, logProbGradient, nameof(logProbGradient));
        Broadcast broadcast;
        if (logProbGradient.Length == w.Batch) broadcast = Broadcast.Column;
        else if (logProbGradient.Length == w.Batch * ActionDim) broadcast = Broadcast.None;
        else throw new ArgumentException($"log-prob gradient is [{logProbGradient.ShapeText}] but the latest log-prob was [{w.Batch}] (or [{w.Batch}, {ActionDim}] per coordinate)", nameof(logProbGradient));

        // ∂log π/∂μ = z/σ with z = (a − μ)/σ.
        backend.Binary(BinaryOp.Div, w.Standardized, w.Std.Std, w.Scratch, 1f, 1f, Broadcast.Row);
        backend.Binary(BinaryOp.Mul, w.Scratch, logProbGradient, w.MeanGradient, 1f, 1f, broadcast);
        if (logStdGradient is not null)
        {
            // ∂log π/∂log σ_j = z_j² − 1, summed over the batch, zero where ψ_j is clamped.
            backend.Unary(UnaryOp.Square, w.Standardized, w.Scratch);
            backend.Unary(UnaryOp.Affine, w.Scratch, w.Scratch, 1f, -1f);
            backend.Binary(BinaryOp.Mul, w.Scratch, logProbGradient, w.Scratch, 1f, 1f, broadcast);
            backend.Binary(BinaryOp.Mul, w.Scratch, w.Std.PassMask, w.Scratch, 1f, 1f, Broadcast.Row);
            backend.ColumnSum(w.Scratch, logStdGradient, 1f, 1f);
        }
        return w.MeanGradient;
    }

    // ───────────────────────────── entropy ─────────────────────────────

    /// <summary>The entropy H = Σ_j (½ + ½ log 2π + log σ_j), the same for every state: [1].</summary>
    public Tensor Entropy()
    {
        StdForward(entropyStd);
        backend.Sum(entropyStd.LogStd, entropy);
        backend.Unary(UnaryOp.Affine, entropy, entropy, 1f, entropyConstant);
        entropyComputed = true;
        return entropy;
    }

    /// <summary>
    /// Backward of <see cref="Entropy"/>: ∂H/∂ψ_j = 1 inside the clamp, 0 outside; accumulates
    /// <paramref name="entropyGradient"/>·∂H/∂ψ into dψ. For a loss on the mean over states of a per-state
    /// entropy, pass the derivative with respect to that mean (e.g. −0.01 for PPO's entropy bonus).
    /// </summary>
    /// <param name="entropyGradient">∂L/∂H.</param>
    public void EntropyBackward(float entropyGradient)
    {
        if (!entropyComputed) throw new InvalidOperationException("EntropyBackward needs an Entropy call first");
        var gradient = logStdGradient ?? throw new InvalidOperationException("this Gaussian head was built without a log-std gradient tensor (frozen)");
        backend.Binary(BinaryOp.Add, gradient, entropyStd.PassMask, gradient, 1f, entropyGradient);
    }

    // ───────────────────────────── sampling ─────────────────────────────

    /// <summary>
    /// a = μ + σ ⊙ ε, clamped to ±<paramref name="actionLimit"/> when it is finite (PPO acting clamps to
    /// [−1, 1] and scores the clamped action). Not differentiated: neither IQL nor PPO backpropagates
    /// through a sample.
    /// </summary>
    /// <param name="mean">μ: [batch, d].</param>
    /// <param name="noise">ε: [batch, d] standard normal.</param>
    /// <param name="actionLimit">Clamp bound, or +∞ for none.</param>
    /// <returns>[batch, d].</returns>
    public Tensor Sample(Tensor mean, Tensor noise, float actionLimit = float.PositiveInfinity)
    {
        int batch = RequireMean(mean);
        DistributionMath.RequireMatrix(backend, noise, nameof(noise), batch, ActionDim);
        if (!(actionLimit > 0f)) throw new ArgumentOutOfRangeException(nameof(actionLimit), actionLimit, "action limit must be positive");
        if (!sampleBuffers.TryGetValue(batch, out var w))
            sampleBuffers[batch] = w = new SampleBuffers(backend, batch, ActionDim);
        StdForward(w.Std);
        backend.Binary(BinaryOp.Mul, noise, w.Std.Std, w.Action, 1f, 1f, Broadcast.Row);
        backend.Binary(BinaryOp.Add, w.Action, mean, w.Action);
        if (float.IsFinite(actionLimit))
            backend.Unary(UnaryOp.Clamp, w.Action, w.Action, -actionLimit, actionLimit);
        return w.Action;
    }

    // ───────────────────────────── shared pieces ─────────────────────────────

    LogProbBuffers Forward(Tensor mean, Tensor action)
    {
        int batch = RequireMean(mean);
        DistributionMath.RequireMatrix(backend, action, nameof(action), batch, ActionDim);
        if (!logProbBuffers.TryGetValue(batch, out var w))
            logProbBuffers[batch] = w = new LogProbBuffers(backend, batch, ActionDim);
        StdForward(w.Std);
        backend.Binary(BinaryOp.Add, action, mean, w.Standardized, 1f, -1f);
        backend.Binary(BinaryOp.Div, w.Standardized, w.Std.Std, w.Standardized, 1f, 1f, Broadcast.Row);     // z = (a − μ)/σ
        backend.Unary(UnaryOp.Square, w.Standardized, w.PerCoordinate);
        backend.Binary(BinaryOp.Add, w.PerCoordinate, w.Std.LogStd, w.PerCoordinate, -0.5f, -1f, Broadcast.Row); // −½z² − log σ
        backend.Unary(UnaryOp.Affine, w.PerCoordinate, w.PerCoordinate, 1f, logProbConstant);
        backend.RowSum(w.PerCoordinate, w.LogProb);
        lastLogProb = w;
        return w;
    }

    /// <summary>log σ = clamp(ψ), σ = exp(log σ), and the mask (1 inside the clamp) for ψ's gradient.</summary>
    void StdForward(StdBuffers s)
    {
        backend.Unary(UnaryOp.Clamp, logStd, s.LogStd, MinLogStd, MaxLogStd);
        backend.Unary(UnaryOp.Exp, s.LogStd, s.Std);
        DistributionMath.ClampedIndicator(backend, logStd, s.LogStd, s.PassMask);
        backend.Unary(UnaryOp.Affine, s.PassMask, s.PassMask, -1f, 1f);
    }

    int RequireMean(Tensor mean)
    {
        DistributionMath.RequireBackend(backend, mean, nameof(mean));
        if (mean.Cols != ActionDim)
            throw new ArgumentException($"mean is [{mean.ShapeText}] but the Gaussian has {ActionDim} action dimensions", nameof(mean));
        if (mean.Rows < 1) throw new ArgumentException($"mean [{mean.ShapeText}] has no rows", nameof(mean));
        return mean.Rows;
    }

    /// <summary>log σ, σ and the clamp pass mask as of one forward: [d] each.</summary>
    sealed class StdBuffers(Backend backend, int actionDim)
    {
        public readonly Tensor LogStd = backend.Allocate(actionDim), Std = backend.Allocate(actionDim), PassMask = backend.Allocate(actionDim);
    }

    sealed class LogProbBuffers(Backend backend, int batch, int actionDim)
    {
        public readonly int Batch = batch;
        public readonly StdBuffers Std = new(backend, actionDim);
        /// <summary>z, per-coordinate log π, ∂L/∂μ, scratch: [batch, d].</summary>
        public readonly Tensor Standardized = backend.Allocate(batch, actionDim), PerCoordinate = backend.Allocate(batch, actionDim),
            MeanGradient = backend.Allocate(batch, actionDim), Scratch = backend.Allocate(batch, actionDim);
        /// <summary>log π: [batch].</summary>
        public readonly Tensor LogProb = backend.Allocate(batch);
    }

    sealed class SampleBuffers(Backend backend, int batch, int actionDim)
    {
        public readonly StdBuffers Std = new(backend, actionDim);
        public readonly Tensor Action = backend.Allocate(batch, actionDim);
    }
}
