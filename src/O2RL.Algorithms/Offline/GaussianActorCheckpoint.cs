using O2RL.Algorithms.Training;
using System.Globalization;
using O2RL.Algorithms.Networks;
using O2RL.Data;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Envs;
using O2RL.Envs.Wrappers;

namespace O2RL.Algorithms.Offline;

/// <summary>
/// Reading and writing the Gaussian actor (IQL and PPO share its layout and names, ALGORITHMS.md §2.2) with the
/// observation normalisation it was trained under: tensors <c>actor.net.net.{i}.weight|bias</c>, <c>actor.log_std</c>,
/// <c>obs_mean</c>, <c>obs_std</c>; metadata algorithm, env_id, obs_dim, act_dim, config, library_version.
/// </summary>
public static class GaussianActorCheckpoint
{
    /// <summary>Prefix of the actor's tensors.</summary>
    public const string ActorPrefix = "actor";

    /// <summary>The metadata every run checkpoint carries.</summary>
    public static Dictionary<string, string> Metadata(string algorithm, string environmentId, int obsDim, int actionDim, string configJson)
    {
        var metadata = new Dictionary<string, string>
        {
            ["algorithm"] = algorithm,
            ["env_id"] = environmentId,
            ["obs_dim"] = obsDim.ToString(CultureInfo.InvariantCulture),
            ["act_dim"] = actionDim.ToString(CultureInfo.InvariantCulture),
            ["config"] = configJson,
            ["library_version"] = O2RL.Engine.BuildInfo.Version,
        };
        // So a deployed policy acts in the task's own action box (Pendulum's [−2, 2]).
        PolicyEnvironment.AddActionBounds(metadata, environmentId);
        return metadata;
    }

    /// <summary>The normalisation constants as tensors <c>obs_mean</c> and <c>obs_std</c>.</summary>
    public static IEnumerable<NamedTensor> NormalizerTensors(StateNormalizer normalizer) =>
    [
        new NamedTensor("obs_mean", [normalizer.Dimension], (float[])normalizer.Mean.Clone()),
        new NamedTensor("obs_std", [normalizer.Dimension], (float[])normalizer.Std.Clone()),
    ];

    /// <summary>
    /// Loads the Gaussian actor of an IQL or PPO checkpoint (hidden widths read from the tensors) with the given
    /// lower log-std clamp (−20 for IQL, −10 for PPO: the same weights load into either), and the normaliser saved
    /// beside it.
    /// </summary>
    public static (GaussianActor Actor, StateNormalizer Normalizer) Load(Backend backend, string path, float minLogStd, bool trainable = true, ulong seed = 0)
    {
        var checkpoint = SafetensorsFile.Read(path);
        var hidden = new List<int>();
        int obsDim = -1, actionDim = -1;
        for (int i = 0; ; i += 2)
        {
            if (!checkpoint.Tensors.TryGetValue($"{ActorPrefix}.net.net.{i}.weight", out var weight)) break;
            if (weight.Shape.Length != 2) throw CheckpointFormatException.Content(path, $"actor weight {weight.Name} has shape {weight.ShapeText}, expected a matrix");
            if (i == 0) obsDim = weight.Shape[1];
            hidden.Add(weight.Shape[0]);
        }
        if (hidden.Count < 2 && checkpoint.Metadata.GetValueOrDefault("stage") == "a" && checkpoint.Tensors.Keys.Any(k => k.StartsWith("value.", StringComparison.Ordinal)))
            throw CheckpointFormatException.Content(path, "this is O2PPO's stage file after value pre-training: it holds the value network, not a " +
                "policy (the run's policy at that point is its --from checkpoint; after the run, its o2ppo.safetensors)");
        if (hidden.Count < 2)
            throw CheckpointFormatException.Content(path, $"no Gaussian actor found (expected tensors {ActorPrefix}.net.net.0.weight …); present: {string.Join(", ", checkpoint.Tensors.Keys)}");
        actionDim = hidden[^1];
        hidden.RemoveAt(hidden.Count - 1);
        var actor = new GaussianActor(backend, obsDim, actionDim, seed, minLogStd, trainable, [.. hidden]);
        actor.Parameters.LoadFrom(checkpoint, ActorPrefix);
        var normalizer = checkpoint.Tensors.ContainsKey("obs_mean")
            ? new StateNormalizer(checkpoint.GetTensor("obs_mean", obsDim).Data, checkpoint.GetTensor("obs_std", obsDim).Data)
            : StateNormalizer.Identity(obsDim);
        return (actor, normalizer);
    }

}
