namespace O2RL.Envs;

/// <summary>Events an environment or wrapper reports about one step (bit flags, no allocation).</summary>
[Flags]
public enum StepFlags
{
    /// <summary>Nothing to report.</summary>
    None = 0,

    /// <summary>
    /// The physics simulator became unstable (NaN, infinite or huge state) and would have silently reset itself;
    /// the episode was ended with <see cref="StepResult.Terminated"/> instead.
    /// </summary>
    SimulatorInstability = 1,

    /// <summary>A goal-reaching task's goal was reached on this step (maze tasks).</summary>
    GoalReached = 2,

    /// <summary>The time-limit wrapper truncated the episode on this step.</summary>
    TimeLimitReached = 4,

    /// <summary>
    /// The episode ended on this step and <see cref="StepInfo.EpisodeReturn"/> / <see cref="StepInfo.EpisodeLength"/>
    /// hold its totals (set by the episode-statistics wrapper).
    /// </summary>
    EpisodeStatistics = 8,

    /// <summary>The environment was unhealthy after this step (locomotion tasks; it terminates).</summary>
    Unhealthy = 16,
}

/// <summary>Per-step extra information, a plain struct instead of Gymnasium's info dictionary.</summary>
/// <param name="Flags">Events of this step.</param>
/// <param name="EpisodeReturn">Undiscounted return of the episode that ended here (valid with <see cref="StepFlags.EpisodeStatistics"/>).</param>
/// <param name="EpisodeLength">Number of steps of the episode that ended here (valid with <see cref="StepFlags.EpisodeStatistics"/>).</param>
/// <param name="ForwardVelocity">Forward (x) velocity used in a locomotion reward; 0 for other tasks.</param>
public readonly record struct StepInfo(StepFlags Flags, double EpisodeReturn = 0, int EpisodeLength = 0, double ForwardVelocity = 0)
{
    /// <summary>True when every flag in <paramref name="flags"/> is set.</summary>
    public bool Has(StepFlags flags) => (Flags & flags) == flags;
}

/// <summary>
/// What one step returns besides the observation (which is written into a caller-provided span).
/// </summary>
/// <param name="Reward">Reward of this transition.</param>
/// <param name="Terminated">The MDP reached a terminal state (fell, goal reached, …): do not bootstrap.</param>
/// <param name="Truncated">The episode was cut (time limit) in a non-terminal state: bootstrap from the observation.</param>
/// <param name="Info">Flags and statistics.</param>
public readonly record struct StepResult(double Reward, bool Terminated, bool Truncated, StepInfo Info = default)
{
    /// <summary>The episode is over (terminated or truncated) and the environment must be reset.</summary>
    public bool Done => Terminated || Truncated;
}
