namespace O2RL.Envs.MuJoCo;

/// <summary>
/// The Gym v2 locomotion task shape shared by Hopper, Walker2d, HalfCheetah and Ant (the versions D4RL's
/// datasets were collected with): clip the action to [−1, 1] (D4RL's wrapper), run frame_skip mj_steps, reward =
/// forward velocity + healthy reward − ctrl weight·Σa² (− contact cost for Ant), terminate when unhealthy.
/// The 1000-step limit is added by the registry as a <see cref="Wrappers.TimeLimit"/>.
/// </summary>
public abstract class LocomotionEnvironment : MuJoCoEnvironment
{
    private protected LocomotionEnvironment(string id, string modelName, int frameSkip, int observationDim, double controlCostWeight, double healthyReward)
        : this(id, MuJoCoModels.GetCompiled(modelName), frameSkip, observationDim, controlCostWeight, healthyReward)
    {
    }

    private protected LocomotionEnvironment(string id, MjModel model, int frameSkip, int observationDim, double controlCostWeight, double healthyReward)
        : base(id, model, frameSkip,
               BoxSpace.Uniform(observationDim, float.NegativeInfinity, float.PositiveInfinity),
               BoxSpace.Uniform(model.Nu, -1f, 1f))
    {
        ControlCostWeight = controlCostWeight;
        HealthyReward = healthyReward;
    }

    /// <summary>Weight of Σa² in the reward.</summary>
    public double ControlCostWeight { get; }

    /// <summary>Reward per step for staying healthy (0 for HalfCheetah).</summary>
    public double HealthyReward { get; }

    /// <summary>x coordinate whose change over one step is the forward velocity.</summary>
    private protected virtual double ForwardPosition() => Simulation.Qpos[0];

    /// <summary>Whether the current state is healthy (episodes terminate when it is not).</summary>
    private protected abstract bool IsHealthy();

    /// <summary>Extra cost subtracted from the reward (Ant's contact cost); called after the physics step.</summary>
    private protected virtual double ExtraCost() => 0.0;

    /// <inheritdoc />
    protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation)
    {
        var ctrl = Simulation.Ctrl;
        double squaredAction = 0;
        for (int i = 0; i < ctrl.Length; i++)
        {
            // D4RL clips the agent's action to the box before the env sees it; the control cost uses the clipped value.
            double a = Math.Clamp((double)action[i], -1.0, 1.0);
            ctrl[i] = a;
            squaredAction += a * a;
        }

        double xBefore = ForwardPosition();
        if (!Simulate()) return Unstable(observation);
        double forwardVelocity = (ForwardPosition() - xBefore) / Dt;

        bool healthy = IsHealthy();
        double reward = forwardVelocity + HealthyReward - ControlCostWeight * squaredAction - ExtraCost();
        Observe(observation);
        var flags = healthy ? StepFlags.None : StepFlags.Unhealthy;
        return new StepResult(reward, !healthy, false, new StepInfo(flags, ForwardVelocity: forwardVelocity));
    }

    private protected static void AddUniformNoise(EnvRandom random, Span<double> values, double scale)
    {
        for (int i = 0; i < values.Length; i++) values[i] += random.Uniform(-scale, scale);
    }

    private protected static void AddNormalNoise(EnvRandom random, Span<double> values, double scale)
    {
        for (int i = 0; i < values.Length; i++) values[i] += scale * random.Normal();
    }

    private protected static bool AllFinite(ReadOnlySpan<double> values)
    {
        foreach (var v in values)
            if (!double.IsFinite(v)) return false;
        return true;
    }
}

/// <summary>
/// Hopper-v2 (reproduces Gym's mujoco-py Hopper-v2, as used for D4RL hopper-*-v2): observation [11] =
/// qpos[1..5], clip(qvel, −10, 10); action [3]; reward = vx + 1 − 0.001·Σa²; healthy while every entry of
/// (qpos[2:], qvel) is finite with |·| &lt; 100, height &gt; 0.7 and |torso angle| &lt; 0.2.
/// </summary>
public sealed class HopperEnvironment : LocomotionEnvironment
{
    /// <summary>Creates the task on the shared compiled model.</summary>
    public HopperEnvironment() : base("Hopper-v2", "hopper", 4, 11, 1e-3, 1.0)
    {
    }

    private protected override void AddResetNoise(Span<double> qpos, Span<double> qvel)
    {
        AddUniformNoise(Random, qpos, 0.005);
        AddUniformNoise(Random, qvel, 0.005);
    }

    private protected override bool IsHealthy()
    {
        var qpos = Simulation.Qpos;
        var qvel = Simulation.Qvel;
        if (!AllFinite(qpos) || !AllFinite(qvel)) return false;
        for (int i = 2; i < qpos.Length; i++) if (!(Math.Abs(qpos[i]) < 100)) return false;
        for (int i = 0; i < qvel.Length; i++) if (!(Math.Abs(qvel[i]) < 100)) return false;
        return qpos[1] > 0.7 && Math.Abs(qpos[2]) < 0.2;
    }

    private protected override void Observe(Span<float> observation)
    {
        var qpos = Simulation.Qpos;
        var qvel = Simulation.Qvel;
        for (int i = 1; i < 6; i++) observation[i - 1] = (float)qpos[i];
        for (int i = 0; i < 6; i++) observation[5 + i] = (float)Math.Clamp(qvel[i], -10.0, 10.0);
    }
}

