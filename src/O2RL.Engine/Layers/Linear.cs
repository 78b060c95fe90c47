using O2RL.Kernels;

namespace O2RL.Engine;

/// <summary>
/// y = act(x·Wᵀ + b) for one network, or for E stacked members at once (an ensemble: W [E, outDim, inDim],
/// one batched GEMM). Input x: [B, inDim] (shared by all members) or [E, B, inDim]; output [B, outDim]
/// (E = 1) or [E, B, outDim]. The activation is fused into the GEMM epilogue.
/// </summary>
public sealed class Linear : ILayer
{
    readonly Backend backend;
    readonly BufferCache<Buffers> buffers = new();

    sealed class Buffers
    {
        public required Tensor Output, InputGradient;
        /// <summary>δz when this layer applies its own activation's backward (not allocated when the next layer does).</summary>
        public Tensor? OutputGradientScratch;
        public Tensor? SharedInputGradient;
        /// <summary>InputGradient viewed as [E, B·inDim] for the sum over members (made once).</summary>
        public Tensor? InputGradientByMember;
        public Tensor Input = null!;
    }

    /// <summary>Creates the layer on views taken from a parameter set (names <c>{name}.weight</c>, <c>{name}.bias</c>).</summary>
    public Linear(ParameterSet parameters, string name, int inDim, int outDim, Activation activation = Activation.Identity, int members = 1)
    {
        if (inDim < 1 || outDim < 1 || members < 1)
            throw new ArgumentOutOfRangeException(nameof(inDim), $"Linear {name}: inDim {inDim}, outDim {outDim}, members {members} must be positive");
        backend = parameters.Backend;
        InDim = inDim; OutDim = outDim; Members = members; Activation = activation; Name = name;
        int[] weightShape = members == 1 ? [outDim, inDim] : [members, outDim, inDim];
        int[] biasShape = members == 1 ? [outDim] : [members, outDim];
        (Weight, WeightGradient) = parameters.Take(name + ".weight", weightShape);
        (Bias, BiasGradient) = parameters.Take(name + ".bias", biasShape);
    }

    /// <summary>Number of scalars a layer of this shape takes from a parameter set.</summary>
    public static int ParameterCount(int inDim, int outDim, int members = 1) => members * (outDim * inDim + outDim);

    /// <summary>Parameter name prefix.</summary>
    public string Name { get; }
    /// <summary>Input features.</summary>
    public int InDim { get; }
    /// <summary>Output features.</summary>
    public int OutDim { get; }
    /// <summary>Ensemble members (1 for a plain layer).</summary>
    public int Members { get; }
    /// <summary>Fused output activation.</summary>
    public Activation Activation { get; }
    /// <summary>W: [outDim, inDim] or [E, outDim, inDim].</summary>
    public Tensor Weight { get; }
    /// <summary>b: [outDim] or [E, outDim].</summary>
    public Tensor Bias { get; }
    /// <summary>∂L/∂W, accumulated.</summary>
    public Tensor WeightGradient { get; }
    /// <summary>∂L/∂b, accumulated.</summary>
    public Tensor BiasGradient { get; }

    /// <summary>The activation whose output this layer's input is, when its backward is fused into this layer's input gradient.</summary>
    Activation inputActivation = Activation.Identity;
    /// <summary>True when the next layer's input gradient already comes multiplied by act′ of this layer's output.</summary>
    bool outputGradientIsPreActivation;

    /// <summary>
    /// Chains this layer after <paramref name="previous"/>, whose output is always this layer's input (as in an
    /// <see cref="Mlp"/> without LayerNorm): this layer's input gradient δz·W is then computed with the previous
    /// activation's backward in the GEMM's store, (δz·W) ⊙ act′(x), and the previous layer takes the gradient it
    /// receives as its pre-activation gradient. One pass over three [B, hidden] arrays less per hidden layer; the
    /// same numbers as ActivationBackward after the GEMM. Only valid when the two layers' backwards run in
    /// sequence on the same slot, as <see cref="Mlp.Backward"/> runs them.
    /// </summary>
    internal void FuseInputActivationBackward(Linear previous)
    {
        if (previous.OutDim != InDim || previous.Members != Members)
            throw new ArgumentException($"Linear {Name} [{InDim} in, {Members} members] cannot follow {previous.Name} [{previous.OutDim} out, {previous.Members} members]");
        if (previous.Activation == Activation.Identity) return;
        inputActivation = previous.Activation;
        previous.outputGradientIsPreActivation = true;
    }

