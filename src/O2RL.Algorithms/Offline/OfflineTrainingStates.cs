using O2RL.Algorithms.Training;

namespace O2RL.Algorithms.Offline;

// Full training state of the offline learners for exact resume (see IResumableAgent): every tensor and counter an
// update reads. Names are the agent's own; a state is only ever restored into an agent built with the same
// config, dimensions and seed (the random streams check their seeds). The latest loss scalars are saved too, so
// a state is a complete picture even where the next LogMetrics comes before the next update would overwrite them.

public sealed partial class CqlAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var sac = Learner;
        state.SetParameters("cql.actor", sac.Actor.Parameters);
        state.SetParameters("cql.critic", sac.Critic.Parameters);
        state.SetParameters("cql.critic_target", sac.TargetCritic.Parameters);
        state.SetAdam("cql.actor_optimizer", sac.ActorOptimizer);
        state.SetAdam("cql.critic_optimizer", sac.CriticOptimizer);
        state.SetAdam("cql.alpha_optimizer", sac.AlphaOptimizer);
        state.SetTensor("cql.log_alpha", sac.LogAlpha);
        state.SetTensor("cql.alpha", sac.Alpha);
        // The Lagrange weight: log α′, its optimiser (lr = qf_lr), and α′ as of the last update.
        state.SetTensor("cql.log_alpha_prime", LogAlphaPrime);
        state.SetAdam("cql.alpha_prime_optimizer", AlphaPrimeOptimizer);
        state.SetTensor("cql.alpha_prime", AlphaPrime);
        state.SetTensor("cql.alpha_loss", sac.AlphaLoss);
        state.SetTensor("cql.actor_loss", sac.ActorLoss);
        state.SetTensor("cql.td_loss", sac.CriticLoss);
        state.SetTensor("cql.mean_q", sac.MeanQ);
        state.SetTensor("cql.conservative_loss", ConservativeLoss);
        state.SetTensor("cql.alpha_prime_loss", AlphaPrimeLoss);
        state.SetTensor("cql.total_critic_loss", TotalCriticLoss);
        state.SetRandom("cql.update_random", sac.UpdateRandom);
        state.SetRandom("cql.acting_random", sac.ActingRandom);
        // The update count decides the behaviour-cloning warm start (bc_steps) and goes into the final checkpoint.
        state.SetCounter("cql.updates", Updates);
    }

    /// <inheritdoc/>
    public void RestoreState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var sac = Learner;
        state.RestoreParameters("cql.actor", sac.Actor.Parameters);
        state.RestoreParameters("cql.critic", sac.Critic.Parameters);
        state.RestoreParameters("cql.critic_target", sac.TargetCritic.Parameters);
        state.RestoreAdam("cql.actor_optimizer", sac.ActorOptimizer);
        state.RestoreAdam("cql.critic_optimizer", sac.CriticOptimizer);
        state.RestoreAdam("cql.alpha_optimizer", sac.AlphaOptimizer);
        state.RestoreTensor("cql.log_alpha", sac.LogAlpha);
        state.RestoreTensor("cql.alpha", sac.Alpha);
        state.RestoreTensor("cql.log_alpha_prime", LogAlphaPrime);
        state.RestoreAdam("cql.alpha_prime_optimizer", AlphaPrimeOptimizer);
        state.RestoreTensor("cql.alpha_prime", AlphaPrime);
        state.RestoreTensor("cql.alpha_loss", sac.AlphaLoss);
        state.RestoreTensor("cql.actor_loss", sac.ActorLoss);
        state.RestoreTensor("cql.td_loss", sac.CriticLoss);
        state.RestoreTensor("cql.mean_q", sac.MeanQ);
        state.RestoreTensor("cql.conservative_loss", ConservativeLoss);
        state.RestoreTensor("cql.alpha_prime_loss", AlphaPrimeLoss);
        state.RestoreTensor("cql.total_critic_loss", TotalCriticLoss);
        state.RestoreRandom("cql.update_random", sac.UpdateRandom);
        state.RestoreRandom("cql.acting_random", sac.ActingRandom);
        long updates = state.GetCounter("cql.updates");
        if (updates < 0) throw new InvalidDataException($"{state.Source}: cql.updates is {updates}; a count of updates cannot be negative");
        Updates = updates;
    }
}

