using O2RL.Kernels;

namespace O2RL.Engine;

/// <summary>
/// The generic MLP block of ALGORITHMS.md §2.1: for each hidden width, Linear → (LayerNorm) → activation; then
/// a final Linear with an optional output activation. Parameter names follow PyTorch's nn.Sequential numbering
/// under <see cref="NamePrefix"/> (e.g. net.0.weight, net.1.weight for LayerNorm γ, net.3.weight …).
/// </summary>
public sealed record MlpSpec(int InDim, int[] HiddenDims, int OutDim)
{
    /// <summary>Activation after each hidden layer (ReLU, or Tanh for the PPO value net).</summary>
    public Activation HiddenActivation { get; init; } = Activation.Relu;
    /// <summary>Activation on the output (Tanh for deterministic and Gaussian actor means).</summary>
    public Activation OutputActivation { get; init; } = Activation.Identity;
    /// <summary>LayerNorm after each hidden Linear, before the activation.</summary>
    public bool LayerNorm { get; init; }
    /// <summary>Initialisation of the hidden Linear layers.</summary>
    public LayerInit HiddenInit { get; init; } = LayerInit.Default;
    /// <summary>Initialisation of the final Linear layer.</summary>
    public LayerInit OutputInit { get; init; } = LayerInit.Default;
    /// <summary>Prefix of parameter names.</summary>
    public string NamePrefix { get; init; } = "net";
    /// <summary>Extra trainable tensors stored after the layers in the same flat buffer (e.g. a state-independent
    /// log-std vector, or the log-std multiplier/offset scalars of the tanh-Gaussian actor).</summary>
    public ExtraParameter[] Extras { get; init; } = [];

    /// <summary>Checks dimensions.</summary>
    public void Validate()
    {
        if (HiddenDims is null) throw new ArgumentException("MlpSpec.HiddenDims is null; use [] for a network without hidden layers");
        if (InDim < 1 || OutDim < 1 || HiddenDims.Any(h => h < 1))
            throw new ArgumentException($"MLP dimensions must be positive: in {InDim}, hidden [{string.Join(", ", HiddenDims)}], out {OutDim}");
    }
}

/// <summary>A named trainable tensor that is not part of a layer, with its initial value.</summary>
public sealed record ExtraParameter(string Name, int[] Shape, float InitialValue);

/// <summary>
/// An MLP with one flat parameter buffer and explicit forward/backward. With <c>members</c> &gt; 1 it is an
/// ensemble of identically shaped networks run by batched GEMMs (see <see cref="Ensemble"/>).
/// </summary>
public class Mlp
{
    readonly ILayer[] layers;

    /// <summary>Builds and initialises the network (seeded, deterministic).</summary>
    public Mlp(Backend backend, MlpSpec spec, ulong seed, int members = 1)
    {
        spec.Validate();
        if (members < 1) throw new ArgumentOutOfRangeException(nameof(members), members, "an ensemble needs at least one member");
        Spec = spec;
        Members = members;
        Parameters = new ParameterSet(backend, CountParameters(spec, members));
        var random = new HostRandom(seed);
        var list = new List<ILayer>();
        var linears = new List<Linear>();
        // The layer whose output feeds each Linear after the first (the previous Linear, or its LayerNorm).
        var feeding = new List<ILayer>();
        int moduleIndex = 0, inDim = spec.InDim;
        foreach (int hidden in spec.HiddenDims)
        {
            var fused = spec.LayerNorm ? Activation.Identity : spec.HiddenActivation;
            var linear = new Linear(Parameters, $"{spec.NamePrefix}.{moduleIndex++}", inDim, hidden, fused, members);
            Initializers.Apply(linear, spec.HiddenInit, random);
            list.Add(linear);
            linears.Add(linear);
            ILayer last = linear;
            if (spec.LayerNorm)
            {
                // Fused: the LayerNorm pass applies the activation (no separate activation layer).
                var layerNorm = new LayerNormLayer(Parameters, $"{spec.NamePrefix}.{moduleIndex++}", hidden, members,
                    activation: FuseActivationBackward ? spec.HiddenActivation : Activation.Identity);
                list.Add(layerNorm);
                last = layerNorm;
                if (!FuseActivationBackward)
                {
                    var activationLayer = new ActivationLayer(backend, spec.HiddenActivation);
                    list.Add(activationLayer);
                    last = activationLayer;
                }
            }
            feeding.Add(last);
            moduleIndex++; // the activation module has an index but no parameters
            inDim = hidden;
        }
        var output = new Linear(Parameters, $"{spec.NamePrefix}.{moduleIndex}", inDim, spec.OutDim, spec.OutputActivation, members);
        Initializers.Apply(output, spec.OutputInit, random);
        list.Add(output);
        linears.Add(output);
        // Each hidden activation's backward goes into the next layer's input-gradient GEMM (see
        // Linear.FuseInputActivationBackward): the activation sits between two Linears, or ends a LayerNorm pass.
        if (FuseActivationBackward)
            for (int i = 1; i < linears.Count; i++)
            {
                if (feeding[i - 1] is LayerNormLayer layerNorm) linears[i].FuseInputActivationBackward(layerNorm);
                else linears[i].FuseInputActivationBackward(linears[i - 1]);
            }
        layers = [.. list];
        Linears = linears;
        foreach (var extra in spec.Extras)
        {
            var (value, gradient) = Parameters.Take(extra.Name, members == 1 ? extra.Shape : [members, .. extra.Shape]);
            backend.Fill(value, extra.InitialValue);
            extras[extra.Name] = (value, gradient);
        }
    }