    /// <summary>
    /// <see cref="FuseInputActivationBackward(Linear)"/> for an <see cref="Mlp"/> with LayerNorm: this layer's input
    /// is <paramref name="previous"/>'s output act(LayerNorm(·)), so the input-gradient GEMM's store applies act′ of
    /// it, and the LayerNorm backward receives the gradient before the activation.
    /// </summary>
    internal void FuseInputActivationBackward(LayerNormLayer previous)
    {
        if (previous.Features != InDim || previous.Members != Members)
            throw new ArgumentException($"Linear {Name} [{InDim} in, {Members} members] cannot follow LayerNorm {previous.Name} [{previous.Features} features, {previous.Members} members]");
        if (previous.Activation == Activation.Identity) return;
        inputActivation = previous.Activation;
        previous.TakePreActivationGradient();
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor input, int slot = 0)
    {
        int batch = BatchOf(input);
        if (!buffers.TryGet(slot, batch, out var b))
        {
            b = Create(batch, input.Rank == 2 && Members > 1);
            buffers.Add(slot, batch, b);
        }
        b.Input = input;
        backend.Gemm(input, false, Weight, true, b.Output, bias: Bias, activation: Activation);
        return b.Output;
    }

    /// <inheritdoc/>
    public Tensor? Backward(Tensor outputGradient, int slot = 0, bool needInputGradient = true, bool accumulateParameterGradients = true)
    {
        var b = buffers.Last(slot, Name);
        LayerChecks.OutputGradient("Linear", Name, b.Output, outputGradient);
        // δz = δy ⊙ act′(y): the pre-activation gradient (already so when the next layer fused it into its store).
        Tensor dz = outputGradient;
        if (Activation != Activation.Identity && !outputGradientIsPreActivation)
        {
            dz = b.OutputGradientScratch!;
            backend.ActivationBackward(Activation, b.Output, outputGradient, dz);
        }
        var inputGradient = inputActivation == Activation.Identity
            ? new GemmRequest(dz, false, Weight, false, b.InputGradient)                                     // dx = δz·W
            : new GemmRequest(dz, false, Weight, false, b.InputGradient,                                     // δz_prev = (δz·W) ⊙ act′(x)
                Activation: inputActivation, ActivationOutput: b.Input);
        if (accumulateParameterGradients)
        {
            var weightGradient = new GemmRequest(dz, true, b.Input, false, WeightGradient, Beta: 1f);     // dW += δzᵀ·x
            var biasGradient = new ColumnSumRequest(dz, BiasGradient, Beta: 1f);                         // db += Σ_batch δz
            // Independent of each other: the CPU backend runs the GEMM pair side by side, ILGPU all three in one launch.
            backend.GemmPairAndColumnSum(weightGradient, needInputGradient ? inputGradient : null, biasGradient);
        }
        else if (needInputGradient)
        {
            backend.Gemm(inputGradient);
        }
        if (!needInputGradient) return null;
        if (b.SharedInputGradient is null) return b.InputGradient;
        // A shared input fed every member: its gradient is the sum over members.
        b.InputGradientByMember ??= b.InputGradient.Reshape(Members, b.SharedInputGradient.Length);
        backend.ColumnSum(b.InputGradientByMember, b.SharedInputGradient);
        return b.SharedInputGradient;
    }

    int BatchOf(Tensor input)
    {
        if (input.Cols != InDim)
            throw new ArgumentException($"Linear {Name}: input [{input.ShapeText}] has {input.Cols} features, expected {InDim}");
        if (input.Rank == 2) return input.Rows;
        if (input.Rank == 3 && input.Shape[0] == Members) return input.Shape[1];
        throw new ArgumentException($"Linear {Name}: input [{input.ShapeText}] must be [B, {InDim}] or [{Members}, B, {InDim}]");
    }

    Buffers Create(int batch, bool sharedInput)
    {
        int[] outShape = Members == 1 ? [batch, OutDim] : [Members, batch, OutDim];
        int[] inShape = Members == 1 ? [batch, InDim] : [Members, batch, InDim];
        return new Buffers
        {
            Output = backend.Allocate(outShape),
            OutputGradientScratch = Activation != Activation.Identity && !outputGradientIsPreActivation ? backend.Allocate(outShape) : null,
            InputGradient = backend.Allocate(inShape),
            SharedInputGradient = sharedInput ? backend.Allocate(batch, InDim) : null,
        };
    }
}
