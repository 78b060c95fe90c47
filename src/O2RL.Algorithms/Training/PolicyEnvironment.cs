using System.Globalization;
using O2RL.Data;
using O2RL.Envs;
using O2RL.Envs.Wrappers;

namespace O2RL.Algorithms.Training;

/// <summary>
/// The environment a policy of ours acts in: the registered task (with its time limit), actions rescaled to the
/// box [−1, 1]^d every actor produces when the task's box differs (Pendulum's torque is [−2, 2]; D4RL tasks are
/// already [−1, 1]), and observations normalised with the training constants when there are any.
/// </summary>
public static class PolicyEnvironment
{
    /// <summary>Creates <paramref name="environmentId"/> wrapped as described (null or identity normaliser: none).</summary>
    public static IEnvironment Make(string environmentId, StateNormalizer? normalizer)
    {
        IEnvironment environment = EnvironmentRegistry.Make(environmentId);
        if (!IsUnitBox(environment.ActionSpace)) environment = new RescaleAction(environment, -1f, 1f);
        if (normalizer is not null && !IsIdentity(normalizer))
        {
            if (normalizer.Dimension != environment.ObservationSpace.Dimension)
                throw new ArgumentException($"the policy was trained on {normalizer.Dimension} observation features but {environmentId} has {environment.ObservationSpace.Dimension}");
            environment = new NormalizeObservation(environment, normalizer.Mean, normalizer.Std);
        }
        return environment;
    }

    /// <summary>
    /// Adds the task's action box to a policy checkpoint's metadata as <c>action_low</c> / <c>action_high</c>
    /// (comma-separated) when it is not [−1, 1]^d. The actor acts in [−1, 1] (<see cref="Make"/> rescales), so
    /// without them a deployed policy (O2RL.Inference, <c>o2rl act</c>, the ONNX export) would hand the environment
    /// the unscaled action: half Pendulum's torque. An id the registry does not know is refused (register your own
    /// task with <see cref="EnvironmentRegistry.Register"/>); a task that cannot be created here (MuJoCo missing: every
    /// one of those has the [−1, 1] box) adds nothing.
    /// </summary>
    public static void AddActionBounds(IDictionary<string, string> metadata, string environmentId)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!EnvironmentRegistry.Specs.Any(s => s.Id == environmentId))
            throw new ArgumentException($"environment '{environmentId}' is not registered, so the checkpoint cannot record its action box; register it with EnvironmentRegistry.Register");
        if (!EnvironmentRegistry.ListAvailability().Any(a => a.Spec.Id == environmentId && a.Available)) return;
        using var environment = EnvironmentRegistry.Make(environmentId, timeLimit: false);
        var box = environment.ActionSpace;
        if (IsUnitBox(box)) return;
        metadata["action_low"] = string.Join(",", box.Low.ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        metadata["action_high"] = string.Join(",", box.High.ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
    }

    // The box every actor acts in: tasks with it need no rescaling, and checkpoints need not record it.
    internal static bool IsUnitBox(BoxSpace box)
    {
        for (int j = 0; j < box.Dimension; j++)
            if (box.Low[j] != -1f || box.High[j] != 1f) return false;
        return true;
    }

    static bool IsIdentity(StateNormalizer normalizer) => normalizer.Mean.All(m => m == 0f) && normalizer.Std.All(s => s == 1f);
}
