using System.Buffers;
using System.Runtime.CompilerServices;

namespace O2RL.Inference;

/// <summary>
/// A trained actor ready to act inside any program: loaded from one of our checkpoints or from a PyTorch
/// state_dict saved with safetensors, with the observation normalisation and action scaling it needs.
/// </summary>
/// <remarks>
/// <para>Acting: observation s → (s − mean) / std → MLP → family head → action in [−1, 1] → optional affine map
/// onto [low, high]. The deterministic action is the evaluation protocol's (ALGORITHMS.md §8): tanh-Gaussian
/// clamp(tanh μ, ±0.9999); deterministic actor tanh(MLP(s)); Gaussian its mean tanh(MLP(s)). A sampled action
/// draws from the policy's distribution with a caller-owned <see cref="PolicyRandom"/>: tanh(μ + σε); for the
/// Gaussian clamp(μ + σε, −1, 1) as PPO acts; for the deterministic actor clamp(μ + 0.1·ε, −1, 1) as TD3 explores.</para>
/// <para>Threads: the model is immutable after loading, and every call keeps its intermediate activations on the
/// calling thread's stack (a few kilobytes; from <see cref="ArrayPool{T}"/> only for layers wider than 2,048),
/// so any number of threads may call <c>Act</c>, <see cref="ActBatch"/> and the sampling methods on one
/// shared model at once, and a call allocates nothing.</para>
/// </remarks>
public sealed class PolicyModel
{
    /// <summary>The tanh-Gaussian log-std clamp (−20, 2) of ALGORITHMS.md §2.2.</summary>
    public const float TanhGaussianMinLogStd = -20f, MaxLogStd = 2f;
    /// <summary>The tanh-Gaussian deterministic action bound.</summary>
    public const float DeterministicActionBound = 0.9999f;
    /// <summary>Rows pushed through the layers together (the 4-row kernel).</summary>
    const int BlockRows = 4;
    /// <summary>Scratch up to this many floats lives on the stack (64 KiB).</summary>
    const int StackScratchLimit = 16 * 1024;

    readonly DenseLayer[] layers;
    readonly float[]? observationMean, observationStd, actionLow, actionHalfRange;
    readonly float[]? logStd;
    readonly int stride;

    internal PolicyModel(PolicyFamily family, DenseLayer[] layers, float[]? observationMean, float[]? observationStd, float[]? actionLow, float[]? actionHigh,
        float logStdMultiplier, float logStdOffset, float[]? logStd, float minLogStd, float explorationStd, string layout, string? algorithm, string? environmentId)
    {
        Family = family;
        this.layers = layers;
        this.observationMean = observationMean;
        this.observationStd = observationStd;
        this.actionLow = actionLow;
        ActionHigh = actionHigh;
        if (actionLow is not null)
        {
            actionHalfRange = new float[actionLow.Length];
            for (int j = 0; j < actionLow.Length; j++) actionHalfRange[j] = 0.5f * (actionHigh![j] - actionLow[j]);
        }
        LogStdMultiplier = logStdMultiplier;
        LogStdOffset = logStdOffset;
        this.logStd = logStd;
        MinLogStd = minLogStd;
        ExplorationStd = explorationStd;
        Layout = layout;
        Algorithm = algorithm;
        EnvironmentId = environmentId;
        ObsDim = layers[0].InDim;
        ActionDim = family == PolicyFamily.TanhGaussian ? layers[^1].OutDim / 2 : layers[^1].OutDim;
        stride = Math.Max((ObsDim + 7) / 8 * 8, layers.Max(l => l.PaddedOut));
        ScratchLength = 2 * BlockRows * stride;
    }

    /// <summary>Loads the actor in the safetensors file at <paramref name="path"/> (layout recognised from its tensors).</summary>
    /// <exception cref="PolicyFormatException">The file is corrupt or holds no actor we recognise; the message lists what it holds.</exception>
    public static PolicyModel Load(string path, PolicyLoadOptions? options = null) =>
        PolicyLayouts.Recognise(SafetensorsReader.Read(path), path, options ?? new PolicyLoadOptions());

    /// <summary>Loads an actor from a safetensors image in memory; <paramref name="sourceName"/> names it in errors.</summary>
    public static PolicyModel Load(ReadOnlySpan<byte> safetensors, string sourceName, PolicyLoadOptions? options = null) =>
        PolicyLayouts.Recognise(SafetensorsReader.Read(safetensors, sourceName), sourceName, options ?? new PolicyLoadOptions());

    /// <summary>Builds the actor from already-read tensors.</summary>
    public static PolicyModel FromTensors(SafetensorsContent content, string sourceName, PolicyLoadOptions? options = null) =>
        PolicyLayouts.Recognise(content, sourceName, options ?? new PolicyLoadOptions());

