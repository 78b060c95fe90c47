using O2RL.Algorithms.Training;
using O2RL.Engine;

namespace O2RL.Algorithms.Online;

// Full training state of the online learners for exact resume (see IResumableAgent). Tensor and counter names
// are the agent's own; a state is only ever restored into an agent built with the same config and seed.

public sealed partial class SacAgent : IResumableAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state) => Map(TrainingStateMap.Saving(state));

    /// <inheritdoc/>
    public void RestoreState(TrainingState state) => Map(TrainingStateMap.Restoring(state));

    void Map(TrainingStateMap map)
    {
        map.SoftActorCritic("sac", Learner);
        map.Tensor("sac.critic_loss", Learner.CriticLoss);
        Updates = map.Count("sac.updates", Updates);
    }
}

public sealed partial class Td3Operators
{
    /// <summary>The stream of the target-smoothing noise ε (its counter is part of a training state).</summary>
    public DeviceRandom SmoothingRandom => random;
}

public sealed partial class DeterministicActorPolicy
{
    /// <summary>The stream of the exploration noise (its counter is part of a training state).</summary>
    public DeviceRandom NoiseRandom => random;
}

public sealed partial class Td3Agent : IResumableAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state) => Map(TrainingStateMap.Saving(state));

    /// <inheritdoc/>
    public void RestoreState(TrainingState state) => Map(TrainingStateMap.Restoring(state));

    void Map(TrainingStateMap map)
    {
        map.Td3Networks("td3", Networks);
        map.Td3Losses("td3", Operators);
        map.Tensor("td3.kappa", Operators.Kappa);
        map.Random("td3.smoothing_random", Operators.SmoothingRandom);
        map.Random("td3.exploration_random", ActingPolicy.NoiseRandom);
        ActingPolicy.ExplorationNoise = (float)map.Real("td3.exploration_noise", ActingPolicy.ExplorationNoise);
        IterationCount = map.Count("td3.iterations", IterationCount);
    }
}

public sealed partial class PpoAgent : IResumableAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state) => Map(TrainingStateMap.Saving(state));

    /// <inheritdoc/>
    public void RestoreState(TrainingState state) => Map(TrainingStateMap.Restoring(state));

    void Map(TrainingStateMap map)
    {
        map.Parameters("ppo.actor", Actor.Parameters);
        map.Parameters("ppo.critic", Critic.Parameters);
        // The optimisers' learning rates are part of their state (linear decay).
        map.Adam("ppo.actor_optimizer", ActorOptimizer);
        map.Adam("ppo.critic_optimizer", CriticOptimizer);
        map.Random("ppo.noise_random", noiseStream);
        map.Random("ppo.shuffle_random", shuffleRandom);
    }
}

/// <summary>
/// The state entries shared by the learners built on one base (SAC and CQL and O2SAC on <see cref="SoftActorCritic"/>;
/// TD3, TD3+BC and O2TD3 on <see cref="Online.Td3Networks"/>), listed once under each learner's own name prefix.
/// </summary>
internal static class SharedStateMaps
{
    /// <summary>
    /// prefix.{actor, critic, critic_target} parameters, their three Adams (actor, critic, α), log α, α as of the last
    /// update's start (what the next log reports, not exp of the stepped log α), the α and actor losses, the mean Q and
    /// both random streams. The critic loss is left to the caller (CQL names its TD part differently).
    /// </summary>
    public static void SoftActorCritic(this TrainingStateMap map, string prefix, SoftActorCritic sac)
    {
        map.Parameters(prefix + ".actor", sac.Actor.Parameters);
        map.Parameters(prefix + ".critic", sac.Critic.Parameters);
        map.Parameters(prefix + ".critic_target", sac.TargetCritic.Parameters);
        map.Adam(prefix + ".actor_optimizer", sac.ActorOptimizer);
        map.Adam(prefix + ".critic_optimizer", sac.CriticOptimizer);
        map.Adam(prefix + ".alpha_optimizer", sac.AlphaOptimizer);
        map.Tensor(prefix + ".log_alpha", sac.LogAlpha);
        map.Tensor(prefix + ".alpha", sac.Alpha);
        map.Tensor(prefix + ".alpha_loss", sac.AlphaLoss);
        map.Tensor(prefix + ".actor_loss", sac.ActorLoss);
        map.Tensor(prefix + ".mean_q", sac.MeanQ);
        map.Random(prefix + ".update_random", sac.UpdateRandom);
        map.Random(prefix + ".acting_random", sac.ActingRandom);
    }

    /// <summary>prefix.{actor, actor_target, critic, critic_target} parameters and the actor and critic Adams.</summary>
    public static void Td3Networks(this TrainingStateMap map, string prefix, Td3Networks networks)
    {
        map.Parameters(prefix + ".actor", networks.Actor.Parameters);
        map.Parameters(prefix + ".actor_target", networks.ActorTarget.Parameters);
        map.Parameters(prefix + ".critic", networks.Critic.Parameters);
        map.Parameters(prefix + ".critic_target", networks.CriticTarget.Parameters);
        map.Adam(prefix + ".actor_optimizer", networks.ActorOptimizer);
        map.Adam(prefix + ".critic_optimizer", networks.CriticOptimizer);
    }

    /// <summary>The latest critic and actor losses and mean Q of the TD3 operators (what the next log reports).</summary>
    public static void Td3Losses(this TrainingStateMap map, string prefix, Td3Operators operators)
    {
        map.Tensor(prefix + ".critic_loss", operators.CriticLoss);
        map.Tensor(prefix + ".actor_loss", operators.ActorLoss);
        map.Tensor(prefix + ".mean_q", operators.MeanQ);
    }
}
