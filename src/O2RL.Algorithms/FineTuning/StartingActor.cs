using System.Globalization;
using O2RL.Algorithms.Networks;
using O2RL.Data;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;

namespace O2RL.Algorithms.FineTuning;

/// <summary>The three actor families of ALGORITHMS.md §2.2.</summary>
public enum ActorFamily
{
    /// <summary>Tanh-squashed Gaussian with a state-dependent log-std head (CQL, SAC, O2SAC).</summary>
    TanhGaussian,
    /// <summary>Deterministic tanh actor (TD3+BC, TD3, O2TD3).</summary>
    Deterministic,
    /// <summary>Gaussian with a tanh-bounded mean and a state-independent log-std vector (IQL, PPO, O2PPO).</summary>
    Gaussian,
}

/// <summary>
/// A starting policy for fine-tuning, read from any of our checkpoints (tensors under <c>actor.</c>) or from a PyTorch
/// <c>state_dict</c> saved as safetensors with the CORL/OCR-CFT names (no prefix): the tanh-Gaussian policy
/// (<c>base_network.{i}</c>, <c>log_std_multiplier.constant</c>, <c>log_std_offset.constant</c>), the TD3+BC actor
/// (<c>net.{i}</c>) and the IQL Gaussian policy (<c>net.net.{i}</c>, <c>log_std</c>). The family and every dimension are
/// inferred from names and shapes. Converting it into another family's actor ("any offline → any online") is our own
/// design; the paper's release only moves an actor into the same family (§6.4). The rules, all of which keep the
/// deterministic action of the source (up to the tanh-Gaussian's ±0.9999 clamp):
/// <list type="bullet">
/// <item>into tanh-Gaussian: hidden layers copied; the mean rows of the output layer take the source's pre-tanh output
/// layer; the log-std rows get zero weights and bias ln σ₀ with multiplier 1 and offset 0, where σ₀ is the Gaussian's
/// exp ψ (per coordinate) or, for a deterministic source, the configured initial std (pre-tanh space).</item>
/// <item>into deterministic: hidden layers copied; the output layer is the tanh-Gaussian's mean rows or the Gaussian's
/// mean network (exact).</item>
/// <item>into Gaussian: the mean network is copied (exact for a deterministic source; the tanh-Gaussian's mean rows);
/// ψ = the tanh-Gaussian's state-independent part m·b_ρ + o (its log-std bias), or ln σ₀ for a deterministic source.</item>
/// </list>
/// Hidden widths always follow the source, whatever the fine-tuning config says.
/// </summary>
public sealed class StartingActor
{
    readonly Dictionary<string, float[]> tensors;

    StartingActor(string path, ActorFamily family, string layout, int obsDim, int actionDim, int[] hidden,
        Dictionary<string, float[]> tensors, StateNormalizer? normalizer, string? algorithm)
    {
        Path = path; Family = family; Layout = layout; ObsDim = obsDim; ActionDim = actionDim; HiddenDims = hidden;
        this.tensors = tensors; Normalizer = normalizer; Algorithm = algorithm;
    }

    /// <summary>The file it came from.</summary>
    public string Path { get; }
    /// <summary>The source family.</summary>
    public ActorFamily Family { get; }
    /// <summary>"o2rl" for our checkpoints, "pytorch" for a state_dict (with the wrapper it sat under, if any).</summary>
    public string Layout { get; }
    /// <summary>
    /// True for a file not written by O2RL (no <c>algorithm</c> metadata): a PyTorch state_dict, which keeps no
    /// observation normalisation, so the run takes the dataset's.
    /// </summary>
    public bool FromPyTorch => Algorithm is null;
    /// <summary>State features.</summary>
    public int ObsDim { get; }
    /// <summary>d.</summary>
    public int ActionDim { get; }
    /// <summary>Hidden widths of the source's network.</summary>
    public int[] HiddenDims { get; }
    /// <summary>The observation normalisation saved beside the actor (null when the file has none).</summary>
    public StateNormalizer? Normalizer { get; }
    /// <summary>The training algorithm recorded in our metadata (null for PyTorch files).</summary>
    public string? Algorithm { get; }

