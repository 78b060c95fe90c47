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
/// Checkpoints of the TD3 family (TD3, TD3+BC; O2TD3 loads the actor): safetensors with <c>actor.*</c>,
/// <c>actor_target.*</c>, <c>critic.*</c>, <c>critic_target.*</c> (CORL-style names; the twin critics are one
/// tensor per layer with a leading member axis), <c>obs_mean</c>/<c>obs_std</c> when states are normalised,
/// and metadata: algorithm, env_id, obs_dim, act_dim, obs_mean, obs_std (comma-separated), reward_scale,
/// reward_shift, config (resolved JSON), library_version.
/// </summary>
public static class Td3Checkpoint
{
    /// <summary>Name prefixes of the networks.</summary>
    public const string ActorPrefix = "actor", ActorTargetPrefix = "actor_target", CriticPrefix = "critic", CriticTargetPrefix = "critic_target";
    /// <summary>Names of the normalisation tensors.</summary>
    public const string ObsMeanName = "obs_mean", ObsStdName = "obs_std";

    /// <summary>Writes every network, the normaliser and the metadata.</summary>
    public static void Save(string path, Td3Networks networks, string algorithm, string environmentId, StateNormalizer? normalizer,
        string configJson, float rewardScale = 1f, float rewardShift = 0f)
    {
        ArgumentNullException.ThrowIfNull(networks);
        var tensors = networks.ToNamedTensors().ToList();
        var metadata = new Dictionary<string, string>
        {
            ["algorithm"] = algorithm,
            ["env_id"] = environmentId,
            ["obs_dim"] = networks.ObsDim.ToString(CultureInfo.InvariantCulture),
            ["act_dim"] = networks.ActionDim.ToString(CultureInfo.InvariantCulture),
            ["reward_scale"] = rewardScale.ToString("R", CultureInfo.InvariantCulture),
            ["reward_shift"] = rewardShift.ToString("R", CultureInfo.InvariantCulture),
            ["config"] = configJson,
            ["library_version"] = O2RL.Engine.BuildInfo.Version,
        };
        AddPolicyFacts(tensors, metadata, normalizer, environmentId);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        SafetensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>
    /// What a policy reader needs beside the actor's weights: the observation normalisation (tensors and metadata)
    /// and the task's action box. Every file holding a TD3-family actor that <c>o2rl eval</c>/<c>act</c> may be
    /// given carries them, stage files included: without them the actor would be run on raw observations.
    /// </summary>
    internal static void AddPolicyFacts(List<NamedTensor> tensors, Dictionary<string, string> metadata, StateNormalizer? normalizer, string environmentId)
    {
        if (normalizer is not null)
        {
            tensors.Add(new NamedTensor(ObsMeanName, [normalizer.Dimension], (float[])normalizer.Mean.Clone()));
            tensors.Add(new NamedTensor(ObsStdName, [normalizer.Dimension], (float[])normalizer.Std.Clone()));
            metadata["obs_mean"] = string.Join(",", normalizer.Mean.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
            metadata["obs_std"] = string.Join(",", normalizer.Std.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        }
        metadata["env_id"] = environmentId;
        PolicyEnvironment.AddActionBounds(metadata, environmentId);
    }

    /// <summary>The state normaliser stored in a checkpoint, or null when it has none.</summary>
    public static StateNormalizer? ReadNormalizer(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (!checkpoint.Tensors.TryGetValue(ObsMeanName, out var mean) || !checkpoint.Tensors.TryGetValue(ObsStdName, out var std)) return null;
        return new StateNormalizer((float[])mean.Data.Clone(), (float[])std.Data.Clone());
    }

    /// <summary>Hidden widths of the deterministic actor stored under <paramref name="prefix"/>, read from its weight shapes.</summary>
    public static int[] ActorHiddenDims(Checkpoint checkpoint, string prefix = ActorPrefix)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        string start = prefix + ".net.";
        var weights = checkpoint.Tensors.Values
            .Where(t => t.Name.StartsWith(start, StringComparison.Ordinal) && t.Name.EndsWith(".weight", StringComparison.Ordinal))
            .Select(t => (Index: int.Parse(t.Name[start.Length..^".weight".Length], CultureInfo.InvariantCulture), t.Shape))
            .OrderBy(w => w.Index).ToList();
        if (weights.Count < 1) throw new KeyNotFoundException($"the checkpoint has no '{start}*.weight' tensors (it has: {string.Join(", ", checkpoint.Tensors.Keys.Take(20))})");
        return [.. weights.Take(weights.Count - 1).Select(w => w.Shape[0])];
    }

    /// <summary>
    /// Loads the actor of a TD3-family checkpoint onto <paramref name="backend"/> (network sizes from the stored
    /// shapes) with its state normaliser (null when the run did not normalise states).
    /// </summary>
    public static (DeterministicActor Actor, StateNormalizer? Normalizer) LoadActor(Backend backend, string path)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var checkpoint = SafetensorsFile.Read(path, rejectNonFinite: true);
        int obsDim = ReadInt(checkpoint, "obs_dim"), actionDim = ReadInt(checkpoint, "act_dim");
        var actor = new DeterministicActor(backend, obsDim, actionDim, seed: 0, ActorHiddenDims(checkpoint));
        actor.Parameters.LoadFrom(checkpoint, ActorPrefix);
        return (actor, ReadNormalizer(checkpoint));
    }

    /// <summary>
    /// Loads a checkpoint into <paramref name="networks"/>: the actor always; the target actor, the critics and
    /// their targets when present (a target missing from the file is copied from its online network).
    /// </summary>
    public static void LoadInto(Td3Networks networks, Checkpoint checkpoint, bool loadCritics)
    {
        ArgumentNullException.ThrowIfNull(networks);
        ArgumentNullException.ThrowIfNull(checkpoint);
        networks.Actor.Parameters.LoadFrom(checkpoint, ActorPrefix);
        if (checkpoint.Tensors.Keys.Any(k => k.StartsWith(ActorTargetPrefix + ".", StringComparison.Ordinal)))
            networks.ActorTarget.Parameters.LoadFrom(checkpoint, ActorTargetPrefix);
        else networks.ActorTarget.Parameters.CopyValuesFrom(networks.Actor.Parameters);
        if (!loadCritics) return;
        networks.Critic.Parameters.LoadFrom(checkpoint, CriticPrefix);
        if (checkpoint.Tensors.Keys.Any(k => k.StartsWith(CriticTargetPrefix + ".", StringComparison.Ordinal)))
            networks.CriticTarget.Parameters.LoadFrom(checkpoint, CriticTargetPrefix);
        else networks.CriticTarget.Parameters.CopyValuesFrom(networks.Critic.Parameters);
    }

    /// <summary>An integer metadata entry, or an error naming the entries present.</summary>
    public static int ReadInt(Checkpoint checkpoint, string key)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (!checkpoint.Metadata.TryGetValue(key, out string? text) || !int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
            throw new InvalidDataException($"checkpoint metadata '{key}' is missing or not an integer (present: {string.Join(", ", checkpoint.Metadata.Keys)})");
        return value;
    }

    /// <summary>A float metadata entry, or <paramref name="fallback"/> when absent.</summary>
    public static float ReadFloat(Checkpoint checkpoint, string key, float fallback)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (!checkpoint.Metadata.TryGetValue(key, out string? text)) return fallback;
        return float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value)
            ? value : throw new InvalidDataException($"checkpoint metadata '{key}' = '{text}' is not a number");
    }
}

