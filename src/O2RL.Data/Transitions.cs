namespace O2RL.Data;

/// <summary>
/// (s, a, r, s', m) transitions ready for an offline learner or a replay buffer, as a struct of arrays.
/// m is the "true terminal" flag: the bootstrap mask is (1 − m).
/// </summary>
public sealed class Transitions
{
    /// <summary>Wraps the given arrays (not copied); throws when their lengths disagree.</summary>
    /// <param name="observationDim">obs_dim.</param>
    /// <param name="actionDim">act_dim.</param>
    /// <param name="observations">s: [count, obsDim].</param>
    /// <param name="actions">a: [count, actDim].</param>
    /// <param name="rewards">r: [count].</param>
    /// <param name="nextObservations">s': [count, obsDim].</param>
    /// <param name="terminals">m as 0/1: [count].</param>
    /// <param name="sourceRows">the raw dataset row each transition came from: [count], or null.</param>
    /// <param name="monteCarloReturns">discounted returns G: [count], or null (PPO conversion only).</param>
    public Transitions(int observationDim, int actionDim, float[] observations, float[] actions, float[] rewards,
        float[] nextObservations, float[] terminals, int[]? sourceRows = null, float[]? monteCarloReturns = null)
    {
        int count = rewards.Length;
        if (observationDim < 1 || actionDim < 1)
            throw new ArgumentOutOfRangeException(nameof(observationDim), $"dimensions must be positive: obs {observationDim}, action {actionDim}");
        if (observations.Length != (long)count * observationDim || nextObservations.Length != observations.Length)
            throw new ArgumentException($"{count} transitions of {observationDim} observation dimensions need {(long)count * observationDim} values; got observations {observations.Length}, next observations {nextObservations.Length}");
        if (actions.Length != (long)count * actionDim)
            throw new ArgumentException($"{count} transitions of {actionDim} action dimensions need {(long)count * actionDim} values; got {actions.Length}");
        if (terminals.Length != count) throw new ArgumentException($"terminals has {terminals.Length} entries for {count} transitions");
        if (sourceRows is not null && sourceRows.Length != count) throw new ArgumentException($"sourceRows has {sourceRows.Length} entries for {count} transitions");
        if (monteCarloReturns is not null && monteCarloReturns.Length != count) throw new ArgumentException($"returns has {monteCarloReturns.Length} entries for {count} transitions");
        ObservationDim = observationDim;
        ActionDim = actionDim;
        Observations = observations;
        Actions = actions;
        Rewards = rewards;
        NextObservations = nextObservations;
        Terminals = terminals;
        SourceRows = sourceRows;
        MonteCarloReturns = monteCarloReturns;
    }

    /// <summary>Number of transitions.</summary>
    public int Count => Rewards.Length;

    /// <summary>obs_dim.</summary>
    public int ObservationDim { get; }

    /// <summary>act_dim.</summary>
    public int ActionDim { get; }

    /// <summary>s: [Count, ObservationDim].</summary>
    public float[] Observations { get; }

    /// <summary>a: [Count, ActionDim].</summary>
    public float[] Actions { get; }

    /// <summary>r: [Count].</summary>
    public float[] Rewards { get; }

    /// <summary>s': [Count, ObservationDim].</summary>
    public float[] NextObservations { get; }

    /// <summary>m (1 = true terminal, no bootstrap): [Count].</summary>
    public float[] Terminals { get; }

    /// <summary>Raw dataset row of each transition: [Count], when known.</summary>
    public int[]? SourceRows { get; }

    /// <summary>Discounted Monte-Carlo returns: [Count], from the PPO conversion only.</summary>
    public float[]? MonteCarloReturns { get; }

    /// <summary>Applies r ← scale·r + shift to every reward in place (e.g. AntMaze 10·r − 5 for O2SAC).</summary>
    public void TransformRewards(float scale, float shift)
    {
        for (int i = 0; i < Rewards.Length; i++) Rewards[i] = scale * Rewards[i] + shift;
    }

    /// <summary>Number of transitions with m = 1.</summary>
    public int TerminalCount => Terminals.Count(m => m != 0f);
}
