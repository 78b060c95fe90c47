namespace O2RL.Engine;

/// <summary>
/// Adam over one flat parameter buffer (PyTorch defaults β1 = 0.9, β2 = 0.999, ε = 1e-8, no weight decay), with
/// optional global-norm gradient clipping before the step. Its moments persist across training stages.
/// </summary>
public sealed class Adam
{
    readonly Backend backend;

    /// <summary>Adam for a network's parameter set.</summary>
    public Adam(ParameterSet parameters, float learningRate, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f)
        : this(parameters.Values, parameters.Gradients, learningRate, beta1, beta2, epsilon) { }

    /// <summary>Adam for any parameter/gradient pair of equal length.</summary>
    public Adam(Tensor parameters, Tensor gradients, float learningRate, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        if (gradients.Backend != parameters.Backend || gradients.Length != parameters.Length)
            throw new ArgumentException(
                $"Adam: gradients [{gradients.ShapeText}] on {gradients.Backend.Name} must match parameters [{parameters.ShapeText}] on {parameters.Backend.Name}");
        // PyTorch's checks: a β of 1 divides by 1 − β^t = 0 and ε < 0 can divide by zero, so one step would make every
        // parameter NaN.
        CheckSettings(learningRate, beta1, beta2, epsilon);
        backend = parameters.Backend;
        Parameters = parameters;
        Gradients = gradients;
        FirstMoment = backend.Allocate(parameters.Length);
        SecondMoment = backend.Allocate(parameters.Length);
        GradientNorm = backend.Allocate(1);
        LearningRate = learningRate; Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon;
    }

    /// <summary>Parameters updated in place.</summary>
    public Tensor Parameters { get; }
    /// <summary>Gradients read by the step.</summary>
    public Tensor Gradients { get; }
    /// <summary>m.</summary>
    public Tensor FirstMoment { get; }
    /// <summary>v.</summary>
    public Tensor SecondMoment { get; }
    /// <summary>‖g‖ before clipping, written when clipping is on (device scalar).</summary>
    public Tensor GradientNorm { get; }
    /// <summary>Learning rate used by the next step (schedules set it per step); finite and ≥ 0 (0 freezes).</summary>
    public float LearningRate
    {
        get => learningRate;
        set
        {
            CheckLearningRate(value);
            learningRate = value;
        }
    }
    float learningRate;
    /// <summary>β1.</summary>
    public float Beta1 { get; }
    /// <summary>β2.</summary>
    public float Beta2 { get; }
    /// <summary>ε.</summary>
    public float Epsilon { get; }
    /// <summary>Clip the global gradient norm to this before each step (null: no clipping; else finite and &gt; 0).</summary>
    public float? MaxGradientNorm
    {
        get => maxGradientNorm;
        set
        {
            if (value is float norm && !(norm > 0f && float.IsFinite(norm)))
                throw new ArgumentOutOfRangeException(nameof(MaxGradientNorm), norm, "max gradient norm must be finite and > 0 (null turns clipping off)");
            maxGradientNorm = value;
        }
    }
    float? maxGradientNorm;
    /// <summary>Steps taken (t of the bias correction); ≥ 0.</summary>
    public long StepCount
    {
        get => stepCount;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(StepCount));
            stepCount = value;
        }
    }
    long stepCount;

    /// <summary>The settings one Adam step accepts (shared with <see cref="Backend.Adam"/>).</summary>
    internal static void CheckSettings(float learningRate, float beta1, float beta2, float epsilon)
    {
        CheckLearningRate(learningRate);
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "Adam β1 must be in [0, 1)");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "Adam β2 must be in [0, 1)");
        if (!(epsilon >= 0f && float.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Adam ε must be finite and ≥ 0");
    }

    static void CheckLearningRate(float learningRate)
    {
        if (!(learningRate >= 0f && float.IsFinite(learningRate)))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be finite and ≥ 0");
    }

    /// <summary>Clips (if configured) and applies one Adam step.</summary>
    public void Step()
    {
        if (MaxGradientNorm is float maxNorm) backend.ClipGradientNorm(Gradients, maxNorm, GradientNorm);
        StepCount++;
        backend.Adam(Parameters, Gradients, FirstMoment, SecondMoment, LearningRate, Beta1, Beta2, Epsilon, StepCount);
    }

    /// <summary>
    /// <see cref="Step"/>, then θ̄ ← (1 − τ)·θ̄ + τ·θ for <paramref name="target"/>, a copy of these parameters (a
    /// critic's step and its target update; the same results as <see cref="Step"/> then
    /// <see cref="ParameterSet.PolyakFrom"/>, in one launch on ILGPU backends).
    /// </summary>
    public void StepThenPolyak(ParameterSet target, float tau)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Backend != backend || target.Values.Length != Parameters.Length)
            throw new ArgumentException($"Adam: the Polyak target [{target.Values.ShapeText}] on {target.Backend.Name} must match the parameters [{Parameters.ShapeText}] on {backend.Name}");
        if (MaxGradientNorm is float maxNorm) backend.ClipGradientNorm(Gradients, maxNorm, GradientNorm);
        StepCount++;
        backend.AdamThenPolyak(Parameters, Gradients, FirstMoment, SecondMoment, LearningRate, Beta1, Beta2, Epsilon, StepCount, target.Values, tau);
    }
}
