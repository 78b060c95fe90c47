namespace O2RL.Envs.Wrappers;

/// <summary>
/// Accumulates the undiscounted return and the length of each episode; on the step that ends an episode it puts
/// them into <see cref="StepInfo"/> (flag <see cref="StepFlags.EpisodeStatistics"/>) and into
/// <see cref="LastEpisodeReturn"/> / <see cref="LastEpisodeLength"/>.
/// </summary>
public sealed class EpisodeStatistics : EnvironmentWrapper
{
    private double episodeReturn;
    private int episodeLength;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public EpisodeStatistics(IEnvironment inner) : base(inner)
    {
    }

    /// <summary>Return of the running episode so far.</summary>
    public double CurrentReturn => episodeReturn;

    /// <summary>Steps of the running episode so far.</summary>
    public int CurrentLength => episodeLength;

    /// <summary>Return of the last finished episode (NaN before the first one ends).</summary>
    public double LastEpisodeReturn { get; private set; } = double.NaN;

    /// <summary>Length of the last finished episode (0 before the first one ends).</summary>
    public int LastEpisodeLength { get; private set; }

    /// <summary>Number of episodes finished.</summary>
    public int EpisodeCount { get; private set; }

    /// <inheritdoc />
    public override void Reset(Span<float> observation, int? seed = null)
    {
        Inner.Reset(observation, seed);
        episodeReturn = 0;
        episodeLength = 0;
    }

    /// <inheritdoc />
    public override StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        var result = Inner.Step(action, observation);
        episodeReturn += result.Reward;
        episodeLength++;
        if (result.Done)
        {
            LastEpisodeReturn = episodeReturn;
            LastEpisodeLength = episodeLength;
            EpisodeCount++;
            result = result with
            {
                Info = result.Info with
                {
                    Flags = result.Info.Flags | StepFlags.EpisodeStatistics,
                    EpisodeReturn = episodeReturn,
                    EpisodeLength = episodeLength,
                },
            };
        }
        return result;
    }
}
