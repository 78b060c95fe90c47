using O2RL.Envs.MuJoCo;

namespace O2RL.Envs.Maze;

/// <summary>
/// D4RL AntMaze (v2 evaluation env): the AntMaze ant in a maze of 4 m cells with the start cell at the origin.
/// Observation [29] = qpos[0..14] (x, y included), qvel[0..13]; action [8] in [−1, 1], scaled ×30 onto the motors
/// (D4RL's wrapper). Reward 1 and termination when the torso's (x, y) is within 0.5 of the goal after the step,
/// else 0; falling does not terminate; the registry adds the time limit (700 umaze, 1000 medium/large).
/// </summary>
/// <remarks>
/// As in v2, every reset resamples the goal: the goal cell's centre plus U(0, 1) + U(0, 0.5) on each of x and y,
/// each coordinate clamped below at 0. The ant starts at the origin with the Ant's reset noise.
/// </remarks>
public sealed class AntMazeEnvironment : MuJoCoEnvironment
{
    /// <summary>Distance to the goal that counts as success.</summary>
    public const double SuccessRadius = 0.5;

    /// <summary>Motor command per unit of agent action.</summary>
    public const double ActionScale = 30.0;

    private readonly (double X, double Y) goalCellCentre;

    /// <summary>Creates the task for <paramref name="layout"/> with registry id <paramref name="id"/>.</summary>
    public AntMazeEnvironment(string id, MazeLayout layout)
        : base(id, MuJoCoModels.GetCompiled($"antmaze-{layout.Name}", () => MazeModels.AntMazeXml(layout)), 5,
               BoxSpace.Uniform(29, float.NegativeInfinity, float.PositiveInfinity), BoxSpace.Uniform(8, -1f, 1f))
    {
        Layout = layout;
        var start = layout.Single('S');
        var goal = layout.Single('G');
        goalCellCentre = (MazeModels.AntCellSize * (goal.Column - start.Column), MazeModels.AntCellSize * (goal.Row - start.Row));
        Goal = goalCellCentre;
    }

    /// <summary>The maze.</summary>
    public MazeLayout Layout { get; }

    /// <summary>Centre of the goal cell in world (x, y).</summary>
    public (double X, double Y) GoalCellCentre => goalCellCentre;

    /// <summary>The current episode's goal in world (x, y), resampled at every reset.</summary>
    public (double X, double Y) Goal { get; private set; }

    /// <summary>Distance from the torso's (x, y) to the goal.</summary>
    public double DistanceToGoal
    {
        get
        {
            var qpos = Simulation.Qpos;
            double dx = qpos[0] - Goal.X, dy = qpos[1] - Goal.Y;
            return Math.Sqrt(dx * dx + dy * dy);
        }
    }

    private protected override void AddResetNoise(Span<double> qpos, Span<double> qvel)
    {
        double offsetX = Random.Uniform(0, 1), offsetY = Random.Uniform(0, 1);
        offsetX += Random.Uniform(0, 0.5);
        offsetY += Random.Uniform(0, 0.5);
        Goal = (Math.Max(0, goalCellCentre.X + offsetX), Math.Max(0, goalCellCentre.Y + offsetY));
        for (int i = 0; i < qpos.Length; i++) qpos[i] += Random.Uniform(-0.1, 0.1);
        for (int i = 0; i < qvel.Length; i++) qvel[i] += 0.1 * Random.Normal();
    }

    private protected override void Observe(Span<float> observation)
    {
        var qpos = Simulation.Qpos;
        var qvel = Simulation.Qvel;
        for (int i = 0; i < 15; i++) observation[i] = (float)qpos[i];
        for (int i = 0; i < 14; i++) observation[15 + i] = (float)qvel[i];
    }

    /// <inheritdoc />
    protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation)
    {
        var ctrl = Simulation.Ctrl;
        for (int i = 0; i < ctrl.Length; i++) ctrl[i] = ActionScale * Math.Clamp((double)action[i], -1.0, 1.0);
        if (!Simulate()) return Unstable(observation);
        Observe(observation);
        bool success = DistanceToGoal <= SuccessRadius;
        return new StepResult(success ? 1.0 : 0.0, success, false, new StepInfo(success ? StepFlags.GoalReached : StepFlags.None));
    }
}
