using O2RL.Engine;

namespace O2RL.Algorithms.Networks;

/// <summary>
/// E critics Q_e(s, a) over concat(s, a) run as one <see cref="Ensemble"/> (batched GEMMs): twin critics are
/// E = 2. Forward returns [E, B]; Backward returns ∂L/∂a (the pathwise gradient into an actor) when asked.
/// Parameter names follow CORL's critics: <c>network.{i}.weight</c> with a leading member axis.
/// </summary>
public sealed class QEnsemble
{
    readonly Backend backend;
    readonly Dictionary<(int Slot, int Batch), Buffers> buffers = [];
    readonly Dictionary<int, Buffers> lastBySlot = [];

    sealed class Buffers(Backend backend, int batch, int obsDim, int actionDim, int members)
    {
        public readonly Tensor Input = backend.Allocate(batch, obsDim + actionDim);
        public readonly Tensor ActionGradient = backend.Allocate(batch, actionDim);
        public readonly int Batch = batch;
        public Tensor OutputView = null!;
        public Tensor? GradientSource, GradientView;
        public readonly int Members = members;
    }

    /// <summary>Builds E critics with orthogonal (gain 1) init and zero biases, the generic MLP of ALGORITHMS.md §2.1.</summary>
    public QEnsemble(Backend backend, int obsDim, int actionDim, int[] hiddenDims, bool layerNorm, int members, ulong seed, string namePrefix = "network")
    {
        this.backend = backend;
        ObsDim = obsDim; ActionDim = actionDim; Members = members;
        var spec = new MlpSpec(obsDim + actionDim, hiddenDims, 1)
        {
            LayerNorm = layerNorm,
            HiddenInit = new LayerInit(InitScheme.Orthogonal, 1f),
            OutputInit = new LayerInit(InitScheme.Orthogonal, 1f),
            NamePrefix = namePrefix,
        };
        Network = new Ensemble(backend, spec, members, seed);
    }

    /// <summary>The stacked networks.</summary>
    public Ensemble Network { get; }
    /// <summary>Flat parameters/gradients of all members.</summary>
    public ParameterSet Parameters => Network.Parameters;
    /// <summary>State features.</summary>
    public int ObsDim { get; }
    /// <summary>Action features.</summary>
    public int ActionDim { get; }
    /// <summary>E.</summary>
    public int Members { get; }

    /// <summary>Q_e(s, a) for every member: [E, B]. Valid until the next forward in the slot.</summary>
    public Tensor Forward(Tensor observations, Tensor actions, int slot = 0)
    {
        int batch = observations.Rows;
        if (observations.Cols != ObsDim || actions.Cols != ActionDim || actions.Rows != batch)
            throw new ArgumentException($"critic expects observations [B, {ObsDim}] and actions [B, {ActionDim}], got [{observations.ShapeText}] and [{actions.ShapeText}]");
        if (!buffers.TryGetValue((slot, batch), out var b))
            buffers[(slot, batch)] = b = new Buffers(backend, batch, ObsDim, ActionDim, Members);
        lastBySlot[slot] = b;
        backend.ConcatColumns(observations, actions, b.Input);                 // [s | a]
        var output = Network.Forward(b.Input, slot);
        if (b.OutputView is null || b.OutputView.Storage != output.Storage || b.OutputView.Offset != output.Offset)
            b.OutputView = output.Reshape(Members, batch);
        return b.OutputView;
    }

    /// <summary>
    /// Accumulates parameter gradients for ∂L/∂Q ([E, B]) of the slot's last forward and returns ∂L/∂a [B, d]
    /// summed over members when <paramref name="needActionGradient"/>. An actor loss passes
    /// <paramref name="accumulateParameterGradients"/> = false: the critics are not trained by it, so their
    /// weight-gradient GEMMs are skipped.
    /// </summary>
    public Tensor? Backward(Tensor qGradient, int slot = 0, bool needActionGradient = false, bool accumulateParameterGradients = true)
    {
        var b = lastBySlot.TryGetValue(slot, out var found) ? found
            : throw new InvalidOperationException($"critic backward in slot {slot} without a forward pass");
        if (qGradient.Length != Members * b.Batch)
            throw new ArgumentException($"critic gradient must have {Members}×{b.Batch} elements, got [{qGradient.ShapeText}]");
        // The ensemble wants [E, B, 1]; keep the reshaped view of the caller's tensor (callers reuse their buffers).
        if (!ReferenceEquals(b.GradientSource, qGradient))
        {
            b.GradientSource = qGradient;
            b.GradientView = qGradient.Reshape(Members, b.Batch, 1);
        }
        var inputGradient = Network.Backward(b.GradientView!, slot, needActionGradient, accumulateParameterGradients);
        if (!needActionGradient) return null;
        backend.CopyColumns(inputGradient!, ObsDim, b.ActionGradient, 0, ActionDim);
        return b.ActionGradient;
    }
}
