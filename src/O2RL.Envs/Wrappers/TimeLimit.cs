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

    bool truncated;

    /// <inheritdoc />
    public override void Reset(Span<float> observation, int? seed = null)
    {
        Inner.Reset(observation, seed);
        ElapsedSteps = 0;
        truncated = false;
    }

    /// <inheritdoc />
    public override void ContinueEndedEpisode()
    {
        Inner.ContinueEndedEpisode();
        truncated = false;
    }

    /// <inheritdoc />
    public override StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        // As after a termination: an episode that hit the limit is over, and another step would report (and let
        // EpisodeStatistics count) one more ended episode.
        if (truncated)
            throw new InvalidOperationException($"{Id}: Step was called after the episode reached its {MaxEpisodeSteps}-step limit; call Reset first");
        var result = Inner.Step(action, observation);
        ElapsedSteps++;
        if (ElapsedSteps >= MaxEpisodeSteps)
        {
            truncated = true;
            result = result with
            {
                Truncated = true,
                Info = result.Info with { Flags = result.Info.Flags | StepFlags.TimeLimitReached },
            };
        }
        return result;
    }
}
