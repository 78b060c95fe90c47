namespace O2RL.Data;

/// <summary>How raw D4RL rows become (s, a, r, s', m) transitions for Q-learning.</summary>
public enum QLearningMode
{
    /// <summary>
    /// D4RL's <c>qlearning_dataset</c> (the default, what SAC/TD3/CQL/IQL/TD3+BC expect): rows 0 … N−2;
    /// s' = observations[i+1] (stored next_observations ignored); time-limit rows are dropped (their s' would be
    /// the next episode's first state); terminal rows are kept with m = 1; the last row is always dropped.
    /// </summary>
    D4rl,

    /// <summary>
    /// Keep every row, with s' = the stored next_observations and m = terminals: time-limit rows stay in the data
    /// and bootstrap (truncated, not terminated). Needs a next_observations key.
    /// </summary>
    KeepAllRows,
}

/// <summary>Options of <see cref="DatasetConversions.ToQLearning"/>.</summary>
public sealed record QLearningOptions
{
    /// <summary>Which conversion to run (default: D4RL's).</summary>
    public QLearningMode Mode { get; init; } = QLearningMode.D4rl;

    /// <summary>
    /// Episode step limit used to infer time-limit ends when the file has no timeouts key, as D4RL does with the
    /// environment's limit: 1000 for the MuJoCo locomotion tasks (the default); Maze2D v1 files (which have no
    /// timeouts key) need their env's limit: umaze 300, medium 600, large 800. Null infers none.
    /// </summary>
    public int? TimeLimitWithoutTimeouts { get; init; } = 1000;
}

/// <summary>Conversions from the raw dataset layout to learner transitions.</summary>
public static class DatasetConversions
{
    /// <summary>The Q-learning dataset (see <see cref="QLearningMode"/>).</summary>
    public static Transitions ToQLearning(this TransitionDataset dataset, QLearningOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        options ??= new QLearningOptions();
        return options.Mode switch
        {
            QLearningMode.D4rl => D4rlQLearning(dataset, options.TimeLimitWithoutTimeouts),
            QLearningMode.KeepAllRows => KeepAllRows(dataset),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Mode, "unknown Q-learning mode"),
        };
    }

    /// <summary>Raw rows kept by D4RL's conversion: i in [0, N−2] whose row is not a time-limit end.</summary>
    public static int[] D4rlQLearningRows(TransitionDataset dataset, int? timeLimitWithoutTimeouts = 1000)
    {
        var limitEnds = dataset.TimeLimitEnds(timeLimitWithoutTimeouts);
        var rows = new List<int>(Math.Max(0, dataset.RowCount - 1));
        for (int i = 0; i < dataset.RowCount - 1; i++)
            if (!limitEnds[i]) rows.Add(i);
        return rows.ToArray();
    }

    static Transitions D4rlQLearning(TransitionDataset d, int? timeLimit)
    {
        int[] rows = D4rlQLearningRows(d, timeLimit);
        int n = rows.Length, od = d.ObservationDim, ad = d.ActionDim;
        var obs = new float[(long)n * od];
        var next = new float[(long)n * od];
        var act = new float[(long)n * ad];
        var rew = new float[n];
        var term = new float[n];
        // Kept rows come in runs of consecutive rows (whole episodes minus their time-limit row): copy run by run.
        for (int k = 0; k < n;)
        {
            int first = rows[k], length = 1;
            while (k + length < n && rows[k + length] == first + length) length++;
            Array.Copy(d.Observations, (long)first * od, obs, (long)k * od, (long)length * od);
            // s' is the next stored observation, as D4RL does; on a terminal row it belongs to the next episode,
            // which is harmless because the target is masked by (1 − m).
            Array.Copy(d.Observations, (long)(first + 1) * od, next, (long)k * od, (long)length * od);
            Array.Copy(d.Actions, (long)first * ad, act, (long)k * ad, (long)length * ad);
            Array.Copy(d.Rewards, first, rew, k, length);
            for (int j = 0; j < length; j++) term[k + j] = d.Terminals[first + j] ? 1f : 0f;
            k += length;
        }
        return new Transitions(od, ad, obs, act, rew, next, term, rows);
    }

    static Transitions KeepAllRows(TransitionDataset d)
    {
        if (d.NextObservations is null)
            throw new InvalidOperationException("the keep-all-rows conversion needs the next_observations key, which this dataset does not have; use the D4RL conversion");
        int n = d.RowCount;
        var term = new float[n];
        var rows = new int[n];
        for (int i = 0; i < n; i++) { term[i] = d.Terminals[i] ? 1f : 0f; rows[i] = i; }
        return new Transitions(d.ObservationDim, d.ActionDim, (float[])d.Observations.Clone(), (float[])d.Actions.Clone(),
            (float[])d.Rewards.Clone(), (float[])d.NextObservations.Clone(), term, rows);
    }

    /// <summary>
    /// The O2PPO offline conversion (ALGORITHMS §5.2): transitions i = 0 … N−2 with s' = observations[i+1],
    /// not_done = 1 − terminals[i]; timeouts are ignored (faithful quirk of the reference: transitions that cross a
    /// time-limit boundary are kept); actions clipped to ±<paramref name="actionClip"/>; Monte-Carlo returns
    /// G_i = r_i + γ·(1 − m_i)·G_{i+1} computed backwards in dataset order from G = 0 after the last transition.
    /// Rewards are taken as given: apply any reward scaling (e.g. <see cref="RunningRewardScaler"/>) to the
    /// dataset's rewards first, in dataset order.
    /// </summary>
    public static Transitions ToPpo(this TransitionDataset dataset, double gamma = 0.99, float actionClip = 1f - 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (!(gamma >= 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "discount must be in [0, 1]");
        if (!(actionClip > 0)) throw new ArgumentOutOfRangeException(nameof(actionClip), actionClip, "action clip must be positive");
        var d = dataset;
        int n = Math.Max(0, d.RowCount - 1), od = d.ObservationDim, ad = d.ActionDim;
        var obs = new float[(long)n * od];
        var next = new float[(long)n * od];
        var act = new float[(long)n * ad];
        var rew = new float[n];
        var term = new float[n];
        var rows = new int[n];
        if (n > 0)
        {
            Array.Copy(d.Observations, 0, obs, 0, (long)n * od);
            Array.Copy(d.Observations, od, next, 0, (long)n * od);
            Array.Copy(d.Rewards, rew, n);
        }
        for (long j = 0; j < (long)n * ad; j++) act[j] = Math.Clamp(d.Actions[j], -actionClip, actionClip);
        for (int i = 0; i < n; i++) { term[i] = d.Terminals[i] ? 1f : 0f; rows[i] = i; }
        var returns = new float[n];
        double g = 0;
        for (int i = n - 1; i >= 0; i--)
        {
            g = rew[i] + gamma * (1.0 - term[i]) * g;
            returns[i] = (float)g;
        }
        return new Transitions(od, ad, obs, act, rew, next, term, rows, returns);
    }
}
