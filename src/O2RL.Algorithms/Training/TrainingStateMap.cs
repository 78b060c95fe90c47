using O2RL.Engine;

namespace O2RL.Algorithms.Training;

/// <summary>
/// An agent's state entries listed once and walked in one of two directions: saving them into a
/// <see cref="TrainingState"/> or restoring them from it. An agent writes one <c>Map(TrainingStateMap)</c> method and
/// calls it from both <see cref="IResumableAgent.SaveState"/> and <see cref="IResumableAgent.RestoreState"/>, so what is
/// restored is always exactly what was saved, under the same names.
/// </summary>
public readonly struct TrainingStateMap
{
    readonly TrainingState state;

    TrainingStateMap(TrainingState state, bool restoring)
    {
        ArgumentNullException.ThrowIfNull(state);
        this.state = state;
        IsRestoring = restoring;
    }

    /// <summary>A map that stores every entry into <paramref name="state"/>.</summary>
    public static TrainingStateMap Saving(TrainingState state) => new(state, restoring: false);

    /// <summary>A map that loads every entry from <paramref name="state"/> into the agent's objects.</summary>
    public static TrainingStateMap Restoring(TrainingState state) => new(state, restoring: true);

    /// <summary>Whether this map restores (true) or saves (false).</summary>
    public bool IsRestoring { get; }

    /// <summary>Where the state was read from, for error messages (null for a state built in memory).</summary>
    public string? Source => state.Source;

    /// <summary>A parameter set's flat values.</summary>
    public void Parameters(string name, ParameterSet parameters)
    {
        if (IsRestoring) state.RestoreParameters(name, parameters);
        else state.SetParameters(name, parameters);
    }

    /// <summary>An Adam optimiser: moments, step count and current learning rate.</summary>
    public void Adam(string name, Adam optimizer)
    {
        if (IsRestoring) state.RestoreAdam(name, optimizer);
        else state.SetAdam(name, optimizer);
    }

    /// <summary>A device tensor's values (restored into a tensor of the same length).</summary>
    public void Tensor(string name, Tensor tensor)
    {
        if (IsRestoring) state.RestoreTensor(name, tensor);
        else state.SetTensor(name, tensor);
    }

    /// <summary>A device random stream's position (its seed is checked on restore).</summary>
    public void Random(string name, DeviceRandom random)
    {
        if (IsRestoring) state.RestoreRandom(name, random);
        else state.SetRandom(name, random);
    }

    /// <summary>A host random stream's position (its seed is checked on restore).</summary>
    public void Random(string name, HostRandom random)
    {
        if (IsRestoring) state.RestoreRandom(name, random);
        else state.SetRandom(name, random);
    }

    /// <summary>
    /// A count (updates, steps, iterations): saves <paramref name="value"/> and returns it, or returns the stored one.
    /// A negative stored count is refused: no count of updates is.
    /// </summary>
    public long Count(string name, long value)
    {
        if (!IsRestoring)
        {
            state.SetCounter(name, value);
            return value;
        }
        long stored = state.GetCounter(name);
        if (stored < 0) throw new InvalidDataException($"{state.Source}: {name} is {stored}; a count cannot be negative");
        return stored;
    }

    /// <summary>
    /// A part with its own save and restore methods (a Lagrange multiplier, a reference tracker): runs the one that
    /// matches this map's direction.
    /// </summary>
    public void Part(Action<TrainingState> save, Action<TrainingState> restore)
    {
        ArgumentNullException.ThrowIfNull(save);
        ArgumentNullException.ThrowIfNull(restore);
        (IsRestoring ? restore : save)(state);
    }

    /// <summary>A real number, stored exactly: saves <paramref name="value"/> and returns it, or returns the stored one.</summary>
    public double Real(string name, double value)
    {
        if (!IsRestoring)
        {
            state.SetReal(name, value);
            return value;
        }
        return state.GetReal(name);
    }
}
