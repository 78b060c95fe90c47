namespace O2RL.Data;

/// <summary>
/// Descriptive metadata stored with a dataset: where it came from and how it was made. Every field is optional
/// because D4RL files carry none of them.
/// </summary>
public sealed record DatasetMetadata
{
    /// <summary>Environment or task id, e.g. "hopper-medium-v2" or "Pendulum-v1".</summary>
    public string? EnvironmentId { get; init; }

    /// <summary>Dataset level: random, medium, medium-replay, expert, medium-expert, full-replay, or our own.</summary>
    public string? Level { get; init; }

    /// <summary>Mean undiscounted episode return of the behaviour policy when it was measured at generation.</summary>
    public double? BehaviourReturn { get; init; }

    /// <summary>Version of the program that generated the file.</summary>
    public string? GeneratorVersion { get; init; }

    /// <summary>Seed of the generating run.</summary>
    public long? Seed { get; init; }

    /// <summary>D4RL's <c>metadata/algorithm</c> string ("SAC") when present.</summary>
    public string? Algorithm { get; init; }

    /// <summary>Which policy produced the rows, in words (e.g. "SAC policy after 1,000,000 steps (final), sampled actions").</summary>
    public string? BehaviourPolicy { get; init; }

    /// <summary>No metadata.</summary>
    public static DatasetMetadata Empty { get; } = new();
}

/// <summary>How an episode (a run of rows between boundaries) ended.</summary>
public enum EpisodeEnd
{
    /// <summary>The last row has <c>terminals</c> set: a true termination (the bootstrap mask is 0).</summary>
    Terminal,
    /// <summary>The last row has <c>timeouts</c> set (or hit the step limit when the file has no timeouts): a truncation.</summary>
    TimeLimit,
    /// <summary>The file ended before the episode did (neither flag on its last row).</summary>
    CutOff,
}

/// <summary>One episode of a dataset: rows [Start, Start + Length).</summary>
/// <param name="Start">First row.</param>
/// <param name="Length">Number of rows (steps).</param>
/// <param name="Return">Undiscounted sum of the rewards of its rows.</param>
/// <param name="End">How it ended.</param>
public readonly record struct Episode(int Start, int Length, double Return, EpisodeEnd End);

/// <summary>
/// A dataset in D4RL's raw layout as a struct of arrays: row i is the transition taken from observation i.
/// Rows are stored episode after episode; an episode ends at a row with <see cref="Terminals"/> or
/// <see cref="Timeouts"/> set, and the last episode may be cut off by the end of the file.
/// </summary>
public sealed class TransitionDataset
{
    /// <summary>Builds a dataset over the given arrays (not copied). Throws when their lengths disagree.</summary>
    /// <param name="observationDim">obs_dim.</param>
    /// <param name="actionDim">act_dim.</param>
    /// <param name="observations">s_t: [rows, obsDim], row-major.</param>
    /// <param name="actions">a_t: [rows, actDim].</param>
    /// <param name="rewards">r_t: [rows].</param>
    /// <param name="terminals">true iff the env terminated at this step: [rows].</param>
    /// <param name="timeouts">true iff this step was the time-limit end: [rows], or null when the file has no timeouts key.</param>
    /// <param name="nextObservations">stored s_{t+1}: [rows, obsDim], or null when absent.</param>
    /// <param name="metadata">descriptive metadata.</param>
    public TransitionDataset(int observationDim, int actionDim, float[] observations, float[] actions, float[] rewards,
        bool[] terminals, bool[]? timeouts = null, float[]? nextObservations = null, DatasetMetadata? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(observations);
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentNullException.ThrowIfNull(rewards);
        ArgumentNullException.ThrowIfNull(terminals);
        if (observationDim < 1) throw new ArgumentOutOfRangeException(nameof(observationDim), observationDim, "observation dimension must be at least 1");
        if (actionDim < 1) throw new ArgumentOutOfRangeException(nameof(actionDim), actionDim, "action dimension must be at least 1");
        int rows = rewards.Length;
        if (observations.Length != (long)rows * observationDim)
            throw new ArgumentException($"observations has {observations.Length} values but {rows} rows × {observationDim} dimensions need {(long)rows * observationDim}");
        if (actions.Length != (long)rows * actionDim)
            throw new ArgumentException($"actions has {actions.Length} values but {rows} rows × {actionDim} dimensions need {(long)rows * actionDim}");
        if (terminals.Length != rows) throw new ArgumentException($"terminals has {terminals.Length} rows but rewards has {rows}");
        if (timeouts is not null && timeouts.Length != rows) throw new ArgumentException($"timeouts has {timeouts.Length} rows but rewards has {rows}");
        if (nextObservations is not null && nextObservations.Length != observations.Length)
            throw new ArgumentException($"next_observations has {nextObservations.Length} values but observations has {observations.Length}");
        ObservationDim = observationDim;
        ActionDim = actionDim;
        Observations = observations;
        Actions = actions;
        Rewards = rewards;
        Terminals = terminals;
        Timeouts = timeouts;
        NextObservations = nextObservations;
        Metadata = metadata ?? DatasetMetadata.Empty;
    }

