namespace O2RL.Envs.Wrappers;

/// <summary>Thrown by <see cref="FiniteGuard"/> when an environment produces NaN or infinity.</summary>
public sealed class NonFiniteValueException : InvalidOperationException
{
    /// <summary>Creates the exception with its message.</summary>
    public NonFiniteValueException(string message) : base(message)
    {
    }
}

/// <summary>
/// Checks every observation and reward and throws <see cref="NonFiniteValueException"/>, naming the environment,
/// the episode, the step and the offending entry, as soon as one is NaN or infinite, instead of letting the value
/// poison a replay buffer or a network.
/// </summary>
public sealed class FiniteGuard : EnvironmentWrapper
{
    private int episode = -1;
    private int step;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public FiniteGuard(IEnvironment inner) : base(inner)
    {
    }

    /// <inheritdoc />
    public override void Reset(Span<float> observation, int? seed = null)
    {
        Inner.Reset(observation, seed);
        episode++;
        step = 0;
        CheckObservation(observation);
    }

    /// <inheritdoc />
    public override StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        var result = Inner.Step(action, observation);
        step++;
        if (!double.IsFinite(result.Reward))
            throw new NonFiniteValueException($"{Id}: the reward is {result.Reward} at step {step} of episode {episode}");
        CheckObservation(observation);
        return result;
    }

    private void CheckObservation(ReadOnlySpan<float> observation)
    {
        // The message is only built on failure, so the check allocates nothing per step.
        for (int i = 0; i < observation.Length; i++)
        {
            if (!float.IsFinite(observation[i]))
                throw new NonFiniteValueException($"{Id}: observation[{i}] is {observation[i]} at {(step == 0 ? "reset" : $"step {step}")} of episode {episode}");
        }
    }
}
