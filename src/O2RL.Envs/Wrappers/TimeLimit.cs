namespace O2RL.Envs.Wrappers;

/// <summary>
/// Ends an episode after <see cref="MaxEpisodeSteps"/> steps by setting <see cref="StepResult.Truncated"/> (never
/// Terminated: a time limit is not a terminal state, so learners keep bootstrapping). As in Gymnasium, a step that
/// both terminates and hits the limit reports both.
/// </summary>
public sealed class TimeLimit : EnvironmentWrapper
{
    /// <summary>Wraps <paramref name="inner"/> with a limit of <paramref name="maxEpisodeSteps"/> steps.</summary>
    public TimeLimit(IEnvironment inner, int maxEpisodeSteps) : base(inner)
    {
        if (maxEpisodeSteps <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxEpisodeSteps), maxEpisodeSteps, "the step limit must be positive");
        MaxEpisodeSteps = maxEpisodeSteps;
    }

    /// <summary>Steps per episode before truncation.</summary>
    public int MaxEpisodeSteps { get; }

    /// <summary>Steps taken in the current episode.</summary>
    public int ElapsedSteps { get; private set; }

    /// <inheritdoc />
    public override void Reset(Span<float> observation, int? seed = null)
    {
        Inner.Reset(observation, seed);
        ElapsedSteps = 0;
    }

    /// <inheritdoc />
    public override StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        var result = Inner.Step(action, observation);
        ElapsedSteps++;
        if (ElapsedSteps >= MaxEpisodeSteps)
        {
            result = result with
            {
                Truncated = true,
                Info = result.Info with { Flags = result.Info.Flags | StepFlags.TimeLimitReached },
            };
        }
        return result;
    }
}
