using O2RL.Engine;

namespace O2RL.Algorithms.Training;

/// <summary>
/// Acts on one host observation at a time (environment interaction, evaluation, deployment checks).
/// Implementations run the actor at batch size 1 in a slot of their own, so acting never disturbs the buffers
/// of a training update.
/// </summary>
public interface IPolicy
{
    /// <summary>Observation features.</summary>
    int ObservationDim { get; }

    /// <summary>Action features.</summary>
    int ActionDim { get; }

    /// <summary>Writes the action for an observation: the deterministic one, or a sample from the policy.</summary>
    void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic);
}

/// <summary>
/// An <see cref="IPolicy"/> over a device actor: uploads the observation into a [1, obsDim] tensor, runs the
/// given device function and downloads the [1, actionDim] result. Allocation-free per call.
/// </summary>
public sealed class DevicePolicy : IPolicy
{
    readonly Tensor observation;
    readonly Func<Tensor, bool, Tensor> act;
    readonly Backend backend;

    /// <summary>
    /// <paramref name="act"/> maps a [1, obsDim] observation and the deterministic flag to a [1, actionDim]
    /// action tensor on the device (it should use a slot reserved for acting).
    /// </summary>
    public DevicePolicy(Backend backend, int observationDim, int actionDim, Func<Tensor, bool, Tensor> act)
    {
        this.backend = backend;
        this.act = act;
        ObservationDim = observationDim;
        ActionDim = actionDim;
        observation = backend.Allocate(1, observationDim);
    }

    /// <inheritdoc/>
    public int ObservationDim { get; }

    /// <inheritdoc/>
    public int ActionDim { get; }

    /// <inheritdoc/>
    public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic)
    {
        if (observation.Length != ObservationDim)
            throw new ArgumentException($"observation has {observation.Length} values but the policy expects {ObservationDim}");
        if (action.Length != ActionDim)
            throw new ArgumentException($"action buffer has {action.Length} values but the policy produces {ActionDim}");
        backend.Upload(observation, this.observation);
        backend.Download(act(this.observation, deterministic), action);
    }
}

/// <summary>
/// A policy whose exploring action is a noisy version of a noise-free one (O2TD3 acts with μ(s) + ε but stores
/// μ(s), ALGORITHMS.md §4.5, pitfall 14). When an off-policy agent's <see cref="IOffPolicyAgent.Policy"/>
/// implements this, the online loop executes the noisy action and stores the noise-free one in the replay buffer.
/// </summary>
public interface INoiseFreeActionSource
{
    /// <summary>
    /// Writes the noise-free action that belongs to the latest exploring <see cref="IPolicy.Act"/> call
    /// (deterministic = false): [actDim].
    /// </summary>
    void CopyNoiseFreeAction(Span<float> destination);
}
