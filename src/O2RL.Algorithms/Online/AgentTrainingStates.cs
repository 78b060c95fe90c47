using O2RL.Algorithms.Training;
using O2RL.Engine;

namespace O2RL.Algorithms.Online;

// Full training state of the online learners for exact resume (see IResumableAgent). Tensor and counter names
// are the agent's own; a state is only ever restored into an agent built with the same config and seed.

public sealed partial class SacAgent : IResumableAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var sac = Learner;
        state.SetParameters("sac.actor", sac.Actor.Parameters);
        state.SetParameters("sac.critic", sac.Critic.Parameters);
        state.SetParameters("sac.critic_target", sac.TargetCritic.Parameters);
        state.SetAdam("sac.actor_optimizer", sac.ActorOptimizer);
        state.SetAdam("sac.critic_optimizer", sac.CriticOptimizer);
        state.SetAdam("sac.alpha_optimizer", sac.AlphaOptimizer);
        state.SetTensor("sac.log_alpha", sac.LogAlpha);
        // α as of the last update's start (not exp of the stepped log α): what the next LogMetrics reports.
        state.SetTensor("sac.alpha", sac.Alpha);
        state.SetTensor("sac.alpha_loss", sac.AlphaLoss);
        state.SetTensor("sac.actor_loss", sac.ActorLoss);
        state.SetTensor("sac.critic_loss", sac.CriticLoss);
        state.SetTensor("sac.mean_q", sac.MeanQ);
        state.SetRandom("sac.update_random", sac.UpdateRandom);
        state.SetRandom("sac.acting_random", sac.ActingRandom);
        state.SetCounter("sac.updates", Updates);
    }

    /// <inheritdoc/>
    public void RestoreState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var sac = Learner;
        state.RestoreParameters("sac.actor", sac.Actor.Parameters);
        state.RestoreParameters("sac.critic", sac.Critic.Parameters);
        state.RestoreParameters("sac.critic_target", sac.TargetCritic.Parameters);
        state.RestoreAdam("sac.actor_optimizer", sac.ActorOptimizer);
        state.RestoreAdam("sac.critic_optimizer", sac.CriticOptimizer);
        state.RestoreAdam("sac.alpha_optimizer", sac.AlphaOptimizer);
        state.RestoreTensor("sac.log_alpha", sac.LogAlpha);
        state.RestoreTensor("sac.alpha", sac.Alpha);
        state.RestoreTensor("sac.alpha_loss", sac.AlphaLoss);
        state.RestoreTensor("sac.actor_loss", sac.ActorLoss);
        state.RestoreTensor("sac.critic_loss", sac.CriticLoss);
        state.RestoreTensor("sac.mean_q", sac.MeanQ);
        state.RestoreRandom("sac.update_random", sac.UpdateRandom);
        state.RestoreRandom("sac.acting_random", sac.ActingRandom);
        Updates = state.GetCounter("sac.updates");
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
    public void SaveState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.SetParameters("td3.actor", Networks.Actor.Parameters);
        state.SetParameters("td3.actor_target", Networks.ActorTarget.Parameters);
        state.SetParameters("td3.critic", Networks.Critic.Parameters);
        state.SetParameters("td3.critic_target", Networks.CriticTarget.Parameters);
        state.SetAdam("td3.actor_optimizer", Networks.ActorOptimizer);
        state.SetAdam("td3.critic_optimizer", Networks.CriticOptimizer);
        state.SetTensor("td3.critic_loss", Operators.CriticLoss);
        state.SetTensor("td3.actor_loss", Operators.ActorLoss);
        state.SetTensor("td3.mean_q", Operators.MeanQ);
        state.SetTensor("td3.kappa", Operators.Kappa);
        state.SetRandom("td3.smoothing_random", Operators.SmoothingRandom);
        state.SetRandom("td3.exploration_random", ActingPolicy.NoiseRandom);
        state.SetReal("td3.exploration_noise", ActingPolicy.ExplorationNoise);
        state.SetCounter("td3.iterations", IterationCount);
    }

    /// <inheritdoc/>
    public void RestoreState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.RestoreParameters("td3.actor", Networks.Actor.Parameters);
        state.RestoreParameters("td3.actor_target", Networks.ActorTarget.Parameters);
        state.RestoreParameters("td3.critic", Networks.Critic.Parameters);
        state.RestoreParameters("td3.critic_target", Networks.CriticTarget.Parameters);
        state.RestoreAdam("td3.actor_optimizer", Networks.ActorOptimizer);
        state.RestoreAdam("td3.critic_optimizer", Networks.CriticOptimizer);
        state.RestoreTensor("td3.critic_loss", Operators.CriticLoss);
        state.RestoreTensor("td3.actor_loss", Operators.ActorLoss);
        state.RestoreTensor("td3.mean_q", Operators.MeanQ);
        state.RestoreTensor("td3.kappa", Operators.Kappa);
        state.RestoreRandom("td3.smoothing_random", Operators.SmoothingRandom);
        state.RestoreRandom("td3.exploration_random", ActingPolicy.NoiseRandom);
        ActingPolicy.ExplorationNoise = (float)state.GetReal("td3.exploration_noise");
        IterationCount = state.GetCounter("td3.iterations");
    }
}

public sealed partial class PpoAgent : IResumableAgent
{
    /// <inheritdoc/>
    public void SaveState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.SetParameters("ppo.actor", Actor.Parameters);
        state.SetParameters("ppo.critic", Critic.Parameters);
        // The optimisers' learning rates are part of their state (linear decay).
        state.SetAdam("ppo.actor_optimizer", ActorOptimizer);
        state.SetAdam("ppo.critic_optimizer", CriticOptimizer);
        state.SetRandom("ppo.noise_random", noiseStream);
        state.SetRandom("ppo.shuffle_random", shuffleRandom);
    }

    /// <inheritdoc/>
    public void RestoreState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.RestoreParameters("ppo.actor", Actor.Parameters);
        state.RestoreParameters("ppo.critic", Critic.Parameters);
        state.RestoreAdam("ppo.actor_optimizer", ActorOptimizer);
        state.RestoreAdam("ppo.critic_optimizer", CriticOptimizer);
        state.RestoreRandom("ppo.noise_random", noiseStream);
        state.RestoreRandom("ppo.shuffle_random", shuffleRandom);
    }
}
