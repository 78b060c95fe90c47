using O2RL.Kernels;

namespace O2RL.Engine.Distributions;

/// <summary>
/// Noise around the deterministic (TD3 / TD3+BC) actor. The actor's action μ = tanh(f(s)) is the network's
/// own tanh output activation, so this class only adds the noise TD3 uses:
/// <code>a = clamp(μ + clamp(σ·ε, −c, c), −L, L)</code>
/// Target-policy smoothing and the alignment noise use σ = 0.2, c = 0.5, L = 1; exploration uses σ_e with no
/// noise clip and no action clamp (c = L = +∞, the faithful unclipped executed action).
/// </summary>
/// <remarks>
/// A fixed sequence of <see cref="Backend"/> ops on buffers allocated on the first call with a batch size.
/// The returned tensors belong to this object and are overwritten by the next call with that batch size.
/// </remarks>
public sealed class DeterministicTanh
{
    readonly Backend backend;
    readonly Dictionary<int, Buffers> buffers = [];
    Buffers? last;

    /// <summary>Noise helper for actions of <paramref name="actionDim"/> dimensions.</summary>
    public DeterministicTanh(Backend backend, int actionDim)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (actionDim < 1) throw new ArgumentOutOfRangeException(nameof(actionDim), actionDim, "action dimension must be at least 1");
        this.backend = backend;
        ActionDim = actionDim;
    }

    /// <summary>d.</summary>
    public int ActionDim { get; }

    /// <summary>a = clamp(μ + clamp(σ·ε, −c, c), −L, L).</summary>
    /// <param name="mean">μ: [batch, d], the actor's tanh output.</param>
    /// <param name="noise">ε: [batch, d] standard normal.</param>
    /// <param name="noiseStd">σ ≥ 0.</param>
    /// <param name="noiseClip">c &gt; 0, or +∞ for no noise clip.</param>
    /// <param name="actionLimit">L &gt; 0, or +∞ for no action clamp.</param>
    /// <returns>[batch, d].</returns>
    /// <param name="drawNoiseFrom">When given, ε is drawn into <paramref name="noise"/> from this stream first, in the same launch on ILGPU backends.</param>
    public Tensor NoisyAction(Tensor mean, Tensor noise, float noiseStd, float noiseClip = float.PositiveInfinity, float actionLimit = float.PositiveInfinity,
        DeviceRandom? drawNoiseFrom = null)
    {
        DistributionMath.RequireBackend(backend, mean, nameof(mean));
        if (mean.Cols != ActionDim || mean.Rows < 1)
            throw new ArgumentException($"mean is [{mean.ShapeText}] but [batch ≥ 1, {ActionDim}] was expected", nameof(mean));
        int batch = mean.Rows;
        DistributionMath.RequireMatrix(backend, noise, nameof(noise), batch, ActionDim);
        if (!(noiseStd >= 0f) || float.IsInfinity(noiseStd)) throw new ArgumentOutOfRangeException(nameof(noiseStd), noiseStd, "noise std must be finite and non-negative");
        if (!(noiseClip > 0f)) throw new ArgumentOutOfRangeException(nameof(noiseClip), noiseClip, "noise clip must be positive (+∞ for none)");
        if (!(actionLimit > 0f)) throw new ArgumentOutOfRangeException(nameof(actionLimit), actionLimit, "action limit must be positive (+∞ for none)");
        if (!buffers.TryGetValue(batch, out var w))
            buffers[batch] = w = new Buffers(backend, batch, ActionDim);

        w.Clamped = float.IsFinite(actionLimit);
        if (drawNoiseFrom is not null)
        {
            backend.NoisyAction(mean, noise, drawNoiseFrom.Take(noise.Length), noiseStd, noiseClip, actionLimit, w.Noise, w.PreClamp, w.Action);
        }
        else
        {
            backend.Unary(UnaryOp.Affine, noise, w.Noise, noiseStd, 0f);
            if (float.IsFinite(noiseClip)) backend.Unary(UnaryOp.Clamp, w.Noise, w.Noise, -noiseClip, noiseClip);
            backend.Binary(BinaryOp.Add, mean, w.Noise, w.PreClamp);
            if (w.Clamped) backend.Unary(UnaryOp.Clamp, w.PreClamp, w.Action, -actionLimit, actionLimit);
            else backend.Copy(w.PreClamp, w.Action);
        }
        last = w;
        return w.Action;
    }

    /// <summary>
    /// Backward of the latest <see cref="NoisyAction"/> with respect to the mean: ∂a/∂μ = 1 where the action
    /// clamp is inactive, 0 where it clamped (the noise is a constant).
    /// </summary>
    /// <param name="actionGradient">∂L/∂a: [batch, d].</param>
    /// <returns>∂L/∂μ: [batch, d] (overwritten).</returns>
    public Tensor NoisyActionBackward(Tensor actionGradient)
    {
        var w = last ?? throw new InvalidOperationException("NoisyActionBackward needs a NoisyAction call first");
        DistributionMath.RequireMatrix(backend, actionGradient, nameof(actionGradient), w.Batch, ActionDim);
        if (!w.Clamped)
        {
            backend.Copy(actionGradient, w.MeanGradient);
            return w.MeanGradient;
        }
        DistributionMath.ClampedIndicator(backend, w.PreClamp, w.Action, w.Scratch);
        backend.Select(w.Scratch, w.Zeros, actionGradient, w.MeanGradient);
        return w.MeanGradient;
    }

    sealed class Buffers(Backend backend, int batch, int actionDim)
    {
        public readonly int Batch = batch;
        /// <summary>Clipped scaled noise, μ + noise, a, ∂L/∂μ, scratch, zeros (never written): [batch, d].</summary>
        public readonly Tensor Noise = backend.Allocate(batch, actionDim), PreClamp = backend.Allocate(batch, actionDim),
            Action = backend.Allocate(batch, actionDim), MeanGradient = backend.Allocate(batch, actionDim),
            Scratch = backend.Allocate(batch, actionDim), Zeros = backend.Allocate(batch, actionDim);
        /// <summary>Whether the latest forward clamped the action.</summary>
        public bool Clamped;
    }
}