    /// <summary>Which actor this is.</summary>
    public PolicyFamily Family { get; }
    /// <summary>Observation features.</summary>
    public int ObsDim { get; }
    /// <summary>Action dimensions d.</summary>
    public int ActionDim { get; }
    /// <summary>The Linear layers in order (the last one outputs 2d for the tanh-Gaussian, d otherwise).</summary>
    public IReadOnlyList<DenseLayer> Layers => layers;
    /// <summary>Hidden widths, e.g. [256, 256].</summary>
    public IReadOnlyList<int> HiddenWidths => [.. layers[..^1].Select(l => l.OutDim)];
    /// <summary>Whether the hidden layers have LayerNorm.</summary>
    public bool HasLayerNorm => layers.Any(l => l.LayerNormGain is not null);
    /// <summary>Observation mean [ObsDim], or null (identity normalisation).</summary>
    public IReadOnlyList<float>? ObservationMean => observationMean;
    /// <summary>Observation std [ObsDim] (the divisor), or null.</summary>
    public IReadOnlyList<float>? ObservationStd => observationStd;
    /// <summary>Lower action bounds [ActionDim], or null: actions stay in [−1, 1].</summary>
    public IReadOnlyList<float>? ActionLow => actionLow;
    /// <summary>Upper action bounds [ActionDim], or null.</summary>
    public IReadOnlyList<float>? ActionHigh { get; }
    /// <summary>Tanh-Gaussian m (log-std multiplier).</summary>
    public float LogStdMultiplier { get; }
    /// <summary>Tanh-Gaussian o (log-std offset).</summary>
    public float LogStdOffset { get; }
    /// <summary>Gaussian ψ [ActionDim], or null for the other families.</summary>
    public IReadOnlyList<float>? LogStd => logStd;
    /// <summary>Lower log-std clamp of the sampled action.</summary>
    public float MinLogStd { get; }
    /// <summary>Exploration std of the deterministic actor's sampled action.</summary>
    public float ExplorationStd { get; }
    /// <summary>What was recognised, e.g. "PyTorch state_dict, Deterministic actor net.N: 17 → 256 → 256 → 6".</summary>
    public string Layout { get; }
    /// <summary>The checkpoint's <c>algorithm</c> metadata, when present.</summary>
    public string? Algorithm { get; }
    /// <summary>The checkpoint's <c>env_id</c> metadata, when present.</summary>
    public string? EnvironmentId { get; }
    /// <summary>Floats of scratch one call uses (2 × 4 rows × the widest padded layer).</summary>
    public int ScratchLength { get; }

    /// <summary>The deterministic action for one observation: observation [ObsDim] → action [ActionDim].</summary>
    /// <exception cref="ArgumentException">A span has the wrong length, or the observation holds a NaN or ∞.</exception>
    public void Act(ReadOnlySpan<float> observation, Span<float> action)
    {
        CheckSingle(observation, action);
        Run(observation, action, 1, sample: false, ref Unsafe.NullRef<PolicyRandom>());
    }

    /// <summary>The deterministic actions of a batch: observations [n, ObsDim] row-major → actions [n, ActionDim].</summary>
    /// <exception cref="ArgumentException">The lengths are not whole rows or disagree on n, or an observation holds a NaN or ∞.</exception>
    public void ActBatch(ReadOnlySpan<float> observations, Span<float> actions)
    {
        int rows = CheckBatch(observations, actions);
        Run(observations, actions, rows, sample: false, ref Unsafe.NullRef<PolicyRandom>());
    }

    /// <summary>A sampled action for one observation, drawing the noise from <paramref name="random"/>.</summary>
    public void Sample(ReadOnlySpan<float> observation, Span<float> action, ref PolicyRandom random)
    {
        CheckSingle(observation, action);
        Run(observation, action, 1, sample: true, ref random);
    }

    /// <summary>Sampled actions of a batch (rows in order, noise drawn row by row from <paramref name="random"/>).</summary>
    public void SampleBatch(ReadOnlySpan<float> observations, Span<float> actions, ref PolicyRandom random)
    {
        int rows = CheckBatch(observations, actions);
        Run(observations, actions, rows, sample: true, ref random);
    }

    /// <summary>Convenience for one call: the deterministic action as a new array.</summary>
    public float[] Act(ReadOnlySpan<float> observation)
    {
        var action = new float[ActionDim];
        Act(observation, action);
        return action;
    }

    void CheckSingle(ReadOnlySpan<float> observation, Span<float> action)
    {
        if (observation.Length != ObsDim)
            throw new ArgumentException($"observation has {observation.Length} values but the policy expects {ObsDim} ({Layout})", nameof(observation));
        if (action.Length != ActionDim)
            throw new ArgumentException($"action has room for {action.Length} values but the policy has {ActionDim} action dimensions", nameof(action));
        CheckFinite(observation, nameof(observation));
    }