public sealed partial class IqlAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.SetParameters("iql.actor", Actor.Parameters);
        state.SetParameters("iql.critic", Critic.Parameters);
        state.SetParameters("iql.critic_target", CriticTarget.Parameters);
        state.SetParameters("iql.value", Value.Parameters);
        // The actor's learning rate is part of its Adam state (the cosine schedule sets it from the step count).
        state.SetAdam("iql.actor_optimizer", ActorOptimizer);
        state.SetAdam("iql.critic_optimizer", CriticOptimizer);
        state.SetAdam("iql.value_optimizer", ValueOptimizer);
        state.SetTensor("iql.value_loss", valueLoss);
        state.SetTensor("iql.q_loss", qLoss);
        state.SetTensor("iql.actor_loss", actorLoss);
        // The step count drives the cosine schedule and goes into the final checkpoint.
        state.SetCounter("iql.steps", Steps);
    }

    /// <inheritdoc/>
    public void RestoreState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.RestoreParameters("iql.actor", Actor.Parameters);
        state.RestoreParameters("iql.critic", Critic.Parameters);
        state.RestoreParameters("iql.critic_target", CriticTarget.Parameters);
        state.RestoreParameters("iql.value", Value.Parameters);
        state.RestoreAdam("iql.actor_optimizer", ActorOptimizer);
        state.RestoreAdam("iql.critic_optimizer", CriticOptimizer);
        state.RestoreAdam("iql.value_optimizer", ValueOptimizer);
        state.RestoreTensor("iql.value_loss", valueLoss);
        state.RestoreTensor("iql.q_loss", qLoss);
        state.RestoreTensor("iql.actor_loss", actorLoss);
        long steps = state.GetCounter("iql.steps");
        if (steps < 0) throw new InvalidDataException($"{state.Source}: iql.steps is {steps}; a count of updates cannot be negative");
        Steps = steps;
    }
}

public sealed partial class Td3BcAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.SetParameters("td3_bc.actor", Networks.Actor.Parameters);
        state.SetParameters("td3_bc.actor_target", Networks.ActorTarget.Parameters);
        state.SetParameters("td3_bc.critic", Networks.Critic.Parameters);
        state.SetParameters("td3_bc.critic_target", Networks.CriticTarget.Parameters);
        state.SetAdam("td3_bc.actor_optimizer", Networks.ActorOptimizer);
        state.SetAdam("td3_bc.critic_optimizer", Networks.CriticOptimizer);
        state.SetTensor("td3_bc.critic_loss", Operators.CriticLoss);
        state.SetTensor("td3_bc.actor_loss", Operators.ActorLoss);
        state.SetTensor("td3_bc.mean_q", Operators.MeanQ);
        state.SetTensor("td3_bc.lambda", Operators.Kappa);
        state.SetRandom("td3_bc.smoothing_random", Operators.SmoothingRandom);
        state.SetRandom("td3_bc.policy_random", ActingPolicy.NoiseRandom);
        // n_it decides which updates step the actor and the targets (every policy_delay-th).
        state.SetCounter("td3_bc.iterations", IterationCount);
    }

    /// <inheritdoc/>
    public void RestoreState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.RestoreParameters("td3_bc.actor", Networks.Actor.Parameters);
        state.RestoreParameters("td3_bc.actor_target", Networks.ActorTarget.Parameters);
        state.RestoreParameters("td3_bc.critic", Networks.Critic.Parameters);
        state.RestoreParameters("td3_bc.critic_target", Networks.CriticTarget.Parameters);
        state.RestoreAdam("td3_bc.actor_optimizer", Networks.ActorOptimizer);
        state.RestoreAdam("td3_bc.critic_optimizer", Networks.CriticOptimizer);
        state.RestoreTensor("td3_bc.critic_loss", Operators.CriticLoss);
        state.RestoreTensor("td3_bc.actor_loss", Operators.ActorLoss);
        state.RestoreTensor("td3_bc.mean_q", Operators.MeanQ);
        state.RestoreTensor("td3_bc.lambda", Operators.Kappa);
        state.RestoreRandom("td3_bc.smoothing_random", Operators.SmoothingRandom);
        state.RestoreRandom("td3_bc.policy_random", ActingPolicy.NoiseRandom);
        long iterations = state.GetCounter("td3_bc.iterations");
        if (iterations < 0) throw new InvalidDataException($"{state.Source}: td3_bc.iterations is {iterations}; a count of updates cannot be negative");
        IterationCount = iterations;
    }
}