    readonly Dictionary<string, (Tensor Value, Tensor Gradient)> extras = [];

    /// <summary>
    /// Whether networks built from now on fuse each hidden activation's backward into the next layer's input-gradient
    /// GEMM and, with LayerNorm, its forward into the LayerNorm pass (default true). The results are the same bit for
    /// bit on the CPU backend; tests and benchmarks turn it off to compare.
    /// </summary>
    internal static bool FuseActivationBackward { get; set; } = true;

    /// <summary>An extra parameter's value and gradient views (see <see cref="MlpSpec.Extras"/>).</summary>
    public (Tensor Value, Tensor Gradient) Extra(string name) =>
        extras.TryGetValue(name, out var views) ? views
        : throw new KeyNotFoundException($"no extra parameter '{name}'; present: {string.Join(", ", extras.Keys)}");

    /// <summary>Number of scalars in a network of this spec.</summary>
    public static int CountParameters(MlpSpec spec, int members = 1)
    {
        int count = 0, inDim = spec.InDim;
        foreach (int hidden in spec.HiddenDims)
        {
            count += Linear.ParameterCount(inDim, hidden, members);
            if (spec.LayerNorm) count += LayerNormLayer.ParameterCount(hidden, members);
            inDim = hidden;
        }
        count += Linear.ParameterCount(inDim, spec.OutDim, members);
        foreach (var extra in spec.Extras) count += members * Tensor.ShapeLength(extra.Shape);
        return count;
    }

    /// <summary>The architecture.</summary>
    public MlpSpec Spec { get; }
    /// <summary>Ensemble members (1 for a single network).</summary>
    public int Members { get; }
    /// <summary>Flat parameters and gradients.</summary>
    public ParameterSet Parameters { get; }
    /// <summary>The Linear layers in order.</summary>
    public IReadOnlyList<Linear> Linears { get; }
    /// <summary>All layers in order.</summary>
    public IReadOnlyList<ILayer> Layers => layers;
    /// <summary>The backend.</summary>
    public Backend Backend => Parameters.Backend;

    /// <summary>x: [B, inDim] (or [E, B, inDim]) → [B, outDim] (or [E, B, outDim]). Valid until the next forward in the slot.</summary>
    public Tensor Forward(Tensor input, int slot = 0)
    {
        var x = input;
        foreach (var layer in layers) x = layer.Forward(x, slot);
        return x;
    }

    /// <summary>
    /// Accumulates parameter gradients for the slot's last forward (unless <paramref name="accumulateParameterGradients"/>
    /// is false: then it only propagates, e.g. ∂Q/∂a for an actor loss); returns ∂L/∂input when asked.
    /// </summary>
    public Tensor? Backward(Tensor outputGradient, int slot = 0, bool needInputGradient = false, bool accumulateParameterGradients = true)
    {
        Tensor? gradient = outputGradient;
        for (int i = layers.Length - 1; i >= 0; i--)
            gradient = layers[i].Backward(gradient!, slot, needInputGradient || i > 0, accumulateParameterGradients);
        return gradient;
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGradients() => Parameters.ZeroGradients();
}

/// <summary>
/// E networks of one shape with stacked weights ([E, outDim, inDim]), run together by batched GEMMs: twin
/// critics are one Ensemble with E = 2. A [B, inDim] input is shared by all members; outputs are [E, B, outDim].
/// </summary>
public sealed class Ensemble(Backend backend, MlpSpec spec, int members, ulong seed) : Mlp(backend, spec, seed, members)
{
}