    /// <summary>Number of rows N.</summary>
    public int RowCount => Rewards.Length;

    /// <summary>obs_dim.</summary>
    public int ObservationDim { get; }

    /// <summary>act_dim.</summary>
    public int ActionDim { get; }

    /// <summary>s_t: [RowCount, ObservationDim], row-major.</summary>
    public float[] Observations { get; }

    /// <summary>a_t: [RowCount, ActionDim].</summary>
    public float[] Actions { get; }

    /// <summary>r_t: [RowCount].</summary>
    public float[] Rewards { get; }

    /// <summary>True termination flags: [RowCount].</summary>
    public bool[] Terminals { get; }

    /// <summary>Time-limit truncation flags: [RowCount]; null when the source had no timeouts key.</summary>
    public bool[]? Timeouts { get; }

    /// <summary>Stored s_{t+1}: [RowCount, ObservationDim]; null when absent.</summary>
    public float[]? NextObservations { get; }

    /// <summary>Descriptive metadata.</summary>
    public DatasetMetadata Metadata { get; }

    /// <summary>Number of rows with a terminal flag.</summary>
    public int TerminalCount => Terminals.Count(t => t);

    /// <summary>Number of rows with a timeout flag (0 when there is no timeouts key).</summary>
    public int TimeoutCount => Timeouts?.Count(t => t) ?? 0;

    /// <summary>Row i of the observations as a span.</summary>
    public ReadOnlySpan<float> Observation(int row) => Observations.AsSpan(row * ObservationDim, ObservationDim);

    /// <summary>Row i of the actions as a span.</summary>
    public ReadOnlySpan<float> Action(int row) => Actions.AsSpan(row * ActionDim, ActionDim);

    /// <summary>
    /// Rows where an episode ends by time limit. With a timeouts key this is the key itself. Without one
    /// (old v0 files, Maze2D) a step counter marks the <paramref name="timeLimit"/>-th step of each episode, where
    /// the count restarts after every terminal or inferred time-limit row; a null limit infers none.
    /// (D4RL's own counter restarts at 1 rather than 0 after a terminal row; we count every episode from 0.)
    /// </summary>
    public bool[] TimeLimitEnds(int? timeLimit)
    {
        if (Timeouts is not null) return Timeouts;
        var ends = new bool[RowCount];
        if (timeLimit is not int limit) return ends;
        if (limit < 1) throw new ArgumentOutOfRangeException(nameof(timeLimit), limit, "time limit must be at least 1 step");
        int step = 0;
        for (int i = 0; i < RowCount; i++)
        {
            if (Terminals[i]) { step = 0; continue; }
            if (step == limit - 1) { ends[i] = true; step = 0; continue; }
            step++;
        }
        return ends;
    }

    /// <summary>
    /// Splits the rows into episodes, cutting after every row where terminals or timeouts is set (D4RL's
    /// sequence_dataset rule). The last episode is reported as <see cref="EpisodeEnd.CutOff"/> when neither flag
    /// is set on the final row. <paramref name="timeLimit"/> is only used when the file has no timeouts key.
    /// </summary>
    public IReadOnlyList<Episode> Episodes(int? timeLimit = null)
    {
        var limitEnds = TimeLimitEnds(timeLimit);
        var episodes = new List<Episode>();
        int start = 0;
        double sum = 0;
        for (int i = 0; i < RowCount; i++)
        {
            sum += Rewards[i];
            if (Terminals[i] || limitEnds[i])
            {
                episodes.Add(new Episode(start, i - start + 1, sum, Terminals[i] ? EpisodeEnd.Terminal : EpisodeEnd.TimeLimit));
                start = i + 1;
                sum = 0;
            }
        }
        if (start < RowCount) episodes.Add(new Episode(start, RowCount - start, sum, EpisodeEnd.CutOff));
        return episodes;
    }
}
