using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;

namespace O2RL.Algorithms.Offline;

// Full training state of the offline learners for exact resume (see IResumableAgent): every tensor and counter an
// update reads. Names are the agent's own; a state is only ever restored into an agent built with the same
// config, dimensions and seed (the random streams check their seeds). The latest loss scalars are saved too, so
// a state is a complete picture even where the next LogMetrics comes before the next update would overwrite them.

public sealed partial class CqlAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state) => Map(TrainingStateMap.Saving(state));

    /// <inheritdoc/>
    public void RestoreState(TrainingState state) => Map(TrainingStateMap.Restoring(state));

    void Map(TrainingStateMap map)
    {
        var sac = Learner;
        map.SoftActorCritic("cql", sac);
        map.Tensor("cql.td_loss", sac.CriticLoss);
        // The Lagrange weight: log α′, its optimiser (lr = qf_lr), and α′ as of the last update.
        map.Tensor("cql.log_alpha_prime", LogAlphaPrime);
        map.Adam("cql.alpha_prime_optimizer", AlphaPrimeOptimizer);
        map.Tensor("cql.alpha_prime", AlphaPrime);
        map.Tensor("cql.conservative_loss", ConservativeLoss);
        map.Tensor("cql.alpha_prime_loss", AlphaPrimeLoss);
        map.Tensor("cql.total_critic_loss", TotalCriticLoss);
        // The update count decides the behaviour-cloning warm start (bc_steps) and goes into the final checkpoint.
        Updates = map.Count("cql.updates", Updates);
    }
}

public sealed partial class IqlAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state) => Map(TrainingStateMap.Saving(state));

    /// <inheritdoc/>
    public void RestoreState(TrainingState state) => Map(TrainingStateMap.Restoring(state));

    void Map(TrainingStateMap map)
    {
        map.Parameters("iql.actor", Actor.Parameters);
        map.Parameters("iql.critic", Critic.Parameters);
        map.Parameters("iql.critic_target", CriticTarget.Parameters);
        map.Parameters("iql.value", Value.Parameters);
        // The actor's learning rate is part of its Adam state (the cosine schedule sets it from the step count).
        map.Adam("iql.actor_optimizer", ActorOptimizer);
        map.Adam("iql.critic_optimizer", CriticOptimizer);
        map.Adam("iql.value_optimizer", ValueOptimizer);
        map.Tensor("iql.value_loss", valueLoss);
        map.Tensor("iql.q_loss", qLoss);
        map.Tensor("iql.actor_loss", actorLoss);
        // The step count drives the cosine schedule and goes into the final checkpoint.
        Steps = map.Count("iql.steps", Steps);
    }
}

public sealed partial class Td3BcAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state) => Map(TrainingStateMap.Saving(state));

    /// <inheritdoc/>
    public void RestoreState(TrainingState state) => Map(TrainingStateMap.Restoring(state));

    void Map(TrainingStateMap map)
    {
        map.Td3Networks("td3_bc", Networks);
        map.Td3Losses("td3_bc", Operators);
        map.Tensor("td3_bc.lambda", Operators.Kappa);
        map.Random("td3_bc.smoothing_random", Operators.SmoothingRandom);
        map.Random("td3_bc.policy_random", ActingPolicy.NoiseRandom);
        // n_it decides which updates step the actor and the targets (every policy_delay-th).
        IterationCount = map.Count("td3_bc.iterations", IterationCount);
    }
}
