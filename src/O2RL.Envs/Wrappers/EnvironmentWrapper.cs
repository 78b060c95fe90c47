namespace O2RL.Envs.Wrappers;

/// <summary>Base of the wrappers: forwards everything to <see cref="Inner"/> unless overridden.</summary>
public abstract class EnvironmentWrapper : IEnvironment
{
    /// <summary>Wraps <paramref name="inner"/>; the wrapper owns it and disposes it.</summary>
    protected EnvironmentWrapper(IEnvironment inner)
    {
        Inner = inner ?? throw new ArgumentNullException(nameof(inner));
    }

    /// <summary>The wrapped environment.</summary>
    public IEnvironment Inner { get; }

    /// <inheritdoc />
    public virtual string Id => Inner.Id;

    /// <inheritdoc />
    public virtual BoxSpace ObservationSpace => Inner.ObservationSpace;

    /// <inheritdoc />
    public virtual BoxSpace ActionSpace => Inner.ActionSpace;

    /// <inheritdoc />
    public virtual void Reset(Span<float> observation, int? seed = null) => Inner.Reset(observation, seed);

    /// <inheritdoc />
    public virtual StepResult Step(ReadOnlySpan<float> action, Span<float> observation) => Inner.Step(action, observation);

    /// <inheritdoc />
    public virtual void ContinueEndedEpisode() => Inner.ContinueEndedEpisode();

    /// <summary>The first wrapper or environment of type <typeparamref name="T"/> found going inwards from this one, or null.</summary>
    public T? Find<T>() where T : class, IEnvironment
    {
        IEnvironment current = this;
        while (true)
        {
            if (current is T match) return match;
            if (current is EnvironmentWrapper wrapper) current = wrapper.Inner;
            else return null;
        }
    }

    /// <summary>Disposes the wrapped environment.</summary>
    public void Dispose()
    {
        Inner.Dispose();
        GC.SuppressFinalize(this);
    }
}
