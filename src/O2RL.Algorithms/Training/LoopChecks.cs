using O2RL.Envs;
using O2RL.Envs.Wrappers;

namespace O2RL.Algorithms.Training;

/// <summary>
/// Thrown by <see cref="Evaluator"/> when the policy returns a NaN action (weights or inputs that are not finite); the
/// training loops turn it into a <see cref="TrainingDivergedException"/> naming the last good checkpoint.
/// </summary>
public sealed class NonFiniteActionException(string message) : InvalidOperationException(message);

/// <summary>What the online loops check of the environment they are given, up front and at every step.</summary>
internal static class EnvironmentChecks
{
    /// <summary>
    /// Actors act in [−1, 1]: an environment with another box must be wrapped in <see cref="RescaleAction"/> (what
    /// <see cref="PolicyEnvironment.Make"/> does for every registered id), or the actor never reaches half the range
    /// while the random warm-up fills the buffer with actions it cannot produce.
    /// </summary>
    public static void ForActors(IEnvironment environment, IPolicy policy)
    {
        UnitActionBox(environment);
        var box = environment.ActionSpace;
        if (policy.ObservationDim != environment.ObservationSpace.Dimension || policy.ActionDim != box.Dimension)
            throw new ArgumentException(
                $"the policy takes {policy.ObservationDim} observation features and returns {policy.ActionDim} actions but {environment.Id} has {environment.ObservationSpace.Dimension} and {box.Dimension}");
    }

    /// <summary>The [−1, 1] box check of <see cref="ForActors"/> alone (datasets for actors need it too).</summary>
    public static void UnitActionBox(IEnvironment environment)
    {
        var box = environment.ActionSpace;
        if (!PolicyEnvironment.IsUnitBox(box))
            throw new ArgumentException(
                $"{environment.Id}: the action box is [{string.Join(", ", box.Low.ToArray())}] to [{string.Join(", ", box.High.ToArray())}], not [-1, 1]; " +
                "actors act in [-1, 1]: wrap the environment in RescaleAction(environment, -1, 1), as PolicyEnvironment.Make does for a registered id");
    }

    /// <summary>
    /// A NaN or infinite reward or observation from the environment, named as the environment's: stored, it would
    /// surface hundreds of updates later as a diverged loss (a NaN observation even looks harmless to a ReLU network).
    /// </summary>
    public static void Transition(IEnvironment environment, double reward, ReadOnlySpan<float> observation, long step)
    {
        if (!double.IsFinite(reward))
            throw new NonFiniteValueException($"{environment.Id}: the environment returned the reward {reward} at step {step:N0}; wrap it in FiniteGuard to find where it starts");
        for (int j = 0; j < observation.Length; j++)
            if (!float.IsFinite(observation[j]))
                throw new NonFiniteValueException($"{environment.Id}: the environment returned observation[{j}] = {observation[j]} at step {step:N0}");
    }
}

/// <summary>Checks the loops make on what a policy returns.</summary>
internal static class Divergence
{
    /// <summary>The first NaN entry of an action, or null: what a policy with diverged weights returns.</summary>
    public static int? FirstNaN(ReadOnlySpan<float> action)
    {
        for (int i = 0; i < action.Length; i++) if (float.IsNaN(action[i])) return i;
        return null;
    }
}
