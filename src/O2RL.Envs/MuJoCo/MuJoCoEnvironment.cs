namespace O2RL.Envs.MuJoCo;

/// <summary>A saved MuJoCo simulation state (see <see cref="MuJoCoEnvironment.SaveState"/>).</summary>
/// <param name="Qpos">Positions, [nq].</param>
/// <param name="Qvel">Velocities, [nv].</param>
/// <param name="Act">Actuator activations, [na].</param>
/// <param name="QaccWarmstart">Solver warm start, [nv].</param>
/// <param name="Time">Simulation time.</param>
/// <param name="BodyPositions">Body frame positions as MuJoCo last computed them, [nbody, 3].</param>
public sealed record MuJoCoState(double[] Qpos, double[] Qvel, double[] Act, double[] QaccWarmstart, double Time, double[] BodyPositions);

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

    /// <summary>
    /// Captures the full simulation state: qpos, qvel, act, time and the solver's warm-start accelerations (MuJoCo
    /// 2.2.2 has no mj_getState), plus the body positions: after mj_step they still describe the state before the
    /// last substep, and the Ant's forward reward reads them. With these, a restored state replays bit for bit.
    /// </summary>
    public MuJoCoState SaveState() => new(
        Simulation.Qpos.ToArray(), Simulation.Qvel.ToArray(), Simulation.Act.ToArray(),
        Simulation.QaccWarmstart.ToArray(), Simulation.Time, Simulation.Xpos.ToArray());

    /// <summary>Restores a state captured by <see cref="SaveState"/> on the same task and recomputes derived quantities.</summary>
    public void RestoreState(MuJoCoState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Qpos.Length != Model.Nq || state.Qvel.Length != Model.Nv || state.Act.Length != Model.Na
            || state.QaccWarmstart.Length != Model.Nv || state.BodyPositions.Length != Model.Nbody * 3)
            throw new ArgumentException($"the state has sizes qpos {state.Qpos.Length}, qvel {state.Qvel.Length}, act {state.Act.Length}, "
                + $"qacc_warmstart {state.QaccWarmstart.Length}, body positions {state.BodyPositions.Length} but {Id} needs "
                + $"{Model.Nq}, {Model.Nv}, {Model.Na}, {Model.Nv}, {Model.Nbody * 3}");
        state.Qpos.CopyTo(Simulation.Qpos);
        state.Qvel.CopyTo(Simulation.Qvel);
        state.Act.CopyTo(Simulation.Act);
        Simulation.Time = state.Time;
        Simulation.Forward();
        // mj_forward overwrites the warm start and recomputes body positions from qpos; both are put back as saved.
        state.QaccWarmstart.CopyTo(Simulation.QaccWarmstart);
        state.BodyPositions.CopyTo(Simulation.Xpos);
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
