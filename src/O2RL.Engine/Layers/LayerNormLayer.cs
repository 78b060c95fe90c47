using O2RL.Kernels;

namespace O2RL.Engine;

/// <summary>
/// LayerNorm over the feature axis with learnable gain γ (init 1) and bias β (init 0), ε = 1e-5, placed after a
/// Linear and before its activation. For an ensemble, γ and β are [E, features] and input is [E, B, features].
/// With an <see cref="Activation"/> the layer also applies the activation that follows it, in the same pass
/// (y = act(LayerNorm(x))), as <see cref="Mlp"/> builds it.
/// </summary>
public sealed class LayerNormLayer : ILayer
{
    readonly Backend backend;
    readonly BufferCache<Buffers> buffers = new();

    sealed class Buffers
    {
        public required Tensor Output, Mean, InverseStd, InputGradient;
        public Tensor Input = null!;
        /// <summary>∂L/∂ of the pre-activation output, when this layer applies its activation's backward itself.</summary>
        public Tensor? PreActivationGradient;
    }

    /// <summary>
    /// Creates the layer on views named <c>{name}.weight</c> (γ) and <c>{name}.bias</c> (β); <paramref name="activation"/>
    /// (identity, ReLU or tanh) is applied to the output in the same pass.
    /// </summary>
    public LayerNormLayer(ParameterSet parameters, string name, int features, int members = 1, float epsilon = 1e-5f,
        Activation activation = Activation.Identity)
    {
        if (activation is not (Activation.Identity or Activation.Relu or Activation.Tanh))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "LayerNorm fuses identity, ReLU or tanh");
        backend = parameters.Backend;
        Name = name; Features = features; Members = members; Epsilon = epsilon; Activation = activation;
        int[] shape = members == 1 ? [features] : [members, features];
        (Gain, GainGradient) = parameters.Take(name + ".weight", shape);
        (Shift, ShiftGradient) = parameters.Take(name + ".bias", shape);
        backend.Fill(Gain, 1f);
    }

    /// <summary>Number of scalars taken from a parameter set.</summary>
    public static int ParameterCount(int features, int members = 1) => 2 * members * features;

    Tensor? discardedGain, discardedShift;

    /// <summary>Parameter name prefix.</summary>
    public string Name { get; }
    /// <summary>Normalised features.</summary>
    public int Features { get; }
    /// <summary>Ensemble members.</summary>
    public int Members { get; }
    /// <summary>The activation applied to the normalised output (identity: none).</summary>
    public Activation Activation { get; }

    /// <summary>True when the next layer's input gradient already comes multiplied by act′ of this layer's output.</summary>
    bool outputGradientIsPreActivation;

    /// <summary>
    /// Called by the next <see cref="Linear"/> when it applies this layer's activation backward in its input-gradient
    /// GEMM (see <see cref="Linear.FuseInputActivationBackward(LayerNormLayer)"/>): the gradient this layer then
    /// receives is with respect to the LayerNorm output before the activation.
    /// </summary>
    internal void TakePreActivationGradient() => outputGradientIsPreActivation = true;

    /// <summary>Variance floor ε.</summary>
    public float Epsilon { get; }
    /// <summary>γ.</summary>
    public Tensor Gain { get; }
    /// <summary>β.</summary>
    public Tensor Shift { get; }
    /// <summary>∂L/∂γ, accumulated.</summary>
    public Tensor GainGradient { get; }
    /// <summary>∂L/∂β, accumulated.</summary>
    public Tensor ShiftGradient { get; }

    /// <inheritdoc/>
    public Tensor Forward(Tensor input, int slot = 0)
    {
        if (input.Cols != Features) throw new ArgumentException($"LayerNorm {Name}: input [{input.ShapeText}] has {input.Cols} features, expected {Features}");
        int rows = input.Rows;
        if (!buffers.TryGet(slot, rows, out var b))
        {
            b = new Buffers
            {
                Output = backend.Allocate(input.Shape),
                Mean = backend.Allocate(rows),
                InverseStd = backend.Allocate(rows),
                InputGradient = backend.Allocate(input.Shape),
            };
            buffers.Add(slot, rows, b);
        }
        b.Input = input;
        backend.LayerNormForward(input, Gain, Shift, b.Output, b.Mean, b.InverseStd, Epsilon, Activation);
        return b.Output;
    }

    /// <inheritdoc/>
    public Tensor? Backward(Tensor outputGradient, int slot = 0, bool needInputGradient = true, bool accumulateParameterGradients = true)
    {
        var b = buffers.Last(slot, Name);
        LayerChecks.OutputGradient("LayerNorm", Name, b.Output, outputGradient);
        // The kernel computes dx together with dγ, dβ (cheap); when this network must not learn from the loss,
        // dγ and dβ go to a scratch pair instead.
        if (!accumulateParameterGradients)
        {
            discardedGain ??= backend.Allocate(Gain.Shape);
            discardedShift ??= backend.Allocate(Shift.Shape);
        }
        // δz = δy ⊙ act′(y) unless the next layer's GEMM already applied it.
        if (Activation != Activation.Identity && !outputGradientIsPreActivation)
        {
            b.PreActivationGradient ??= backend.Allocate(b.Output.Shape);
            backend.ActivationBackward(Activation, b.Output, outputGradient, b.PreActivationGradient);
            outputGradient = b.PreActivationGradient;
        }
        backend.LayerNormBackward(b.Input, outputGradient, Gain, b.Mean, b.InverseStd, b.InputGradient,
            accumulateParameterGradients ? GainGradient : discardedGain!, accumulateParameterGradients ? ShiftGradient : discardedShift!);
        return needInputGradient ? b.InputGradient : null;
    }
}

/// <summary>A parameter-free activation layer (used after LayerNorm, where it cannot be fused into the GEMM).</summary>
public sealed class ActivationLayer : ILayer
{
    readonly Backend backend;
    readonly BufferCache<Buffers> buffers = new();

    sealed class Buffers
    {
        public required Tensor Output, InputGradient;
    }

    /// <summary>Creates the layer.</summary>
    public ActivationLayer(Backend backend, O2RL.Kernels.Activation activation)
    {
        this.backend = backend;
        Activation = activation;
        name = $"activation {activation}";
    }

    readonly string name;

    /// <summary>The nonlinearity.</summary>
    public O2RL.Kernels.Activation Activation { get; }

    /// <inheritdoc/>
    public Tensor Forward(Tensor input, int slot = 0)
    {
        if (!buffers.TryGet(slot, input.Length, out var b))
        {
            b = new Buffers { Output = backend.Allocate(input.Shape), InputGradient = backend.Allocate(input.Shape) };
            buffers.Add(slot, input.Length, b);
        }
        backend.ActivationForward(Activation, input, b.Output);
        return b.Output;
    }

    /// <inheritdoc/>
    public Tensor? Backward(Tensor outputGradient, int slot = 0, bool needInputGradient = true, bool accumulateParameterGradients = true)
    {
        var b = buffers.Last(slot, name);
        LayerChecks.OutputGradient("Activation", name, b.Output, outputGradient);
        if (!needInputGradient) return null;
        backend.ActivationBackward(Activation, b.Output, outputGradient, b.InputGradient);
        return b.InputGradient;
    }
}
