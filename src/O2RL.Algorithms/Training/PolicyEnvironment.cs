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
        var box = environment.ActionSpace;
        bool unitBox = true;
        for (int j = 0; j < box.Dimension; j++) unitBox &= box.Low[j] == -1f && box.High[j] == 1f;
        if (!unitBox) environment = new RescaleAction(environment, -1f, 1f);
        if (normalizer is not null && !IsIdentity(normalizer))
        {
            if (normalizer.Dimension != environment.ObservationSpace.Dimension)
                throw new ArgumentException($"the policy was trained on {normalizer.Dimension} observation features but {environmentId} has {environment.ObservationSpace.Dimension}");
            environment = new NormalizeObservation(environment, normalizer.Mean, normalizer.Std);
        }
        return environment;
    }

    static bool IsIdentity(StateNormalizer normalizer) => normalizer.Mean.All(m => m == 0f) && normalizer.Std.All(s => s == 1f);
}
