using System.Globalization;

namespace O2RL.Inference;

/// <summary>The three actor families of ALGORITHMS.md §2.2.</summary>
public enum PolicyFamily
{
    /// <summary>CQL / SAC / O2SAC: MLP → [μ, ρ] (2d outputs), log σ = clamp(m·ρ + o, −20, 2), a = tanh(u).</summary>
    TanhGaussian,
    /// <summary>TD3 / TD3+BC / O2TD3: a = tanh(MLP(s)).</summary>
    Deterministic,
    /// <summary>IQL / PPO / O2PPO: mean μ = tanh(MLP(s)), state-independent log-std vector ψ.</summary>
    Gaussian,
}

/// <summary>Settings that override or complete what a policy file holds (all optional).</summary>
public sealed class PolicyLoadOptions
{
    /// <summary>Observation mean [obsDim] to use instead of the file's (e.g. CORL's <c>state_mean</c>, kept outside the state_dict).</summary>
    public float[]? ObservationMean { get; init; }
    /// <summary>Observation std [obsDim] (divisor, ε included) to use instead of the file's.</summary>
    public float[]? ObservationStd { get; init; }
    /// <summary>Lower action bounds [actionDim]: actions in [−1, 1] are mapped affinely onto [low, high].</summary>
    public float[]? ActionLow { get; init; }
    /// <summary>Upper action bounds [actionDim].</summary>
    public float[]? ActionHigh { get; init; }
    /// <summary>Lower clamp of the Gaussian family's log-std (default −10 for PPO and O2PPO checkpoints, −20 otherwise, as IQL).</summary>
    public float? GaussianMinLogStd { get; init; }
    /// <summary>Std of the exploration noise added to a deterministic actor's action when sampling (TD3's 0.1).</summary>
    public float DeterministicExplorationStd { get; init; } = 0.1f;
}

/// <summary>
/// Recognises an actor in a safetensors file from its tensor names and shapes: our checkpoints (the actor's
/// tensors prefixed <c>actor.</c>) and plain PyTorch state_dicts with the CORL / OCR-CFT names.
/// </summary>
static class PolicyLayouts
{
    internal const string Expected =
        "tanh-Gaussian (base_network.N.weight/bias, log_std_multiplier.constant, log_std_offset.constant), " +
        "Gaussian (net.net.N.weight/bias, log_std) or deterministic (net.N.weight/bias, or net.net.N without log_std as IQL's " +
        "deterministic policy), each optionally under 'actor.' and PyTorch's wrappers 'module.', '_orig_mod.', 'policy.'";

    /// <summary>Name segments that wrap a module's keys in a saved state_dict: ours and CORL's 'actor.', DataParallel's
    /// 'module.', torch.compile's '_orig_mod.', and the usual attribute names of an agent holding its policy.</summary>
    static readonly string[] WrapperSegments = ["actor", "module", "_orig_mod", "policy", "model", "agent"];

