using O2RL.Envs.MuJoCo;

namespace O2RL.Envs.Maze;

/// <summary>
/// D4RL Maze2D (v1): a force-actuated point mass in a maze. Observation [4] = (qx, qy, vx, vy) where qx follows the
/// grid row and qy the column; action [2] in [−1, 1]. Sparse reward 1 when within 0.5 of the goal cell (r_G, c_G)
/// after the step (dense variant: exp(−distance)); never terminates; the registry adds the v1 time limit.
/// </summary>
/// <remarks>
/// Reset: a uniformly chosen free-or-goal cell (r, c) + U(±0.1) on qpos, qvel 0.1·N(0, 1). Before each step the
/// velocity is clipped to [−5, 5] and written back, as the reference does.
/// </remarks>
public sealed class Maze2DEnvironment : MuJoCoEnvironment
{
    /// <summary>Distance to the target within which the sparse reward is 1.</summary>
    public const double SuccessRadius = 0.5;

    private readonly (int Row, int Column)[] resetCells;

    /// <summary>Creates the task for <paramref name="layout"/> with registry id <paramref name="id"/>.</summary>
    public Maze2DEnvironment(string id, MazeLayout layout, bool denseReward = false)
        : base(id, MuJoCoModels.GetCompiled($"maze2d-{layout.Name}", () => MazeModels.PointMazeXml(layout)), 1,
               BoxSpace.Uniform(4, float.NegativeInfinity, float.PositiveInfinity), BoxSpace.Uniform(2, -1f, 1f))
    {
        Layout = layout;
        DenseReward = denseReward;
        var goal = layout.Single('G');
        Target = (goal.Row, goal.Column);
        resetCells = [.. layout.OpenCells()];
    }

    /// <summary>The maze.</summary>
    public MazeLayout Layout { get; }

    /// <summary>Whether the reward is exp(−distance) instead of the sparse 0/1.</summary>
    public bool DenseReward { get; }

    /// <summary>Goal in qpos coordinates: the goal cell's (row, column).</summary>
    public (double X, double Y) Target { get; }

    /// <summary>Distance from the particle to the target.</summary>
    public double DistanceToTarget
    {
        get
        {
            var qpos = Simulation.Qpos;
            double dx = qpos[0] - Target.X, dy = qpos[1] - Target.Y;
            return Math.Sqrt(dx * dx + dy * dy);
        }
    }

    private protected override void AddResetNoise(Span<double> qpos, Span<double> qvel)
    {
        var cell = resetCells[Random.NextInt(resetCells.Length)];
        qpos[0] = cell.Row + Random.Uniform(-0.1, 0.1);
        qpos[1] = cell.Column + Random.Uniform(-0.1, 0.1);
        qvel[0] += 0.1 * Random.Normal();
        qvel[1] += 0.1 * Random.Normal();
    }

    private protected override void Observe(Span<float> observation)
    {
        var qpos = Simulation.Qpos;
        var qvel = Simulation.Qvel;
        observation[0] = (float)qpos[0];
        observation[1] = (float)qpos[1];
        observation[2] = (float)qvel[0];
        observation[3] = (float)qvel[1];
    }

    /// <inheritdoc />
    protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation)
    {
        var qvel = Simulation.Qvel;
        qvel[0] = Math.Clamp(qvel[0], -5.0, 5.0);
        qvel[1] = Math.Clamp(qvel[1], -5.0, 5.0);
        Simulation.Forward();
        var ctrl = Simulation.Ctrl;
        ctrl[0] = Math.Clamp((double)action[0], -1.0, 1.0);
        ctrl[1] = Math.Clamp((double)action[1], -1.0, 1.0);
        if (!Simulate()) return Unstable(observation);
        Observe(observation);
        // The reference measures the distance on its float64 state, not on a float32 observation.
        double distance = DistanceToTarget;
        bool atGoal = distance <= SuccessRadius;
        double reward = DenseReward ? Math.Exp(-distance) : atGoal ? 1.0 : 0.0;
        return new StepResult(reward, false, false, new StepInfo(atGoal ? StepFlags.GoalReached : StepFlags.None));
    }
}
