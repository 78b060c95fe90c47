using O2RL.Engine;
using O2RL.Engine.Distributions;
using O2RL.Kernels;

namespace O2RL.Algorithms.Networks;

/// <summary>
/// The tanh-squashed Gaussian actor of CQL and O2SAC (ALGORITHMS.md §2.2): s → 256 → 256 → 256 → 2d (ReLU;
/// PyTorch-default hidden init, Xavier-uniform gain 0.01 output), log σ = clamp(m·ρ + o, −20, 2) with trainable
/// scalars m (init 1) and o (init −1). Names as CORL's TanhGaussianPolicy (<c>base_network.{i}</c>,
/// <c>log_std_multiplier.constant</c>, <c>log_std_offset.constant</c>). A frozen copy (π_off, π_ref) has no
/// trainable head but still returns ∂log π/∂action.
/// </summary>
public sealed class TanhGaussianActor
{
    /// <summary>Default hidden widths.</summary>
    public static readonly int[] DefaultHidden = [256, 256, 256];
    readonly Dictionary<int, TanhGaussian> heads = [];
    readonly bool trainable;

    /// <summary>Builds the actor (seeded).</summary>
    public TanhGaussianActor(Backend backend, int obsDim, int actionDim, ulong seed, bool trainable = true, int[]? hiddenDims = null)
    {
        ObsDim = obsDim; ActionDim = actionDim; this.trainable = trainable;
        Network = new Mlp(backend, new MlpSpec(obsDim, hiddenDims ?? DefaultHidden, 2 * actionDim)
        {
            OutputInit = new LayerInit(InitScheme.XavierUniform, 0.01f),
            NamePrefix = "base_network",
            Extras = [new ExtraParameter("log_std_multiplier.constant", [1], 1f), new ExtraParameter("log_std_offset.constant", [1], -1f)],
        }, seed);
    }

    /// <summary>The body (its parameters include m and o).</summary>
    public Mlp Network { get; }
    /// <summary>All parameters.</summary>
    public ParameterSet Parameters => Network.Parameters;
    /// <summary>State features.</summary>
    public int ObsDim { get; }
    /// <summary>d.</summary>
    public int ActionDim { get; }

    /// <summary>The distribution head of a slot (one per forward kept alive at a time).</summary>
    public TanhGaussian Head(int slot)
    {
        if (heads.TryGetValue(slot, out var head)) return head;
        var (m, dm) = Network.Extra("log_std_multiplier.constant");
        var (o, dO) = Network.Extra("log_std_offset.constant");
        head = trainable ? new TanhGaussian(Network.Backend, ActionDim, m, o, dm, dO) : new TanhGaussian(Network.Backend, ActionDim, m, o);
        heads[slot] = head;
        return head;
    }

    /// <summary>
    /// Reparameterised sample ã = tanh(μ + σε) and log π(ã|s): [B, d], [B]; with <paramref name="drawNoiseFrom"/>, ε is
    /// drawn into <paramref name="noise"/> from that stream in the same op.
    /// </summary>
    public (Tensor Action, Tensor LogProb) Sample(Tensor observations, Tensor noise, int slot = 0, DeviceRandom? drawNoiseFrom = null) =>
        Head(slot).Sample(Network.Forward(observations, slot), noise, drawNoiseFrom);

    /// <summary>
    /// <see cref="Sample"/> at states repeated n times (row j of the result belongs to state
    /// <paramref name="repeatIndices"/>[j]): the network runs once per state and its output rows are repeated into
    /// <paramref name="repeatedHead"/> [rows, 2d] before sampling, at 1/n of the network's cost. On the CPU backend a
    /// row's output does not depend on the other rows, so the numbers are those of running the network on the repeated
    /// states bit for bit; a GPU GEMM may split k differently for fewer rows (rounding only). For detached samples
    /// only (CQL's sampled actions): <see cref="SampleBackward"/> does not apply to them.
    /// </summary>
    public (Tensor Action, Tensor LogProb) SampleRepeated(Tensor observations, IndexTensor repeatIndices, Tensor repeatedHead, Tensor noise,
        int slot, DeviceRandom? drawNoiseFrom = null)
    {
        Network.Backend.GatherRows(Network.Forward(observations, slot), repeatIndices, repeatedHead);
        return Head(slot).Sample(repeatedHead, noise, drawNoiseFrom);
    }

    /// <summary>
    /// Backward of <see cref="Sample"/> in the slot: accumulates parameter gradients; <paramref name="preImageGradient"/>
    /// is ∂L/∂u with respect to the sample's pre-image (<see cref="PreImage"/>), or null.
    /// </summary>
    public void SampleBackward(Tensor? actionGradient, Tensor? logProbGradient, int slot = 0, Tensor? preImageGradient = null) =>
        Network.Backward(Head(slot).SampleBackward(actionGradient, logProbGradient, preImageGradient), slot);

    /// <summary>The pre-image u = μ + σε of the slot's latest sample (a = tanh u): [B, d].</summary>
    public Tensor PreImage(int slot = 0) => Head(slot).PreImage();

    /// <summary>
    /// log π(tanh u|s) of actions given by their pre-images u (another actor's <see cref="PreImage"/>), exact where
    /// tanh u rounds to ±1: [B]. <see cref="LogProbBackward"/> then returns ∂L/∂u.
    /// </summary>
    public Tensor LogProbAtPreImage(Tensor observations, Tensor preImage, int slot = 0) =>
        Head(slot).LogProbAtPreImage(Network.Forward(observations, slot), preImage);

