using O2RL.Data;
using O2RL.Envs;

namespace O2RL.Algorithms.Training;

/// <summary>
/// Records D4RL-layout datasets by rolling a policy (or uniform random actions) in an environment: one row per
/// step with s, a, r, s′, terminals (true terminations only) and timeouts (time-limit ends), episodes back to
/// back as D4RL stores them.
/// </summary>
public static class DatasetCollection
{
    /// <summary>
    /// Runs <paramref name="steps"/> environment steps and returns the rows. Actions come from
    /// <paramref name="policy"/> (sampled unless <paramref name="deterministic"/>) or, when it is null, uniformly
    /// from the action space. Episode i is reset with seed DeriveSeed(<paramref name="seed"/>, i). The last row is
    /// the end of the budget, not of an episode, and is flagged neither terminal nor timeout (the Q-learning
    /// conversion never uses the final row).
    /// </summary>
    public static TransitionDataset Collect(IEnvironment environment, IPolicy? policy, int steps, int seed, bool deterministic = false, DatasetMetadata? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "collect at least one step");
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        if (policy is not null && (policy.ObservationDim != obsDim || policy.ActionDim != actionDim))
            throw new ArgumentException($"policy maps {policy.ObservationDim} → {policy.ActionDim} but the environment has obs {obsDim} / action {actionDim}");
        var observations = new float[steps * obsDim];
        var nextObservations = new float[steps * obsDim];
        var actions = new float[steps * actionDim];
        var rewards = new float[steps];
        var terminals = new bool[steps];
        var timeouts = new bool[steps];
        var random = new EnvRandom(seed ^ 0x0DA7A);
        int episode = 0;
        var observation = new float[obsDim];
        environment.Reset(observation, EnvRandom.DeriveSeed(seed, episode++));
        for (int t = 0; t < steps; t++)
        {
            var action = actions.AsSpan(t * actionDim, actionDim);
            if (policy is null) environment.ActionSpace.Sample(random, action);
            else policy.Act(observation, action, deterministic);
            observation.CopyTo(observations.AsSpan(t * obsDim, obsDim));
            var next = nextObservations.AsSpan(t * obsDim, obsDim);
            var result = environment.Step(action, next);
            rewards[t] = (float)result.Reward;
            terminals[t] = result.Terminated;
            timeouts[t] = result.Truncated && !result.Terminated;
            if (result.Done) environment.Reset(observation, EnvRandom.DeriveSeed(seed, episode++));
            else next.CopyTo(observation);
        }
        return new TransitionDataset(obsDim, actionDim, observations, actions, rewards, terminals, timeouts, nextObservations, metadata);
    }

    /// <summary>Mean undiscounted return of the dataset's complete episodes (ended by a terminal or a timeout).</summary>
    public static double MeanEpisodeReturn(TransitionDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        double total = 0;
        int count = 0, start = 0;
        double running = 0;
        for (int i = 0; i < dataset.RowCount; i++)
        {
            running += dataset.Rewards[i];
            if (dataset.Terminals[i] || dataset.Timeouts is { } timeouts && timeouts[i])
            {
                total += running; count++; running = 0; start = i + 1;
            }
        }
        if (count == 0) throw new ArgumentException($"the dataset of {dataset.RowCount} rows has no complete episode (rows {start}… never end)");
        return total / count;
    }
}