    internal static PolicyModel Recognise(SafetensorsContent content, string source, PolicyLoadOptions options)
    {
        var tensors = content.Tensors;
        content.Metadata.TryGetValue("algorithm", out string? algorithm);
        // Ours write their algorithm into the metadata; anything else is a PyTorch state_dict, whatever its prefix.
        string origin = algorithm is not null ? "O2RL checkpoint" : "PyTorch state_dict";
        // O2SAC/O2TD3/O2PPO stage files (stage-a/-b.safetensors) are full training states; O2SAC's and O2TD3's carry
        // the actor with its normalisation (since 2026-11-27) and act like the final file. Older ones do not: refused
        // rather than run on raw observations.
        if (content.Metadata.TryGetValue("stage", out string? stage))
        {
            bool valueOnly = !tensors.Keys.Any(k => k.StartsWith("actor.", StringComparison.Ordinal)) && tensors.Keys.Any(k => k.StartsWith("value.", StringComparison.Ordinal));
            if (valueOnly)
                throw new PolicyFormatException(source, $"this is {algorithm ?? "a fine-tuning run"}'s stage-{stage} file after value pre-training: it holds the value network, " +
                    "not a policy (the run's policy at that point is its --from checkpoint; after the run, its final checkpoint)");
            bool normalised = content.Metadata.ContainsKey("obs_mean") || tensors.ContainsKey("obs_mean");
            if (!normalised && options.ObservationMean is null)
                throw new PolicyFormatException(source, $"this is the {algorithm ?? "fine-tuning"} stage-{stage} training state of a run made before stage files kept the " +
                    "observation normalisation its actor acts under; act with the run's final checkpoint, or give the normalisation (PolicyLoadOptions.ObservationMean/Std; " +
                    "o2rl act --obs-mean/--obs-std or --normalize-from)");
        }

        // A run's step checkpoint (checkpoints/step_N.safetensors) is the full training state for --resume: flat
        // parameter vectors (sac.actor …), replay rows, optimiser moments, and no normalisation constants.
        if (content.Metadata.ContainsKey("text.algorithm") && content.Metadata.ContainsKey("counter.trainer.step"))
            throw new PolicyFormatException(source, $"this is the {content.Metadata["text.algorithm"]} training state of step " +
                $"{content.Metadata["counter.trainer.step"]}, kept for resuming the run (--resume), not a policy; act with the policy_<step>.safetensors " +
                "written beside it, or with the run's final checkpoint");

        var found = CandidatePrefixes(tensors.Keys).Select(p => (Prefix: p, Layout: Layout(tensors, p))).FirstOrDefault(c => c.Layout is not null);
        if (found.Layout is not var (family, body))
            throw new PolicyFormatException(source, $"no actor layout recognised; expected {Expected}. Found {Listing(tensors.Values)}");
        string prefix = found.Prefix;
        if (prefix is not ("" or "actor.")) origin += $" (actor under '{prefix}')";

        var layers = ReadSequential(content, prefix + body + ".", family == PolicyFamily.TanhGaussian ? LayerActivation.Identity : LayerActivation.Tanh, source);
        int obsDim = layers[0].InDim, outDim = layers[^1].OutDim;
        if (family == PolicyFamily.TanhGaussian && outDim % 2 != 0)
            throw new PolicyFormatException(source, $"the tanh-Gaussian actor's last layer has {outDim} outputs; it must be even (mean and log-std per action dimension)");
        int actionDim = family == PolicyFamily.TanhGaussian ? outDim / 2 : outDim;
        CheckMetadataDimension(content, "obs_dim", obsDim, source);
        CheckMetadataDimension(content, "act_dim", actionDim, source);

        float multiplier = 0f, offset = 0f;
        float[]? logStd = null;
        float minLogStd = PolicyModel.TanhGaussianMinLogStd;
        if (family == PolicyFamily.TanhGaussian)
        {
            multiplier = Scalar(content, prefix + "log_std_multiplier.constant", source);
            offset = Scalar(content, prefix + "log_std_offset.constant", source);
        }
        else if (family == PolicyFamily.Gaussian)
        {
            var tensor = tensors[prefix + "log_std"];
            if (tensor.Shape.Length != 1 || tensor.Shape[0] != actionDim)
                throw new PolicyFormatException(source, $"'{tensor.Name}' has shape {tensor.ShapeText} but the mean network has {actionDim} outputs");
            RequireFinite(tensor, source);
            logStd = (float[])tensor.Data.Clone();
            // O2PPO fine-tunes with PPO's clamp, so its checkpoints sample as PPO's do.
            minLogStd = options.GaussianMinLogStd ?? (algorithm is "ppo" or "o2ppo" ? -10f : -20f);
        }

        var (mean, std) = ObservationNormalization(content, obsDim, options, source, prefix);
        var (low, high) = ActionBounds(content, actionDim, options, source);
        content.Metadata.TryGetValue("env_id", out string? environmentId);
        string layout = $"{origin}, {family} actor {body}.N: {obsDim} → {string.Join(" → ", layers.Select(l => l.OutDim))}" +
                        (layers.Any(l => l.LayerNormGain is not null) ? " (LayerNorm)" : "");
        return new PolicyModel(family, layers, mean, std, low, high, multiplier, offset, logStd, minLogStd,
            options.DeterministicExplorationStd, layout, algorithm, environmentId);
    }

    /// <summary>The family and body of the actor whose keys start with <paramref name="prefix"/>, or null.</summary>
    static (PolicyFamily Family, string Body)? Layout(IReadOnlyDictionary<string, StoredTensor> tensors, string prefix)
    {
        bool Has(string name) => tensors.ContainsKey(prefix + name);
        bool HasUnder(string body) => tensors.Keys.Any(k => k.StartsWith(prefix + body + ".", StringComparison.Ordinal));
        if (HasUnder("base_network") && Has("log_std_multiplier.constant") && Has("log_std_offset.constant")) return (PolicyFamily.TanhGaussian, "base_network");
        if (HasUnder("net.net") && Has("log_std")) return (PolicyFamily.Gaussian, "net.net");
        // CORL's IQL deterministic policy: tanh(MLP(s)) under net.net, as TD3+BC's under net.
        if (HasUnder("net.net")) return (PolicyFamily.Deterministic, "net.net");
        if (HasUnder("net")) return (PolicyFamily.Deterministic, "net");
        return null;
    }