    /// <summary>log π(a|s) of externally supplied actions (clamped to ±(1 − 1e-4) before atanh): [B].</summary>
    public Tensor LogProb(Tensor observations, Tensor actions, int slot = 0) =>
        Head(slot).LogProb(Network.Forward(observations, slot), actions);

    /// <summary>
    /// ∂L/∂a of the slot's last <see cref="LogProb"/> (∂L/∂u after <see cref="LogProbAtPreImage"/>); trains the actor
    /// too when it is trainable and asked.
    /// </summary>
    public Tensor LogProbBackward(Tensor logProbGradient, int slot = 0, bool trainActor = false)
    {
        var (actionGradient, headGradient) = Head(slot).LogProbBackward(logProbGradient, trainActor);
        if (trainActor) Network.Backward(headGradient!, slot);
        return actionGradient;
    }

    /// <summary>clamp(tanh μ, ±0.9999): [B, d].</summary>
    public Tensor DeterministicAction(Tensor observations, int slot = 0) =>
        Head(slot).DeterministicAction(Network.Forward(observations, slot));
}

/// <summary>
/// The deterministic actor of TD3+BC and O2TD3: s → 256 → 256 → d with tanh (orthogonal init, gain 1).
/// Names as CORL's Actor (<c>net.{i}</c>).
/// </summary>
public sealed class DeterministicActor(Backend backend, int obsDim, int actionDim, ulong seed, int[]? hiddenDims = null)
{
    /// <summary>The network (tanh output).</summary>
    public Mlp Network { get; } = new(backend, new MlpSpec(obsDim, hiddenDims ?? [256, 256], actionDim)
    {
        OutputActivation = Activation.Tanh,
        HiddenInit = new LayerInit(InitScheme.Orthogonal, 1f),
        OutputInit = new LayerInit(InitScheme.Orthogonal, 1f),
        NamePrefix = "net",
    }, seed);

    /// <summary>All parameters.</summary>
    public ParameterSet Parameters => Network.Parameters;
    /// <summary>State features.</summary>
    public int ObsDim { get; } = obsDim;
    /// <summary>d.</summary>
    public int ActionDim { get; } = actionDim;

    /// <summary>μ(s): [B, d].</summary>
    public Tensor Forward(Tensor observations, int slot = 0) => Network.Forward(observations, slot);

    /// <summary>Accumulates parameter gradients for ∂L/∂μ.</summary>
    public void Backward(Tensor actionGradient, int slot = 0) => Network.Backward(actionGradient, slot);
}

/// <summary>
/// The Gaussian actor of IQL and O2PPO: mean = tanh(MLP(s)) with s → 256 → 256 → d (orthogonal init), and a
/// state-independent log-std vector ψ (init 0) clamped to [lo, 2] (lo = −20 for IQL, −10 for PPO). Names as
/// CORL's GaussianPolicy (<c>net.net.{i}</c>, <c>log_std</c>), so IQL weights load into PPO directly.
/// </summary>
public sealed class GaussianActor
{
    readonly Dictionary<int, Gaussian> distributions = [];
    readonly bool trainable;

    /// <summary>Builds the actor.</summary>
    public GaussianActor(Backend backend, int obsDim, int actionDim, ulong seed, float minLogStd, bool trainable = true, int[]? hiddenDims = null)
    {
        ObsDim = obsDim; ActionDim = actionDim; MinLogStd = minLogStd; this.trainable = trainable;
        Network = new Mlp(backend, new MlpSpec(obsDim, hiddenDims ?? [256, 256], actionDim)
        {
            OutputActivation = Activation.Tanh,
            HiddenInit = new LayerInit(InitScheme.Orthogonal, 1f),
            OutputInit = new LayerInit(InitScheme.Orthogonal, 1f),
            NamePrefix = "net.net",
            Extras = [new ExtraParameter("log_std", [actionDim], 0f)],
        }, seed);
    }

    /// <summary>The mean network (its parameters include ψ).</summary>
    public Mlp Network { get; }
    /// <summary>All parameters.</summary>
    public ParameterSet Parameters => Network.Parameters;
    /// <summary>State features.</summary>
    public int ObsDim { get; }
    /// <summary>d.</summary>
    public int ActionDim { get; }
    /// <summary>Lower clamp of ψ.</summary>
    public float MinLogStd { get; }

    /// <summary>The distribution object of a slot.</summary>
    public Gaussian Distribution(int slot)
    {
        if (distributions.TryGetValue(slot, out var d)) return d;
        var (logStd, logStdGradient) = Network.Extra("log_std");
        d = new Gaussian(Network.Backend, ActionDim, logStd, trainable ? logStdGradient : null, MinLogStd);
        distributions[slot] = d;
        return d;
    }

    /// <summary>μ(s) = tanh(MLP(s)): [B, d] (also the deterministic action).</summary>
    public Tensor Mean(Tensor observations, int slot = 0) => Network.Forward(observations, slot);

    /// <summary>log π(a|s) summed over coordinates: [B].</summary>
    public Tensor LogProb(Tensor observations, Tensor actions, int slot = 0) => Distribution(slot).LogProb(Mean(observations, slot), actions);

    /// <summary>Backward of the slot's last log-prob: accumulates ψ and network gradients.</summary>
    public void LogProbBackward(Tensor logProbGradient, int slot = 0) =>
        Network.Backward(Distribution(slot).LogProbBackward(logProbGradient), slot);
}