    /// <summary>Reads and recognises a starting actor; an unknown layout fails listing the tensors found.</summary>
    public static StartingActor Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"starting checkpoint '{path}' does not exist", path);
        // Non-finite values are checked in the actor's tensors only: a NaN in a critic saved beside it is not ours to refuse.
        var checkpoint = SafetensorsFile.Read(path);
        if (Training.TrainingState.NotAPolicy(checkpoint.Metadata) is string notAPolicy) throw new InvalidDataException($"starting checkpoint '{path}': {notAPolicy}");
        checkpoint.Metadata.TryGetValue("algorithm", out string? algorithm);
        foreach (string prefix in CandidatePrefixes(checkpoint))
        {
            var family = Recognise(checkpoint, prefix, out string? layerPrefix);
            if (family is null) continue;
            var names = checkpoint.Tensors.Keys.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            var weights = LinearWeights(checkpoint, prefix + layerPrefix, path);
            int obsDim = weights[0].Shape[1];
            int outDim = weights[^1].Shape[0];
            int actionDim = family == ActorFamily.TanhGaussian ? outDim / 2 : outDim;
            if (family == ActorFamily.TanhGaussian && outDim % 2 != 0)
                throw CheckpointFormatException.Content(path, $"tanh-Gaussian output layer has {outDim} rows; expected 2·d (mean and log-std)");
            var hidden = weights.Take(weights.Count - 1).Select(w => w.Shape[0]).ToArray();
            for (int i = 1; i < weights.Count; i++)
                if (weights[i].Shape[1] != weights[i - 1].Shape[0])
                    throw CheckpointFormatException.Content(path, $"layer {weights[i].Name} takes {weights[i].Shape[1]} inputs but the layer before gives {weights[i - 1].Shape[0]}");
            string[] actorExtras = ["log_std", "log_std_multiplier.constant", "log_std_offset.constant"];
            foreach (string name in names.Where(n => n[prefix.Length..].StartsWith(layerPrefix!, StringComparison.Ordinal) || actorExtras.Contains(n[prefix.Length..])))
                if (Array.FindIndex(checkpoint.Tensors[name].Data, v => !float.IsFinite(v)) is int bad and >= 0)
                    throw CheckpointFormatException.Content(path, $"the actor's tensor '{name}' has a non-finite value ({checkpoint.Tensors[name].Data[bad]}) at flat index {bad}");
            // Layers renamed to the family's own sequence (base_network.2k, net.2k, net.net.2k): a source whose Linear
            // layers sit at other indices (dropout between them) or under another body (IQL's deterministic net.net)
            // then converts as any other.
            string canonicalBody = family switch { ActorFamily.TanhGaussian => "base_network.", ActorFamily.Deterministic => "net.", _ => "net.net." };
            var renamed = new Dictionary<string, string>();
            for (int k = 0; k < weights.Count; k++)
            {
                string layer = weights[k].Name[..^".weight".Length];
                renamed[layer + ".weight"] = $"{canonicalBody}{2 * k}.weight";
                renamed[layer + ".bias"] = $"{canonicalBody}{2 * k}.bias";
            }
            var data = names.Where(n => renamed.ContainsKey(n) || !n[prefix.Length..].StartsWith(layerPrefix!, StringComparison.Ordinal))
                .ToDictionary(n => renamed.TryGetValue(n, out string? canonical) ? canonical : n[prefix.Length..], n => checkpoint.Tensors[n].Data);
            // Ours write their algorithm into the metadata; anything else is a PyTorch state_dict, whatever its prefix
            // (a flattened CORL agent keeps its actor under 'actor.' too, and carries no normalisation).
            string layout = algorithm is not null ? "o2rl" : prefix is "" or "actor." ? "pytorch" : $"pytorch, under '{prefix}'";
            return new StartingActor(path, family.Value, layout, obsDim, actionDim, hidden, data, ReadNormalizer(checkpoint, obsDim, path, prefix), algorithm);
        }
        throw CheckpointFormatException.Content(path, "holds no actor layout we recognise (tanh-Gaussian base_network.* + log_std_multiplier/offset, " +
            "deterministic net.* (TD3+BC) or net.net.* without log_std (IQL's deterministic policy), Gaussian net.net.* + log_std; each may sit " +
            "under 'actor.' and PyTorch's wrappers 'module.', '_orig_mod.', 'policy.'); found: " +
            string.Join(", ", checkpoint.Tensors.Values.Take(40).Select(t => $"{t.Name} {t.ShapeText}")) + (checkpoint.Tensors.Count > 40 ? ", …" : ""));
    }

    /// <summary>Name segments that wrap a module's keys in a saved state_dict: ours and CORL's 'actor.', DataParallel's
    /// 'module.', torch.compile's '_orig_mod.', and the usual attribute names of an agent holding its policy.</summary>
    static readonly string[] WrapperSegments = ["actor", "module", "_orig_mod", "policy", "model", "agent"];

    /// <summary>
    /// Where an actor may sit in the file: "actor." (ours, a flattened CORL agent), "" (a bare actor state_dict), then
    /// every other run of wrapper segments the keys start with, shortest first.
    /// </summary>
    static IEnumerable<string> CandidatePrefixes(Checkpoint checkpoint)
    {
        var found = new SortedSet<string>(Comparer<string>.Create((a, b) => a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b)));
        foreach (string name in checkpoint.Tensors.Keys)
        {
            string[] segments = name.Split('.');
            int wrapped = 0;
            while (wrapped < segments.Length - 1 && WrapperSegments.Contains(segments[wrapped])) wrapped++;
            for (int i = 1; i <= wrapped; i++) found.Add(string.Join('.', segments[..i]) + ".");
        }
        return new[] { "actor.", "" }.Concat(found.Where(p => p != "actor."));
    }

    static ActorFamily? Recognise(Checkpoint checkpoint, string prefix, out string? layerPrefix)
    {
        bool Has(string name) => checkpoint.Tensors.ContainsKey(prefix + name);
        layerPrefix = null;
        if (Has("base_network.0.weight") && Has("log_std_multiplier.constant") && Has("log_std_offset.constant"))
        { layerPrefix = "base_network."; return ActorFamily.TanhGaussian; }
        if (Has("net.net.0.weight") && Has("log_std")) { layerPrefix = "net.net."; return ActorFamily.Gaussian; }
        // CORL's IQL deterministic policy: max_action · tanh(MLP(s)) under net.net, as TD3+BC's under net.
        if (Has("net.net.0.weight")) { layerPrefix = "net.net."; return ActorFamily.Deterministic; }
        if (Has("net.0.weight") && !Has("log_std")) { layerPrefix = "net."; return ActorFamily.Deterministic; }
        return null;
    }

    static List<NamedTensor> LinearWeights(Checkpoint checkpoint, string prefix, string path)
    {
        // The modules of an nn.Sequential by index: Linear layers have a matrix weight; ReLU, Tanh and Dropout have no
        // tensors (so indices may skip more than one: CORL's IQL with actor dropout has Linear at 0, 3, 6). A vector
        // weight is a LayerNorm, which our actors do not have.
        var indices = new SortedSet<int>();
        foreach (string name in checkpoint.Tensors.Keys.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            string rest = name[prefix.Length..];
            int dot = rest.IndexOf('.');
            if (dot > 0 && int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int index)) indices.Add(index);
        }
        var weights = new List<NamedTensor>();
        foreach (int i in indices)
        {
            if (!checkpoint.Tensors.TryGetValue($"{prefix}{i}.weight", out var weight))
                throw CheckpointFormatException.Content(path, $"{prefix}{i} has a bias but no weight");
            if (weight.Shape.Length == 1)
                throw CheckpointFormatException.Content(path, $"{weight.Name} {weight.ShapeText} is a normalisation layer (LayerNorm); fine-tuning takes actors " +
                    "of Linear layers with ReLU between them (o2rl act and O2RL.Inference do run such actors)");
            if (weight.Shape.Length != 2) throw CheckpointFormatException.Content(path, $"{weight.Name} has shape {weight.ShapeText}, expected a matrix");
            if (!checkpoint.Tensors.TryGetValue($"{prefix}{i}.bias", out var bias) || bias.Shape.Length != 1 || bias.Shape[0] != weight.Shape[0])
                throw CheckpointFormatException.Content(path, $"{prefix}{i}.bias is missing or does not match {weight.Name} {weight.ShapeText}");
            weights.Add(weight);
        }
        if (weights.Count < 2)
            throw CheckpointFormatException.Content(path, $"the actor under '{prefix}' has {weights.Count} Linear layer(s); it needs at least one hidden layer and an output layer");
        return weights;
    }

    static StateNormalizer? ReadNormalizer(Checkpoint checkpoint, int obsDim, string path, string prefix)
    {
        float[]? mean = null, std = null;
        // Ours: obs_mean/obs_std; a PyTorch module that registered CORL's constants as buffers: state_mean/state_std.
        foreach (var (meanName, stdName) in new[] { ("obs_mean", "obs_std"), (prefix + "state_mean", prefix + "state_std"), ("state_mean", "state_std") })
            if (mean is null && checkpoint.Tensors.TryGetValue(meanName, out var meanTensor) && checkpoint.Tensors.TryGetValue(stdName, out var stdTensor))
            { mean = meanTensor.Data; std = stdTensor.Data; }
        if (mean is null && checkpoint.Metadata.TryGetValue("obs_mean", out var meanText) && checkpoint.Metadata.TryGetValue("obs_std", out var stdText))
        { mean = ParseFloats(meanText, path); std = ParseFloats(stdText, path); }
        if (mean is null || std is null) return null;
        if (mean.Length != obsDim || std.Length != obsDim)
            throw CheckpointFormatException.Content(path, $"obs_mean has {mean.Length} and obs_std {std.Length} values but the actor takes {obsDim} observations");
        return new StateNormalizer((float[])mean.Clone(), (float[])std.Clone());
    }

    static float[] ParseFloats(string text, string path)
    {
        try { return [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => float.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture))]; }
        catch (FormatException) { throw CheckpointFormatException.Content(path, "obs_mean/obs_std metadata is not a comma-separated list of numbers"); }
    }

    /// <summary>Whether moving this actor into <paramref name="target"/> is a direct weight copy (the release's pairings).</summary>
    public bool IsDirect(ActorFamily target) => target == Family;

    /// <summary>One line saying how the actor is moved into <paramref name="target"/> (for logs and run metadata).</summary>
    public string DescribeTransfer(ActorFamily target) => IsDirect(target)
        ? $"{Family} actor loaded directly ({Layout} layout, hidden {string.Join("×", HiddenDims)})"
        : $"{Family} actor converted to {target} ({Layout} layout, hidden {string.Join("×", HiddenDims)}): mean network copied, " +
          (target == ActorFamily.Deterministic ? "spread dropped" : Family == ActorFamily.Deterministic ? "std set to deterministic_source_std (0.1 unless configured)" : "log-std taken from the source's state-independent part");

    /// <summary>Checks the actor against the environment's dimensions.</summary>
    public void CheckDimensions(int obsDim, int actionDim, string environmentId)
    {
        if (obsDim != ObsDim || actionDim != ActionDim)
            throw new InvalidDataException($"starting actor '{Path}' takes {ObsDim} observations and gives {ActionDim} actions, " +
                $"but {environmentId} has {obsDim} and {actionDim}");
    }

    string SourceLayer(int layer) => Family switch
    {
        ActorFamily.TanhGaussian => $"base_network.{2 * layer}",
        ActorFamily.Deterministic => $"net.{2 * layer}",
        _ => $"net.net.{2 * layer}",
    };

    /// <summary>Builds a tanh-Gaussian actor (O2SAC) holding this policy.</summary>
    /// <param name="backend">Device.</param>
    /// <param name="initialStd">σ₀ (pre-tanh) for a deterministic source; ignored otherwise.</param>
    /// <param name="trainable">False for frozen copies (π_off, π_ref).</param>
    public TanhGaussianActor ToTanhGaussian(Backend backend, float initialStd = 0.1f, bool trainable = true)
    {
        var actor = new TanhGaussianActor(backend, ObsDim, ActionDim, seed: 0, trainable, HiddenDims);
        if (Family == ActorFamily.TanhGaussian) { WriteAll(actor.Parameters); return actor; }
        CheckStd(initialStd);
        CopyHidden(actor.Parameters, l => $"base_network.{2 * l}");
        int d = ActionDim, last = HiddenDims.Length, width = HiddenDims[^1];
        string name = $"base_network.{2 * last}";
        var weight = new float[2 * d * width];
        var bias = new float[2 * d];
        tensors[$"{SourceLayer(last)}.weight"].AsSpan().CopyTo(weight);
        tensors[$"{SourceLayer(last)}.bias"].AsSpan().CopyTo(bias);
        // Log-std rows: zero weights, bias ln σ₀ (per coordinate), with m = 1 and o = 0 so log σ = ln σ₀ everywhere.
        for (int j = 0; j < d; j++)
            bias[d + j] = Family == ActorFamily.Gaussian ? Math.Clamp(tensors["log_std"][j], -20f, 2f) : MathF.Log(initialStd);
        actor.Parameters.Write(name + ".weight", weight);
        actor.Parameters.Write(name + ".bias", bias);
        actor.Parameters.Write("log_std_multiplier.constant", [1f]);
        actor.Parameters.Write("log_std_offset.constant", [0f]);
        return actor;
    }

    /// <summary>Builds a deterministic actor (O2TD3) holding this policy's deterministic action.</summary>
    public DeterministicActor ToDeterministic(Backend backend)
    {
        var actor = new DeterministicActor(backend, ObsDim, ActionDim, seed: 0, HiddenDims);
        if (Family == ActorFamily.Deterministic) { WriteAll(actor.Parameters); return actor; }
        CopyHidden(actor.Parameters, l => $"net.{2 * l}");
        CopyMeanOutput(actor.Parameters, $"net.{2 * HiddenDims.Length}");
        return actor;
    }

    /// <summary>Builds a Gaussian actor (O2PPO) holding this policy.</summary>
    /// <param name="backend">Device.</param>
    /// <param name="minLogStd">Lower clamp of ψ (−10 for PPO).</param>
    /// <param name="initialStd">σ₀ for a deterministic source; ignored otherwise.</param>
    /// <param name="trainable">False for the frozen reference.</param>
    public GaussianActor ToGaussian(Backend backend, float minLogStd, float initialStd = 0.1f, bool trainable = true)
    {
        var actor = new GaussianActor(backend, ObsDim, ActionDim, seed: 0, minLogStd, trainable, HiddenDims);
        if (Family == ActorFamily.Gaussian) { WriteAll(actor.Parameters); return actor; }
        CopyHidden(actor.Parameters, l => $"net.net.{2 * l}");
        CopyMeanOutput(actor.Parameters, $"net.net.{2 * HiddenDims.Length}");
        var logStd = new float[ActionDim];
        if (Family == ActorFamily.Deterministic)
        {
            CheckStd(initialStd);
            Array.Fill(logStd, MathF.Log(initialStd));
        }
        else
        {
            // The tanh-Gaussian's log σ(s) = m·ρ(s) + o with ρ(s) = W_ρ h(s) + b_ρ; its state-independent part is m·b_ρ + o.
            float m = tensors["log_std_multiplier.constant"][0], o = tensors["log_std_offset.constant"][0];
            var bias = tensors[$"{SourceLayer(HiddenDims.Length)}.bias"];
            for (int j = 0; j < ActionDim; j++) logStd[j] = Math.Clamp(m * bias[ActionDim + j] + o, minLogStd, 2f);
        }
        actor.Parameters.Write("log_std", logStd);
        return actor;
    }

    void WriteAll(ParameterSet parameters)
    {
        foreach (var entry in parameters.Entries)
        {
            if (!tensors.TryGetValue(entry.Name, out var values))
                throw CheckpointFormatException.Content(Path, $"has no tensor '{entry.Name}' for the {Family} actor");
            if (values.Length != entry.Length)
                throw CheckpointFormatException.Content(Path, $"tensor '{entry.Name}' has {values.Length} values, the actor needs {entry.Length}");
            parameters.Write(entry.Name, values);
        }
    }

    void CopyHidden(ParameterSet parameters, Func<int, string> targetLayer)
    {
        for (int layer = 0; layer < HiddenDims.Length; layer++)
        {
            parameters.Write(targetLayer(layer) + ".weight", tensors[SourceLayer(layer) + ".weight"]);
            parameters.Write(targetLayer(layer) + ".bias", tensors[SourceLayer(layer) + ".bias"]);
        }
    }

    /// <summary>The output layer's first d rows: the whole layer for deterministic/Gaussian sources, the mean rows of a tanh-Gaussian.</summary>
    void CopyMeanOutput(ParameterSet parameters, string targetLayer)
    {
        int d = ActionDim, width = HiddenDims[^1];
        string source = SourceLayer(HiddenDims.Length);
        parameters.Write(targetLayer + ".weight", tensors[source + ".weight"].AsSpan(0, d * width));
        parameters.Write(targetLayer + ".bias", tensors[source + ".bias"].AsSpan(0, d));
    }

    static void CheckStd(float initialStd)
    {
        if (!(initialStd > 0f) || !float.IsFinite(initialStd))
            throw new ArgumentOutOfRangeException(nameof(initialStd), initialStd, "the initial std of a converted deterministic actor must be positive");
    }
}
