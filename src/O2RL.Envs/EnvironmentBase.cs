namespace O2RL.Envs;

/// <summary>
/// Shared plumbing for the concrete environments: argument checks, seeding and the reset-before-step rule.
/// Subclasses implement <see cref="ResetCore"/> and <see cref="StepCore"/>.
/// </summary>
public abstract class EnvironmentBase : IEnvironment
{
    private bool needsReset = true;
    private bool seeded;
    private bool started;

    /// <summary>Creates the base with the environment's id and spaces.</summary>
    protected EnvironmentBase(string id, BoxSpace observationSpace, BoxSpace actionSpace)
    {
        Id = id;
        ObservationSpace = observationSpace;
        ActionSpace = actionSpace;
        Random = new EnvRandom(0);
    }

    /// <inheritdoc />
    public string Id { get; }

    /// <inheritdoc />
    public BoxSpace ObservationSpace { get; }

    /// <inheritdoc />
    public BoxSpace ActionSpace { get; }

    /// <summary>The environment's random stream (reset noise, goal sampling).</summary>
    protected EnvRandom Random { get; }

    /// <summary>Number of steps taken since the last reset.</summary>
    public int ElapsedSteps { get; private set; }

    /// <inheritdoc />
    public void Reset(Span<float> observation, int? seed = null)
    {
        ObservationSpace.CheckLength(observation.Length, "observation");
        if (seed is int s)
        {
            Random.Reseed(s);
            seeded = true;
        }
        else if (!seeded)
        {
            Random.Reseed(EnvRandom.EntropySeed());
            seeded = true;
        }
        ResetCore(observation);
        ElapsedSteps = 0;
        needsReset = false;
        started = true;
    }

    /// <inheritdoc />
    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        ActionSpace.CheckLength(action.Length, "action");
        ObservationSpace.CheckLength(observation.Length, "observation");
        if (needsReset)
            throw new InvalidOperationException($"{Id}: Step was called before Reset or after the episode ended; call Reset first");
        // NaN has no place in the box: MuJoCo would zero the whole control vector (its bad-control warning) and the
        // step would store a transition the action never produced; the classic-control tasks would turn every later
        // observation into NaN. ±∞ is clipped to the box like any out-of-range action, as in Gymnasium.
        for (int i = 0; i < action.Length; i++)
            if (float.IsNaN(action[i]))
                throw new ArgumentException($"{Id}: action[{i}] is NaN at step {ElapsedSteps + 1} of the episode; actions must be numbers", nameof(action));
        var result = StepCore(action, observation);
        ElapsedSteps++;
        if (result.Done) needsReset = true;
        return result;
    }

    /// <inheritdoc />
    public void ContinueEndedEpisode()
    {
        if (!started) throw new InvalidOperationException($"{Id}: there is no episode to continue; call Reset first");
        needsReset = false;
    }

    /// <summary>Starts an episode (the random stream is already seeded) and writes the first observation.</summary>
    protected abstract void ResetCore(Span<float> observation);

    /// <summary>Advances one step; lengths are already checked.</summary>
    protected abstract StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation);

    /// <summary>Releases native resources; the classic-control tasks hold none.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Override to release resources.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}
