using O2RL.Algorithms.Training;
using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Algorithms.FineTuning;

/// <summary>
/// The Lagrange multiplier λ = exp(ℓ) of constrained fine-tuning (ALGORITHMS.md §1.4–§1.5). Parameterising λ by
/// ℓ keeps it positive. The dual step weights the per-element slacks u_i = ε_t − Div_i asymmetrically:
/// c(u) = 1 − τ_λ (0.3) where the constraint holds (u &gt; 0) and τ_λ (0.7) where it is violated, so λ rises
/// about 2.33 times faster than it falls. The weighted mean w = mean c(u)·u is a constant, loss_λ = λ·w, and
/// ∂loss_λ/∂ℓ = λ·w: a violated constraint (w &lt; 0) makes the Adam step raise ℓ.
/// </summary>
public sealed class LagrangeMultiplier
{
    /// <summary>The release's fixed learning rate of log λ (not a config value).</summary>
    public const float DefaultLearningRate = 5e-5f;
    /// <summary>τ_λ ("loss_tau"), the weight of violated elements.</summary>
    public const float DefaultTau = 0.7f;

    readonly Backend backend;
    readonly Tensor gradient, weightedSlack, threshold;

    /// <summary>Allocates ℓ = ln λ₀ and the scratch for <paramref name="slackCount"/> slack elements per dual step.</summary>
    /// <param name="backend">Device.</param>
    /// <param name="slackCount">Elements per <see cref="DualGradient"/> call: batch size (SAC) or batch × action dim (TD3).</param>
    /// <param name="initialLambda">λ₀ &gt; 0 (1.0; 2.0 for O2SAC on antmaze-medium/large).</param>
    /// <param name="learningRate">Adam learning rate of ℓ.</param>
    /// <param name="tau">τ_λ in (0, 1).</param>
    public LagrangeMultiplier(Backend backend, int slackCount, float initialLambda = 1f, float learningRate = DefaultLearningRate, float tau = DefaultTau)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (slackCount < 1) throw new ArgumentOutOfRangeException(nameof(slackCount), slackCount, "need at least one slack element");
        if (!(initialLambda > 0f) || !float.IsFinite(initialLambda))
            throw new ArgumentOutOfRangeException(nameof(initialLambda), initialLambda, "λ₀ must be positive and finite (λ = exp ℓ)");
        if (!(tau > 0f && tau < 1f)) throw new ArgumentOutOfRangeException(nameof(tau), tau, "τ_λ must lie in (0, 1)");
        if (!(learningRate >= 0f) || !float.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be finite and non-negative");
        this.backend = backend;
        SlackCount = slackCount;
        Tau = tau;
        LogLambda = backend.FromArray([MathF.Log(initialLambda)], 1);
        gradient = backend.Allocate(1);
        Lambda = backend.Allocate(1);
        Loss = backend.Allocate(1);
        Weight = backend.Allocate(1);
        weightedSlack = backend.Allocate(slackCount);
        threshold = backend.Allocate(1);
        Optimizer = new Adam(LogLambda, gradient, learningRate);
        Refresh();
    }

    /// <summary>Elements per dual step.</summary>
    public int SlackCount { get; }
    /// <summary>τ_λ.</summary>
    public float Tau { get; }
    /// <summary>ℓ = ln λ: [1]. The only trainable value.</summary>
    public Tensor LogLambda { get; }
    /// <summary>λ = exp(ℓ) as of the last <see cref="Refresh"/>: [1], a <see cref="Broadcast.Scalar"/> operand for the losses.</summary>
    public Tensor Lambda { get; }
    /// <summary>loss_λ = λ·w of the last <see cref="DualGradient"/>: [1] (for logging).</summary>
    public Tensor Loss { get; }
    /// <summary>w = mean c(u)·u of the last <see cref="DualGradient"/>: [1] (negative = constraint violated on weighted average).</summary>
    public Tensor Weight { get; }
    /// <summary>The Adam optimiser of ℓ (kept across stages).</summary>
    public Adam Optimizer { get; }

    /// <summary>λ ← exp(ℓ). Call once at the start of an update so every loss of that update sees the pre-step λ.</summary>
    public void Refresh() => backend.Unary(UnaryOp.Exp, LogLambda, Lambda);

    /// <summary>
    /// Forms the dual gradient from per-element divergences: u = ε − Div, w = mean c(u)·u, ∂/∂ℓ = λ·w with λ from
    /// the last <see cref="Refresh"/>. c(u)·u is written as (1 − τ)·u + (2τ − 1)·min(u, 0), which is (1 − τ)u for
    /// u &gt; 0 and τu otherwise, so no branch or mask is needed.
    /// </summary>
    /// <param name="divergence">Div_i: [<see cref="SlackCount"/>] (any shape with that many elements).</param>
    /// <param name="threshold">ε_t from the schedule.</param>
    public void DualGradient(Tensor divergence, float threshold)
    {
        ArgumentNullException.ThrowIfNull(divergence);
        if (divergence.Length != SlackCount)
            throw new ArgumentException($"divergence has {divergence.Length} elements, the multiplier was built for {SlackCount}", nameof(divergence));
        if (!float.IsFinite(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "ε_t must be finite");
        // u = ε − Div (the scratch holds min(u, 0) next). ε_t changes every step and enters as a device scalar, so a
        // graphed update (GraphedStep) reads the current one.
        backend.Fill(this.threshold, threshold);
        backend.Binary(BinaryOp.Add, divergence, this.threshold, weightedSlack, -1f, 1f, Broadcast.Scalar);
        // c(u)·u summed: (1 − τ)·Σu + (2τ − 1)·Σ min(u, 0). Σu first, into Weight.
        backend.Sum(weightedSlack, Weight, (1f - Tau) / SlackCount);
        backend.Unary(UnaryOp.Clamp, weightedSlack, weightedSlack, float.NegativeInfinity, 0f);
        backend.Sum(weightedSlack, gradient, (2f * Tau - 1f) / SlackCount);
        backend.Binary(BinaryOp.Add, Weight, gradient, Weight);
        // ∂(λ·w)/∂ℓ = λ·w = loss_λ.
        backend.Binary(BinaryOp.Mul, Lambda, Weight, Loss);
        backend.Copy(Loss, gradient);
    }

    /// <summary>One Adam step on ℓ with the gradient of the last <see cref="DualGradient"/>.</summary>
    public void Step() => Optimizer.Step();

    /// <summary>
    /// Adds ℓ, its Adam, and the λ, loss and weight of the last update (what the next log reports before any update)
    /// to a training state under <paramref name="name"/>.
    /// </summary>
    public void SaveState(TrainingState state, string name) => Map(TrainingStateMap.Saving(state), name);

    /// <summary>Restores what <see cref="SaveState"/> stored under <paramref name="name"/>.</summary>
    public void RestoreState(TrainingState state, string name) => Map(TrainingStateMap.Restoring(state), name);

    /// <summary>The multiplier's state entries under <paramref name="name"/>, in the map's direction.</summary>
    public void Map(TrainingStateMap map, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        map.Tensor(name + ".log_lambda", LogLambda);
        map.Tensor(name + ".lambda", Lambda);
        map.Tensor(name + ".loss", Loss);
        map.Tensor(name + ".weight", Weight);
        map.Adam(name + ".optimizer", Optimizer);
    }

    /// <summary>Reads λ = exp(ℓ) back to the host (logging only; never inside an update).</summary>
    public float ReadLambda() => MathF.Exp(backend.ReadScalar(LogLambda));
}