    /// <summary>
    /// Where an actor may sit: "actor." (ours, a flattened CORL agent), "" (a bare actor state_dict), then every other
    /// run of wrapper segments the keys start with, shortest first.
    /// </summary>
    static IEnumerable<string> CandidatePrefixes(IEnumerable<string> names)
    {
        var found = new SortedSet<string>(Comparer<string>.Create((a, b) => a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b)));
        foreach (string name in names)
        {
            string[] segments = name.Split('.');
            int wrapped = 0;
            while (wrapped < segments.Length - 1 && WrapperSegments.Contains(segments[wrapped])) wrapped++;
            for (int i = 1; i <= wrapped; i++) found.Add(string.Join('.', segments[..i]) + ".");
        }
        return new[] { "actor.", "" }.Concat(found.Where(p => p != "actor."));
    }

    /// <summary>
    /// Reads an nn.Sequential under <paramref name="start"/>: a 2-D <c>N.weight</c> is a Linear (with <c>N.bias</c>), a
    /// 1-D <c>N.weight</c> right after a Linear is its LayerNorm γ (with β in <c>N.bias</c>); activations have no
    /// tensors. Hidden layers use ReLU (every layout we read does), the last layer <paramref name="outputActivation"/>.
    /// </summary>
    static DenseLayer[] ReadSequential(SafetensorsContent content, string start, LayerActivation outputActivation, string source)
    {
        var modules = new SortedDictionary<int, (StoredTensor? Weight, StoredTensor? Bias)>();
        foreach (var tensor in content.Tensors.Values.Where(t => t.Name.StartsWith(start, StringComparison.Ordinal)))
        {
            string rest = tensor.Name[start.Length..];
            int dot = rest.IndexOf('.');
            if (dot <= 0 || !int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int index) || rest[(dot + 1)..] is not ("weight" or "bias"))
                throw new PolicyFormatException(source, $"tensor '{tensor.Name}' {tensor.ShapeText} is not a module weight or bias of the sequential network '{start}N.weight|bias'");
            RequireFinite(tensor, source);
            modules.TryGetValue(index, out var module);
            modules[index] = rest.EndsWith("weight", StringComparison.Ordinal) ? (tensor, module.Bias) : (module.Weight, tensor);
        }

        var linears = new List<(StoredTensor Weight, StoredTensor Bias, StoredTensor? Gain, StoredTensor? Beta)>();
        foreach (var (index, (weight, bias)) in modules)
        {
            if (weight is null || bias is null)
                throw new PolicyFormatException(source, $"module '{start}{index}' has a {(weight is null ? "bias" : "weight")} but no {(weight is null ? "weight" : "bias")}");
            if (weight.Shape.Length == 2)
            {
                if (bias.Shape.Length != 1 || bias.Shape[0] != weight.Shape[0])
                    throw new PolicyFormatException(source, $"Linear '{start}{index}' has weight {weight.ShapeText} but bias {bias.ShapeText}");
                if (linears.Count > 0 && linears[^1].Weight.Shape[0] != weight.Shape[1])
                    throw new PolicyFormatException(source, $"Linear '{start}{index}' takes {weight.Shape[1]} inputs but the previous layer gives {linears[^1].Weight.Shape[0]}");
                linears.Add((weight, bias, null, null));
            }
            else if (weight.Shape.Length == 1)
            {
                if (linears.Count == 0 || linears[^1].Gain is not null || weight.Shape[0] != linears[^1].Weight.Shape[0] || bias.Shape.Length != 1 || bias.Shape[0] != weight.Shape[0])
                    throw new PolicyFormatException(source, $"'{start}{index}' looks like a LayerNorm (weight {weight.ShapeText}, bias {bias.ShapeText}) but does not follow a Linear of that width");
                linears[^1] = (linears[^1].Weight, linears[^1].Bias, weight, bias);
            }
            else
            {
                throw new PolicyFormatException(source, $"'{weight.Name}' has shape {weight.ShapeText}; expected a Linear weight [out, in] or a LayerNorm weight [width]");
            }
        }
        if (linears.Count == 0) throw new PolicyFormatException(source, $"no Linear layers under '{start}'");
        if (linears[^1].Gain is not null) throw new PolicyFormatException(source, $"the last layer under '{start}' is followed by a LayerNorm; no actor we know does that");

        return [.. linears.Select((l, i) => new DenseLayer(l.Weight.Shape[1], l.Weight.Shape[0], l.Weight.Data, l.Bias.Data, l.Gain?.Data, l.Beta?.Data,
            i == linears.Count - 1 ? outputActivation : LayerActivation.Relu))];
    }

    static (float[]? Mean, float[]? Std) ObservationNormalization(SafetensorsContent content, int obsDim, PolicyLoadOptions options, string source, string prefix)
    {
        // Ours: obs_mean/obs_std; a PyTorch module that registered CORL's constants as buffers: state_mean/state_std.
        string meanName = "obs_mean", stdName = "obs_std";
        foreach (string candidate in new[] { prefix, "" })
            if (!content.Tensors.ContainsKey(meanName) && !content.Metadata.ContainsKey(meanName) && content.Tensors.ContainsKey(candidate + "state_mean"))
                (meanName, stdName) = (candidate + "state_mean", candidate + "state_std");
        float[]? mean = options.ObservationMean ?? Vector(content, meanName, obsDim, source);
        float[]? std = options.ObservationStd ?? Vector(content, stdName, obsDim, source);
        if ((mean is null) != (std is null))
            throw new PolicyFormatException(source, $"observation normalisation needs both obs_mean and obs_std; only {(mean is null ? "obs_std" : "obs_mean")} was given");
        if (mean is null) return (null, null);
        if (mean.Length != obsDim || std!.Length != obsDim)
            throw new PolicyFormatException(source, $"obs_mean has {mean.Length} and obs_std {std!.Length} values but the actor takes {obsDim} observation features");
        for (int j = 0; j < obsDim; j++)
            if (!(std[j] > 0f) || !float.IsFinite(std[j]) || !float.IsFinite(mean[j]))
                throw new PolicyFormatException(source, $"observation normalisation feature {j} has mean {mean[j]} and std {std[j]}; std must be positive and both finite");
        return ((float[])mean.Clone(), (float[])std.Clone());
    }

    static (float[]? Low, float[]? High) ActionBounds(SafetensorsContent content, int actionDim, PolicyLoadOptions options, string source)
    {
        float[]? low = options.ActionLow ?? Vector(content, "action_low", actionDim, source);
        float[]? high = options.ActionHigh ?? Vector(content, "action_high", actionDim, source);
        if ((low is null) != (high is null))
            throw new PolicyFormatException(source, $"action scaling needs both action_low and action_high; only {(low is null ? "action_high" : "action_low")} was given");
        if (low is null) return (null, null);
        if (low.Length != actionDim || high!.Length != actionDim)
            throw new PolicyFormatException(source, $"action_low has {low.Length} and action_high {high!.Length} values but the actor has {actionDim} action dimensions");
        for (int j = 0; j < actionDim; j++)
            if (!float.IsFinite(low[j]) || !float.IsFinite(high[j]) || !(low[j] < high[j]))
                throw new PolicyFormatException(source, $"action dimension {j} has bounds [{low[j]}, {high[j]}]; they must be finite with low < high");
        return ((float[])low.Clone(), (float[])high.Clone());
    }

    /// <summary>A vector stored as a tensor of that name, else as comma-separated metadata, else null.</summary>
    static float[]? Vector(SafetensorsContent content, string name, int expectedLength, string source)
    {
        if (content.Tensors.TryGetValue(name, out var tensor))
        {
            if (tensor.Shape.Length != 1 || tensor.Shape[0] != expectedLength)
                throw new PolicyFormatException(source, $"tensor '{name}' has shape {tensor.ShapeText}, expected [{expectedLength}]");
            return tensor.Data;
        }
        if (!content.Metadata.TryGetValue(name, out string? text)) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new PolicyFormatException(source, $"metadata '{name}' value {i} ('{parts[i]}') is not a number");
        return values;
    }

    static float Scalar(SafetensorsContent content, string name, string source)
    {
        var tensor = content.Tensors[name];
        if (tensor.Data.Length != 1 || tensor.Shape.Length > 1)
            throw new PolicyFormatException(source, $"'{name}' has shape {tensor.ShapeText}; expected a scalar ([] or [1])");
        RequireFinite(tensor, source);
        return tensor.Data[0];
    }

    static void CheckMetadataDimension(SafetensorsContent content, string key, int actual, string source)
    {
        if (content.Metadata.TryGetValue(key, out string? text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int stated) && stated != actual)
            throw new PolicyFormatException(source, $"metadata says {key} = {stated} but the actor's tensors give {actual}");
    }

    static void RequireFinite(StoredTensor tensor, string source)
    {
        int bad = Array.FindIndex(tensor.Data, v => !float.IsFinite(v));
        if (bad >= 0)
            throw new PolicyFormatException(source, $"tensor '{tensor.Name}' holds {tensor.Data[bad].ToString(CultureInfo.InvariantCulture)} at flat index {bad} (a diverged run?)");
    }

    /// <summary>"N tensors: name [shape], …" for error messages (the first 64).</summary>
    internal static string Listing(IEnumerable<StoredTensor> tensors)
    {
        var all = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        string shown = string.Join(", ", all.Take(64).Select(t => $"{t.Name} {t.ShapeText}"));
        return all.Count == 0 ? "no tensors" : $"{all.Count} tensors: {shown}{(all.Count > 64 ? $", … and {all.Count - 64} more" : "")}";
    }
}
