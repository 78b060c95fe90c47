using O2RL.Algorithms.Training;
using System.Globalization;
using O2RL.Algorithms.Networks;
using O2RL.Data;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Envs;
using O2RL.Envs.Wrappers;

namespace O2RL.Algorithms.Online;

/// <summary>
/// Checkpoints of soft actor-critic learners (SAC, CQL): tensors "actor.*", "critic.*", "critic_target.*" and
/// "log_alpha" (CORL/PyTorch-style names), with metadata algorithm, env_id, obs_dim, act_dim, obs_mean, obs_std
/// (comma-separated), config (resolved JSON) and library_version.
/// </summary>
public static class SacCheckpoint
{
    /// <summary>Writes the learner's networks and metadata to <paramref name="path"/>.</summary>
    public static void Save(string path, SoftActorCritic learner, string algorithm, string environmentId, StateNormalizer normalizer,
        string configJson, IEnumerable<NamedTensor>? extraTensors = null)
    {
        var tensors = new List<NamedTensor>();
        tensors.AddRange(learner.Actor.Parameters.ToNamedTensors("actor"));
        tensors.AddRange(learner.Critic.Parameters.ToNamedTensors("critic"));
        tensors.AddRange(learner.TargetCritic.Parameters.ToNamedTensors("critic_target"));
        tensors.Add(new NamedTensor("log_alpha", [1], learner.LogAlpha.ToArray()));
        if (extraTensors is not null) tensors.AddRange(extraTensors);
        var metadata = new Dictionary<string, string>
        {
            ["algorithm"] = algorithm,
            ["config"] = configJson,
            ["library_version"] = O2RL.Engine.BuildInfo.Version,
        };
        AddPolicyFacts(metadata, learner, normalizer, environmentId);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        SafetensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>
    /// What a policy reader needs beside the actor's weights: its dimensions, the observation normalisation and the
    /// task's action box. Every file holding a tanh-Gaussian actor that <c>o2rl eval</c>/<c>act</c> may be given
    /// carries them, O2SAC's stage files included.
    /// </summary>
    internal static void AddPolicyFacts(Dictionary<string, string> metadata, SoftActorCritic learner, StateNormalizer normalizer, string environmentId)
    {
        metadata["env_id"] = environmentId;
        metadata["obs_dim"] = learner.ObsDim.ToString(CultureInfo.InvariantCulture);
        metadata["act_dim"] = learner.ActionDim.ToString(CultureInfo.InvariantCulture);
        metadata["obs_mean"] = Join(normalizer.Mean);
        metadata["obs_std"] = Join(normalizer.Std);
        PolicyEnvironment.AddActionBounds(metadata, environmentId);
    }

    /// <summary>
    /// Loads the tanh-Gaussian actor of a SAC/CQL checkpoint (hidden widths read from the weight shapes) and the
    /// observation normalisation it was trained with.
    /// </summary>
    public static (TanhGaussianActor Actor, StateNormalizer Normalizer) LoadActor(string path, Backend backend)
    {
        var checkpoint = SafetensorsFile.Read(path, rejectNonFinite: true);
        int obsDim = IntMetadata(checkpoint, "obs_dim", path), actionDim = IntMetadata(checkpoint, "act_dim", path);
        var actor = new TanhGaussianActor(backend, obsDim, actionDim, seed: 0, trainable: true, hiddenDims: ActorHidden(checkpoint, path));
        actor.Parameters.LoadFrom(checkpoint, "actor");
        return (actor, Normalizer(checkpoint, obsDim, path));
    }

    /// <summary>Hidden widths of the checkpoint's actor, from the shapes of its Linear weights.</summary>
    public static int[] ActorHidden(Checkpoint checkpoint, string path) => HiddenWidths(checkpoint, "actor.base_network.", linearRank: 2, path);

    /// <summary>Hidden widths of the checkpoint's critics (weights [E, out, in]).</summary>
    public static int[] CriticHidden(Checkpoint checkpoint, string path) => HiddenWidths(checkpoint, "critic.network.", linearRank: 3, path);

    /// <summary>
    /// The architecture of the checkpoint's critics when it holds twin critics in our layout (<c>critic.network.*</c>,
    /// Linear weights [2, out, in]; CQL, SAC, IQL and TD3+BC all save them so), else null. The naive baselines build
    /// their online critics with it so that the offline critics load.
    /// </summary>
    public static (int[] Hidden, bool LayerNorm)? TwinCriticArchitecture(Checkpoint checkpoint, string path)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var first = checkpoint.Tensors.Values.FirstOrDefault(t => t.Name.StartsWith("critic.network.", StringComparison.Ordinal) && t.Shape.Length == 3);
        return first is not null && first.Shape[0] == 2 ? (CriticHidden(checkpoint, path), CriticLayerNorm(checkpoint)) : null;
    }

    /// <summary>Whether the checkpoint's critics have LayerNorm (γ tensors [E, width] among the weights).</summary>
    public static bool CriticLayerNorm(Checkpoint checkpoint) =>
        checkpoint.Tensors.Values.Any(t => t.Name.StartsWith("critic.network.", StringComparison.Ordinal) && t.Name.EndsWith(".weight", StringComparison.Ordinal) && t.Shape.Length == 2);

    /// <summary>The observation normaliser stored in the metadata.</summary>
    public static StateNormalizer Normalizer(Checkpoint checkpoint, int obsDim, string path)
    {
        float[] mean = FloatsMetadata(checkpoint, "obs_mean", path), std = FloatsMetadata(checkpoint, "obs_std", path);
        if (mean.Length != obsDim || std.Length != obsDim)
            throw CheckpointFormatException.Content(path, $"obs_mean has {mean.Length} and obs_std {std.Length} values but obs_dim is {obsDim}");
        return new StateNormalizer(mean, std);
    }

    /// <summary>An integer metadata entry.</summary>
    public static int IntMetadata(Checkpoint checkpoint, string key, string path) =>
        checkpoint.Metadata.TryGetValue(key, out var text) && int.TryParse(text, CultureInfo.InvariantCulture, out int value) ? value
        : throw CheckpointFormatException.Content(path, $"has no integer metadata '{key}' (keys: {string.Join(", ", checkpoint.Metadata.Keys)})");


    static int[] HiddenWidths(Checkpoint checkpoint, string prefix, int linearRank, string path)
    {
        var weights = checkpoint.Tensors.Values.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal) && t.Name.EndsWith(".weight", StringComparison.Ordinal))
            .Select(t => (Index: int.Parse(t.Name[prefix.Length..t.Name.IndexOf('.', prefix.Length)], CultureInfo.InvariantCulture), t.Shape))
            .OrderBy(w => w.Index).ToList();
        // LayerNorm γ is also named "{i}.weight" but has one axis fewer than a Linear weight; keep only Linear weights.
        var linears = weights.Where(w => w.Shape.Length == linearRank).ToList();
        if (linears.Count < 2) throw CheckpointFormatException.Content(path, $"has no network under '{prefix}'");
        return [.. linears.Take(linears.Count - 1).Select(w => w.Shape[^2])];
    }

    static float[] FloatsMetadata(Checkpoint checkpoint, string key, string path) =>
        checkpoint.Metadata.TryGetValue(key, out var text)
            ? [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => float.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture))]
            : throw CheckpointFormatException.Content(path, $"has no metadata '{key}'");

    static string Join(float[] values) => string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
}
