using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Engine;
using O2RL.Engine.Distributions;

namespace O2RL.Algorithms.FineTuning.O2Td3;

/// <summary>
/// Stage-C acting (§4.5): a = μ_θ(s); the executed action is a + N(0, σ_e²I), NOT clipped by the agent (any
/// saturation is the simulator's). Deterministic acting (evaluation) returns μ_θ(s). The noise-free μ_θ(s) of
/// the latest exploring call is kept on the host (<see cref="LastNoiseFreeAction"/>) for the faithful replay
/// quirk. Runs the actor in <see cref="DeterministicActorPolicy.ActingSlot"/>, so it never disturbs an update.
/// </summary>
public sealed class O2Td3ActingPolicy : IPolicy
{
    readonly DeterministicActor actor;
    readonly Backend backend;
    readonly DeviceRandom random;
    readonly DeterministicTanh noise;
    readonly Tensor observationTensor, epsilon;
    readonly float[] noiseFree;

    /// <summary>Acts with <paramref name="actor"/> and exploration std σ_e = <paramref name="explorationNoise"/>.</summary>
    public O2Td3ActingPolicy(DeterministicActor actor, float explorationNoise, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(random);
        if (!(explorationNoise >= 0f) || float.IsInfinity(explorationNoise))
            throw new ArgumentOutOfRangeException(nameof(explorationNoise), explorationNoise, "exploration noise std must be finite and ≥ 0");
        this.actor = actor;
        this.random = random;
        backend = actor.Parameters.Backend;
        noise = new DeterministicTanh(backend, actor.ActionDim);
        observationTensor = backend.Allocate(1, actor.ObsDim);
        epsilon = backend.Allocate(1, actor.ActionDim);
        noiseFree = new float[actor.ActionDim];
        ExplorationNoise = explorationNoise;
    }

    /// <summary>σ_e.</summary>
    public float ExplorationNoise { get; }
    /// <summary>The stream of the exploration noise (its counter is part of the run state).</summary>
    public DeviceRandom Random => random;
    /// <summary>μ_θ(s) of the latest exploring <see cref="Act"/> (before the noise was added).</summary>
    public ReadOnlySpan<float> LastNoiseFreeAction => noiseFree;

    /// <inheritdoc/>
    public int ObservationDim => actor.ObsDim;

    /// <inheritdoc/>
    public int ActionDim => actor.ActionDim;

    /// <inheritdoc/>
    public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic)
    {
        if (observation.Length != ObservationDim)
            throw new ArgumentException($"observation has {observation.Length} values but the policy expects {ObservationDim}");
        if (action.Length != ActionDim)
            throw new ArgumentException($"action buffer has {action.Length} values but the policy produces {ActionDim}");
        backend.Upload(observation, observationTensor);
        var mu = actor.Forward(observationTensor, DeterministicActorPolicy.ActingSlot);
        if (deterministic)
        {
            backend.Download(mu, action);
            return;
        }
        backend.Download(mu, noiseFree);
        backend.Download(noise.NoisyAction(mu, epsilon, ExplorationNoise, drawNoiseFrom: random), action);
    }
}

/// <summary>
/// The acting policy as the online loop sees it under the faithful quirk (§4.5, pitfall 14): it executes the
/// noisy action and offers the noise-free μ_θ(s) for storage in the replay buffer. With
/// <c>store_executed_action = true</c> the agent exposes the bare <see cref="O2Td3ActingPolicy"/> instead, so the
/// executed action is stored.
/// </summary>
public sealed class NoiseFreeStoringPolicy(O2Td3ActingPolicy policy) : IPolicy, INoiseFreeActionSource
{
    /// <summary>The wrapped acting policy.</summary>
    public O2Td3ActingPolicy Inner { get; } = policy ?? throw new ArgumentNullException(nameof(policy));

    /// <inheritdoc/>
    public int ObservationDim => Inner.ObservationDim;

    /// <inheritdoc/>
    public int ActionDim => Inner.ActionDim;

    /// <inheritdoc/>
    public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic) => Inner.Act(observation, action, deterministic);

    /// <inheritdoc/>
    public void CopyNoiseFreeAction(Span<float> destination)
    {
        if (destination.Length != ActionDim) throw new ArgumentException($"destination has {destination.Length} values but the action has {ActionDim}", nameof(destination));
        Inner.LastNoiseFreeAction.CopyTo(destination);
    }
}