/// <summary>
/// Walker2d-v2 (reproduces Gym's mujoco-py Walker2d-v2, as used for D4RL walker2d-*-v2): observation [17] =
/// qpos[1..8], clip(qvel, −10, 10); action [6]; reward = vx + 1 − 0.001·Σa²; healthy while 0.8 &lt; height &lt; 2
/// and −1 &lt; torso angle &lt; 1.
/// </summary>
public sealed class Walker2dEnvironment : LocomotionEnvironment
{
    /// <summary>Creates the task on the shared compiled model.</summary>
    public Walker2dEnvironment() : base("Walker2d-v2", "walker2d", 4, 17, 1e-3, 1.0)
    {
    }

    private protected override void AddResetNoise(Span<double> qpos, Span<double> qvel)
    {
        AddUniformNoise(Random, qpos, 0.005);
        AddUniformNoise(Random, qvel, 0.005);
    }

    private protected override bool IsHealthy()
    {
        var qpos = Simulation.Qpos;
        return qpos[1] > 0.8 && qpos[1] < 2.0 && qpos[2] > -1.0 && qpos[2] < 1.0;
    }

    private protected override void Observe(Span<float> observation)
    {
        var qpos = Simulation.Qpos;
        var qvel = Simulation.Qvel;
        for (int i = 1; i < 9; i++) observation[i - 1] = (float)qpos[i];
        for (int i = 0; i < 9; i++) observation[8 + i] = (float)Math.Clamp(qvel[i], -10.0, 10.0);
    }
}

/// <summary>
/// HalfCheetah-v2 (reproduces Gym's mujoco-py HalfCheetah-v2, as used for D4RL halfcheetah-*-v2): observation
/// [17] = qpos[1..8], qvel (unclipped); action [6]; reward = vx − 0.1·Σa²; never terminates.
/// </summary>
public sealed class HalfCheetahEnvironment : LocomotionEnvironment
{
    /// <summary>Creates the task on the shared compiled model.</summary>
    public HalfCheetahEnvironment() : base("HalfCheetah-v2", "half_cheetah", 5, 17, 0.1, 0.0)
    {
    }

    private protected override void AddResetNoise(Span<double> qpos, Span<double> qvel)
    {
        AddUniformNoise(Random, qpos, 0.1);
        AddNormalNoise(Random, qvel, 0.1);
    }

    private protected override bool IsHealthy() => true;

    private protected override void Observe(Span<float> observation)
    {
        var qpos = Simulation.Qpos;
        var qvel = Simulation.Qvel;
        for (int i = 1; i < 9; i++) observation[i - 1] = (float)qpos[i];
        for (int i = 0; i < 9; i++) observation[8 + i] = (float)qvel[i];
    }
}

/// <summary>
/// Ant-v2 (reproduces Gym's mujoco-py Ant-v2, as used for D4RL ant-*-v2): observation [111] = qpos[2..14],
/// qvel[0..13], clip(cfrc_ext, −1, 1) for 14 bodies × 6; action [8] (actuator order hip_4, ankle_4, hip_1, …);
/// reward = torso vx + 1 − 0.5·Σa² − 5e-4·Σclip(cfrc_ext)²; healthy while all of qpos, qvel are finite and
/// 0.2 ≤ torso z ≤ 1.
/// </summary>
/// <remarks>
/// Gym's v2 Ant never called mj_rnePostConstraint, so cfrc_ext stays zero after mj_step: entries 27..110 and the
/// contact cost are zero, exactly as in the D4RL data. Pass computeContactForces = true for the Gymnasium v4
/// behaviour with real contact forces (then the observation no longer matches D4RL's).
/// </remarks>
public sealed class AntEnvironment : LocomotionEnvironment
{
    private readonly int torsoBody;

    /// <summary>Creates the task on the shared compiled model.</summary>
    public AntEnvironment(bool computeContactForces = false) : base("Ant-v2", "ant", 5, 111, 0.5, 1.0)
    {
        ComputeContactForces = computeContactForces;
        torsoBody = Model.BodyId("torso");
        if (torsoBody < 0) throw new MuJoCoException("Ant-v2: the model has no body named 'torso'");
    }

    /// <summary>Whether mj_rnePostConstraint is called after each step so that cfrc_ext holds real contact forces.</summary>
    public bool ComputeContactForces { get; }

    /// <summary>The x of the torso body frame (equal to qpos[0] for the free joint).</summary>
    private protected override double ForwardPosition() => Simulation.Xpos[torsoBody * 3];

    private protected override void AddResetNoise(Span<double> qpos, Span<double> qvel)
    {
        AddUniformNoise(Random, qpos, 0.1);
        AddNormalNoise(Random, qvel, 0.1);
    }

    private protected override bool IsHealthy()
    {
        var qpos = Simulation.Qpos;
        return AllFinite(qpos) && AllFinite(Simulation.Qvel) && qpos[2] >= 0.2 && qpos[2] <= 1.0;
    }

    private protected override double ExtraCost()
    {
        if (ComputeContactForces) Simulation.ComputeContactForces();
        double sum = 0;
        foreach (var f in Simulation.CfrcExt)
        {
            double c = Math.Clamp(f, -1.0, 1.0);
            sum += c * c;
        }
        return 0.5 * 1e-3 * sum;
    }

    private protected override void Observe(Span<float> observation)
    {
        var qpos = Simulation.Qpos;
        var qvel = Simulation.Qvel;
        var forces = Simulation.CfrcExt;
        for (int i = 2; i < 15; i++) observation[i - 2] = (float)qpos[i];
        for (int i = 0; i < 14; i++) observation[13 + i] = (float)qvel[i];
        for (int i = 0; i < forces.Length; i++) observation[27 + i] = (float)Math.Clamp(forces[i], -1.0, 1.0);
    }
}
