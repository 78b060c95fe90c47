namespace O2RL.Envs;

/// <summary>
/// A single environment with Gymnasium semantics. Observations are float32 vectors written into spans the caller
/// provides, so a step allocates nothing.
/// </summary>
/// <remarks>
/// Call <see cref="Reset"/> before the first <see cref="Step"/> and after every step whose result is
/// <see cref="StepResult.Done"/>. An instance is not thread-safe; use one instance per thread (see VectorEnvironment).
/// </remarks>
public interface IEnvironment : IDisposable
{
    /// <summary>Registry id, e.g. "Hopper-v2".</summary>
    string Id { get; }

    /// <summary>Observation space: [observationDim].</summary>
    BoxSpace ObservationSpace { get; }

    /// <summary>Action space: [actionDim].</summary>
    BoxSpace ActionSpace { get; }

    /// <summary>
    /// Starts a new episode. A non-null <paramref name="seed"/> restarts the environment's random stream (as
    /// Gymnasium's reset(seed=…)); null continues it (the very first reset without a seed draws one from entropy).
    /// observation: [observationDim], receives the first observation.
    /// </summary>
    void Reset(Span<float> observation, int? seed = null);

    /// <summary>
    /// Advances one step. action: [actionDim]; observation: [observationDim], receives the next observation.
    /// </summary>
    StepResult Step(ReadOnlySpan<float> action, Span<float> observation);

    /// <summary>
    /// Lets the next <see cref="Step"/> advance an episode that has ended, without a <see cref="Reset"/>, as old Gym
    /// did when step was called after done: the simulator goes on from its current state and the step reports the end
    /// again (the time limit is still exceeded, or the termination test still fails). Only for reproducing the reference
    /// code's evaluation on the training instance (ALGORITHMS.md §8); everything else must call Reset. Environments that
    /// do not enforce the reset rule need do nothing.
    /// </summary>
    void ContinueEndedEpisode() { }
}

/// <summary>Convenience calls for code that does not mind one allocation per call.</summary>
public static class EnvironmentExtensions
{
    /// <summary>Resets and returns the first observation as a new array ([observationDim]).</summary>
    public static float[] Reset(this IEnvironment environment, int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var observation = new float[environment.ObservationSpace.Dimension];
        environment.Reset(observation, seed);
        return observation;
    }

    /// <summary>Steps and returns the next observation as a new array ([observationDim]) with the result.</summary>
    public static (float[] Observation, StepResult Result) Step(this IEnvironment environment, ReadOnlySpan<float> action)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var observation = new float[environment.ObservationSpace.Dimension];
        var result = environment.Step(action, observation);
        return (observation, result);
    }
}
