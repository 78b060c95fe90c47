using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Data;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;

namespace O2RL.Algorithms.Training;

/// <summary>A policy loaded from one of our checkpoints, with what acting needs beside it.</summary>
public sealed record LoadedPolicy(IPolicy Policy, StateNormalizer? Normalizer, string Algorithm, string? EnvironmentId);

/// <summary>
/// Loads the actor of any of our checkpoints (SAC, CQL: tanh-Gaussian; TD3, TD3+BC: deterministic; IQL, PPO:
/// Gaussian), chosen by the checkpoint's <c>algorithm</c> metadata, as an <see cref="IPolicy"/> (slot 7 of the actor,
/// batch 1). Deterministic acting is the evaluation protocol's; stochastic acting samples with its own seeded stream.
/// </summary>
public static class PolicyCheckpoints
{
    const int ActingSlot = 7;

    /// <summary>Loads the policy; an unknown or missing algorithm fails naming the file and the algorithms known.</summary>
    public static LoadedPolicy Load(Backend backend, string path, ulong samplingSeed = 0)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' does not exist", path);
        var metadata = SafetensorsFile.Read(path).Metadata;
        if (TrainingState.NotAPolicy(metadata) is string notAPolicy) throw new InvalidDataException($"checkpoint '{path}': {notAPolicy}");
        string algorithm = metadata.TryGetValue("algorithm", out var a) ? a
            : throw new InvalidDataException($"checkpoint '{path}' has no 'algorithm' metadata; it was not written by an O2RL trainer; " +
                "a PyTorch state_dict loads with LoadPyTorch and the normalisation it was trained with (o2rl eval --normalize-from DATA.hdf5)");
        metadata.TryGetValue("env_id", out string? environmentId);
        var random = new DeviceRandom(samplingSeed);
        switch (algorithm)
        {
            case SacRun.Algorithm or CqlRun.Algorithm or FineTuning.O2Sac.O2SacRun.Algorithm:
            {
                var (actor, normalizer) = SacCheckpoint.LoadActor(path, backend);
                return new(Acting(backend, actor, random), normalizer, algorithm, environmentId);
            }
            case Td3Run.AlgorithmName or Td3BcRun.AlgorithmName or FineTuning.O2Td3.O2Td3Run.AlgorithmName:
            {
                var (actor, normalizer) = Td3Checkpoint.LoadActor(backend, path);
                return new(Acting(backend, actor), normalizer, algorithm, environmentId);
            }
            case PpoRun.Algorithm or IqlRun.Algorithm or FineTuning.O2Ppo.O2PpoRun.Algorithm:
            {
                float minLogStd = algorithm is PpoRun.Algorithm or FineTuning.O2Ppo.O2PpoRun.Algorithm ? -10f : -20f;
                var (actor, normalizer) = GaussianActorCheckpoint.Load(backend, path, minLogStd, trainable: false);
                return new(Acting(backend, actor, random), normalizer, algorithm, environmentId);
            }
            default:
                throw new InvalidDataException($"checkpoint '{path}' holds algorithm '{algorithm}', which has no loader (known: sac, cql, td3, td3_bc, iql, ppo, o2sac, o2td3, o2ppo)");
        }
    }

    /// <summary>
    /// Loads the actor of a PyTorch state_dict (any layout <see cref="FineTuning.StartingActor"/> recognises) as a
    /// policy of its own family, acting on observations normalised with <paramref name="normalizer"/> (the file keeps
    /// none: the caller gives the constants its author trained with, or identity constants for raw observations).
    /// </summary>
    public static LoadedPolicy LoadPyTorch(Backend backend, string path, StateNormalizer normalizer, ulong samplingSeed = 0)
    {
        ArgumentNullException.ThrowIfNull(normalizer);
        var starting = FineTuning.StartingActor.Load(path);
        if (normalizer.Dimension != starting.ObsDim)
            throw new InvalidDataException($"the normalisation has {normalizer.Dimension} features but the actor in '{path}' takes {starting.ObsDim}");
        var random = new DeviceRandom(samplingSeed);
        IPolicy policy = starting.Family switch
        {
            FineTuning.ActorFamily.TanhGaussian => Acting(backend, starting.ToTanhGaussian(backend, trainable: false), random),
            FineTuning.ActorFamily.Deterministic => Acting(backend, starting.ToDeterministic(backend)),
            _ => Acting(backend, starting.ToGaussian(backend, -20f, trainable: false), random),
        };
        return new(policy, normalizer, $"PyTorch {starting.Family}", null);
    }

    /// <summary>A deterministic actor as a policy (its action in both modes), in the acting slot.</summary>
    static IPolicy Acting(Backend backend, Networks.DeterministicActor actor) =>
        new DevicePolicy(backend, actor.ObsDim, actor.ActionDim, (obs, _) => actor.Forward(obs, ActingSlot));

    /// <summary>A Gaussian actor (IQL, PPO) as a policy: its mean, or a sample clipped to [−1, 1], in the acting slot.</summary>
    static IPolicy Acting(Backend backend, Networks.GaussianActor actor, DeviceRandom random)
    {
        var noise = backend.Allocate(1, actor.ActionDim);
        return new DevicePolicy(backend, actor.ObsDim, actor.ActionDim, (obs, deterministic) =>
        {
            var mean = actor.Mean(obs, ActingSlot);
            if (deterministic) return mean;
            random.Normal(noise);
            return actor.Distribution(ActingSlot).Sample(mean, noise, actionLimit: 1f);
        });
    }

    /// <summary>
    /// A tanh-Gaussian actor as a policy: the clamped deterministic action, or a sample drawn with
    /// <paramref name="random"/> (as D4RL's roll-outs act). Runs in the actor's acting slot, never used by updates.
    /// </summary>
    public static IPolicy Acting(Backend backend, Networks.TanhGaussianActor actor, DeviceRandom random)
    {
        var noise = backend.Allocate(1, actor.ActionDim);
        return new DevicePolicy(backend, actor.ObsDim, actor.ActionDim, (obs, deterministic) =>
        {
            if (deterministic) return actor.DeterministicAction(obs, ActingSlot);
            return actor.Sample(obs, noise, ActingSlot, drawNoiseFrom: random).Action;
        });
    }
}
