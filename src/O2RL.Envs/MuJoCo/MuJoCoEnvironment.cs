namespace O2RL.Envs.MuJoCo;

/// <summary>
/// Base of the MuJoCo tasks: one mjData on a shared compiled model, frame skipping, and the instability guard.
/// </summary>
/// <remarks>
/// When MuJoCo meets a NaN or huge value it prints a warning and silently resets the state to the default pose.
/// Continuing from there would splice an unrelated state into the episode, so the step that hits it ends the
/// episode: Terminated with <see cref="StepFlags.SimulatorInstability"/>, reward 0, and the observation of the
/// state MuJoCo reset to. It is reported as terminated rather than truncated because that observation does not
/// continue the trajectory, so a learner must not bootstrap from it.
/// </remarks>
public abstract class MuJoCoEnvironment : EnvironmentBase
{
    private protected MuJoCoEnvironment(string id, MjModel model, int frameSkip, BoxSpace observationSpace, BoxSpace actionSpace)
        : base(id, observationSpace, actionSpace)
    {
        if (frameSkip <= 0) throw new ArgumentOutOfRangeException(nameof(frameSkip), frameSkip, "frame skip must be positive");
        Model = model;
        Simulation = new MjSimulation(model);
        FrameSkip = frameSkip;
        Dt = model.Timestep * frameSkip;
        if (model.Nu != actionSpace.Dimension)
            throw new MuJoCoException($"{id}: the model has {model.Nu} actuators but the action space has {actionSpace.Dimension} dimensions");
    }

    internal MjModel Model { get; }

    internal MjSimulation Simulation { get; }

    /// <summary>mj_step calls per environment step.</summary>
    public int FrameSkip { get; }

    /// <summary>Time per environment step: opt.timestep × frame skip (the reward's time base).</summary>
    public double Dt { get; }

    /// <summary>Generalised positions of the current state, [nq] (a copy).</summary>
    public double[] GetQpos() => Simulation.Qpos.ToArray();

    /// <summary>Generalised velocities of the current state, [nv] (a copy).</summary>
    public double[] GetQvel() => Simulation.Qvel.ToArray();

    /// <summary>
    /// Sets qpos [nq] and qvel [nv] and recomputes derived quantities (mj_forward), as Gym's set_state does.
    /// </summary>
    public void SetState(ReadOnlySpan<double> qpos, ReadOnlySpan<double> qvel)
    {
        if (qpos.Length != Model.Nq) throw new ArgumentException($"qpos has {qpos.Length} entries but {Id} has nq = {Model.Nq}");
        if (qvel.Length != Model.Nv) throw new ArgumentException($"qvel has {qvel.Length} entries but {Id} has nv = {Model.Nv}");
        qpos.CopyTo(Simulation.Qpos);
        qvel.CopyTo(Simulation.Qvel);
        Simulation.Forward();
    }

    /// <summary>Writes the observation of the current state.</summary>
    public void WriteObservation(Span<float> observation)
    {
        ObservationSpace.CheckLength(observation.Length, "observation");
        Observe(observation);
    }

    /// <summary>Writes the observation of the current state; the length is already checked.</summary>
    private protected abstract void Observe(Span<float> observation);

    /// <summary>Adds the task's reset noise to qpos [nq] and qvel [nv] (which hold the default pose and zeros).</summary>
    private protected abstract void AddResetNoise(Span<double> qpos, Span<double> qvel);

    /// <inheritdoc />
    protected override void ResetCore(Span<float> observation)
    {
        Simulation.Reset();
        AddResetNoise(Simulation.Qpos, Simulation.Qvel);
        Simulation.Forward();
        Observe(observation);
    }

    /// <summary>Runs the frame-skipped simulation; false when MuJoCo detected instability.</summary>
    private protected bool Simulate() => Simulation.Step(FrameSkip);

    /// <summary>The result of a step on which the simulator became unstable.</summary>
    private protected StepResult Unstable(Span<float> observation)
    {
        Observe(observation);
        return new StepResult(0.0, true, false, new StepInfo(StepFlags.SimulatorInstability));
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) Simulation.Dispose();
    }
}