    // A NaN or ∞ in an observation (a sensor fault, an uninitialised buffer) would come out as a NaN action that a
    // controller passes on to its actuators: refused, naming where. One compare per value, nothing next to the forward pass.
    void CheckFinite(ReadOnlySpan<float> observations, string name)
    {
        for (int i = 0; i < observations.Length; i++)
        {
            if (float.IsFinite(observations[i])) continue;
            string where = observations.Length > ObsDim ? $"row {i / ObsDim}, feature {i % ObsDim}" : $"feature {i}";
            throw new ArgumentException($"observation {where} is {observations[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}: a policy cannot act on a non-finite value", name);
        }
    }

    int CheckBatch(ReadOnlySpan<float> observations, Span<float> actions)
    {
        if (observations.Length % ObsDim != 0)
            throw new ArgumentException($"observations hold {observations.Length} values, not whole rows of {ObsDim} features", nameof(observations));
        int rows = observations.Length / ObsDim;
        if (actions.Length != rows * ActionDim)
            throw new ArgumentException($"{rows} observations need room for {rows * ActionDim} action values but actions has {actions.Length}", nameof(actions));
        CheckFinite(observations, nameof(observations));
        return rows;
    }

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Run(ReadOnlySpan<float> observations, Span<float> actions, int rows, bool sample, ref PolicyRandom random)
    {
        if (ScratchLength <= StackScratchLimit)
        {
            // Uninitialised on purpose: every value read is written first (each layer reads only its InDim columns).
            Span<float> scratch = stackalloc float[ScratchLength];
            RunBlocks(observations, actions, rows, sample, ref random, scratch);
            return;
        }
        float[] rented = ArrayPool<float>.Shared.Rent(ScratchLength);
        try { RunBlocks(observations, actions, rows, sample, ref random, rented.AsSpan(0, ScratchLength)); }
        finally { ArrayPool<float>.Shared.Return(rented); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void RunBlocks(ReadOnlySpan<float> observations, Span<float> actions, int rows, bool sample, ref PolicyRandom random, Span<float> scratch)
    {
        for (int first = 0; first < rows; first += BlockRows)
        {
            int count = Math.Min(BlockRows, rows - first);
            var output = Forward(observations.Slice(first * ObsDim, count * ObsDim), count, scratch);
            for (int r = 0; r < count; r++)
            {
                var action = actions.Slice((first + r) * ActionDim, ActionDim);
                var head = output.Slice(r * stride, layers[^1].OutDim);
                if (sample) SampleHead(head, action, ref random);
                else DeterministicHead(head, action);
                Scale(action);
            }
        }
    }

    /// <summary>Normalises up to four observations into the scratch and runs every layer; returns the last layer's rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    ReadOnlySpan<float> Forward(ReadOnlySpan<float> observations, int rows, Span<float> scratch)
    {
        var current = scratch[..(BlockRows * stride)];
        var next = scratch[(BlockRows * stride)..];
        for (int r = 0; r < rows; r++)
        {
            var source = observations.Slice(r * ObsDim, ObsDim);
            var target = current.Slice(r * stride, ObsDim);
            if (observationMean is null) source.CopyTo(target);
            else for (int j = 0; j < ObsDim; j++) target[j] = (source[j] - observationMean[j]) / observationStd![j];
        }
        foreach (var layer in layers)
        {
            layer.Forward(current, next, rows, stride);
            var swap = current; current = next; next = swap;
        }
        return current;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void DeterministicHead(ReadOnlySpan<float> head, Span<float> action)
    {
        if (Family == PolicyFamily.TanhGaussian)
            for (int j = 0; j < action.Length; j++) action[j] = Math.Clamp(MathF.Tanh(head[j]), -DeterministicActionBound, DeterministicActionBound);
        else head[..action.Length].CopyTo(action);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void SampleHead(ReadOnlySpan<float> head, Span<float> action, ref PolicyRandom random)
    {
        int d = action.Length;
        switch (Family)
        {
            case PolicyFamily.TanhGaussian:
                for (int j = 0; j < d; j++)
                {
                    float logSigma = Math.Clamp(LogStdMultiplier * head[d + j] + LogStdOffset, MinLogStd, MaxLogStd);
                    action[j] = MathF.Tanh(head[j] + MathF.Exp(logSigma) * random.NextNormal());
                }
                break;
            case PolicyFamily.Gaussian:
                for (int j = 0; j < d; j++)
                {
                    float sigma = MathF.Exp(Math.Clamp(logStd![j], MinLogStd, MaxLogStd));
                    action[j] = Math.Clamp(head[j] + sigma * random.NextNormal(), -1f, 1f);
                }
                break;
            default:
                for (int j = 0; j < d; j++) action[j] = Math.Clamp(head[j] + ExplorationStd * random.NextNormal(), -1f, 1f);
                break;
        }
    }

    /// <summary>a ← low + (a + 1)·(high − low)/2 when bounds were given.</summary>
    void Scale(Span<float> action)
    {
        if (actionLow is null) return;
        for (int j = 0; j < action.Length; j++) action[j] = actionLow[j] + (action[j] + 1f) * actionHalfRange![j];
    }
}
