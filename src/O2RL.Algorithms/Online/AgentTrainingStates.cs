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
        var sac = Learner;
        map.Parameters("sac.actor", sac.Actor.Parameters);
        map.Parameters("sac.critic", sac.Critic.Parameters);
        map.Parameters("sac.critic_target", sac.TargetCritic.Parameters);
        map.Adam("sac.actor_optimizer", sac.ActorOptimizer);
        map.Adam("sac.critic_optimizer", sac.CriticOptimizer);
        map.Adam("sac.alpha_optimizer", sac.AlphaOptimizer);
        map.Tensor("sac.log_alpha", sac.LogAlpha);
        // α as of the last update's start (not exp of the stepped log α): what the next LogMetrics reports.
        map.Tensor("sac.alpha", sac.Alpha);
        map.Tensor("sac.alpha_loss", sac.AlphaLoss);
        map.Tensor("sac.actor_loss", sac.ActorLoss);
        map.Tensor("sac.critic_loss", sac.CriticLoss);
        map.Tensor("sac.mean_q", sac.MeanQ);
        map.Random("sac.update_random", sac.UpdateRandom);
        map.Random("sac.acting_random", sac.ActingRandom);
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
        map.Parameters("td3.actor", Networks.Actor.Parameters);
        map.Parameters("td3.actor_target", Networks.ActorTarget.Parameters);
        map.Parameters("td3.critic", Networks.Critic.Parameters);
        map.Parameters("td3.critic_target", Networks.CriticTarget.Parameters);
        map.Adam("td3.actor_optimizer", Networks.ActorOptimizer);
        map.Adam("td3.critic_optimizer", Networks.CriticOptimizer);
        map.Tensor("td3.critic_loss", Operators.CriticLoss);
        map.Tensor("td3.actor_loss", Operators.ActorLoss);
        map.Tensor("td3.mean_q", Operators.MeanQ);
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
