using O2RL.Envs.Maze;
using O2RL.Envs.MuJoCo;
using O2RL.Envs.Wrappers;

namespace O2RL.Envs.Tests;

public class MazeLayoutTests
{
    [Fact]
    public void LayoutsHaveTheFactSheetShapesAndCells()
    {
        Assert.Equal((5, 5), (MazeLayout.AntUMaze.Rows, MazeLayout.AntUMaze.Columns));
        Assert.Equal((8, 8), (MazeLayout.AntMedium.Rows, MazeLayout.AntMedium.Columns));
        Assert.Equal((9, 12), (MazeLayout.AntLarge.Rows, MazeLayout.AntLarge.Columns));
        Assert.Equal((3, 1), MazeLayout.AntUMaze.Single('G'));
        Assert.Equal((6, 6), MazeLayout.AntMedium.Single('G'));
        Assert.Equal((7, 9), MazeLayout.AntLarge.Single('G'));
        Assert.Equal((1, 1), MazeLayout.PointUMaze.Single('G'));
        // Maze2D medium/large share the AntMaze walls.
        for (int r = 0; r < 9; r++)
            for (int c = 0; c < 12; c++)
                Assert.Equal(MazeLayout.AntLarge.IsWall(r, c), MazeLayout.PointLarge.IsWall(r, c));
    }

    [Fact]
    public void BadLayoutsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new MazeLayout("bad", "###", "#."));
        Assert.Throws<ArgumentException>(() => new MazeLayout("bad", "#x#"));
    }
}

public class Maze2DTests
{
    private static Maze2DEnvironment Raw(string id) => (Maze2DEnvironment)EnvironmentRegistry.Make(id, timeLimit: false);

    [Fact]
    public void ModelMatchesTheFactSheet()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("maze2d-umaze-v1");
        Assert.Equal(4.18879, env.Model.BodyMass[1], 5);
        Assert.Equal(0.01, env.Dt, 15);
        Assert.Equal(100.0, env.Model.ActuatorGear[0]);
        int walls = MazeLayout.PointUMaze.Rows * MazeLayout.PointUMaze.Columns - MazeLayout.PointUMaze.OpenCells().Count;
        Assert.Equal(2 + walls, env.Model.Ngeom);
        Assert.Equal((1.0, 1.0), env.Target);
    }

    [Theory]
    [InlineData("maze2d-umaze-v1", 300)]
    [InlineData("maze2d-medium-v1", 600)]
    [InlineData("maze2d-large-v1", 800)]
    public void EpisodeLimitsAreTheV1Ones(string id, int limit) => Assert.Equal(limit, EnvironmentRegistry.GetSpec(id).MaxEpisodeSteps);

    [Fact]
    public void SparseRewardInsideTheRadiusAndNoTermination()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("maze2d-umaze-v1");
        var observation = env.Reset(0);
        env.SetState([1.1, 0.9], [0.0, 0.0]);
        var result = env.Step([0f, 0f], observation);
        Assert.Equal(1.0, result.Reward);
        Assert.False(result.Terminated);
        Assert.True(result.Info.Has(StepFlags.GoalReached));
        env.SetState([3.0, 3.0], [0.0, 0.0]);
        result = env.Step([0f, 0f], observation);
        Assert.Equal(0.0, result.Reward);
        Assert.Equal([(float)env.GetQpos()[0], (float)env.GetQpos()[1], (float)env.GetQvel()[0], (float)env.GetQvel()[1]], observation);
    }

    [Fact]
    public void DenseRewardIsExpOfMinusDistance()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("maze2d-umaze-dense-v1");
        var observation = env.Reset(0);
        env.SetState([3.0, 3.0], [0.0, 0.0]);
        var result = env.Step([0f, 0f], observation);
        Assert.Equal(Math.Exp(-env.DistanceToTarget), result.Reward, 12);
    }

    [Fact]
    public void ResetStartsNearAnOpenCell()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("maze2d-medium-v1");
        var open = env.Layout.OpenCells().ToHashSet();
        var seen = new HashSet<(int, int)>();
        for (int seed = 0; seed < 100; seed++)
        {
            var observation = env.Reset(seed);
            var cell = ((int)Math.Round(observation[0]), (int)Math.Round(observation[1]));
            Assert.Contains(cell, open);
            Assert.InRange(Math.Abs(observation[0] - cell.Item1), 0, 0.1f);
            Assert.InRange(Math.Abs(observation[1] - cell.Item2), 0, 0.1f);
            seen.Add(cell);
        }
        Assert.True(seen.Count > 10, $"resets covered only {seen.Count} cells");
    }

    [Fact]
    public void VelocityIsClippedBeforeTheStep()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("maze2d-large-v1");
        var observation = env.Reset(0);
        env.SetState([3.0, 1.0], [40.0, -40.0]);
        env.Step([0f, 0f], observation);
        Assert.InRange(observation[2], 0f, 5f);
        Assert.InRange(observation[3], -5f, 0f);
    }

    [Fact]
    public void WallsStopTheParticle()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("maze2d-umaze-v1");
        var observation = env.Reset(0);
        env.SetState([1.0, 1.0], [0.0, 0.0]);
        for (int i = 0; i < 300; i++) env.Step([-1f, 0f], observation);
        // Row 0 is wall: its box ends at world x 1.5, and the particle's world x is qx + 1.2.
        Assert.InRange(observation[0], 0.35f, 1.0f);
    }
}

public class AntMazeTests
{
    private static AntMazeEnvironment Raw(string id) => (AntMazeEnvironment)EnvironmentRegistry.Make(id, timeLimit: false);

    [Theory]
    [InlineData("antmaze-umaze-v2", 0.0, 8.0, 700)]
    [InlineData("antmaze-umaze-diverse-v2", 0.0, 8.0, 700)]
    [InlineData("antmaze-medium-play-v2", 20.0, 20.0, 1000)]
    [InlineData("antmaze-large-diverse-v2", 32.0, 24.0, 1000)]
    public void GoalCellsAndLimitsMatchTheFactSheet(string id, double x, double y, int limit)
    {
        RequireMuJoCo.OrSkip();
        Assert.Equal(limit, EnvironmentRegistry.GetSpec(id).MaxEpisodeSteps);
        using var env = Raw(id);
        Assert.Equal((x, y), env.GoalCellCentre);
        for (int seed = 0; seed < 20; seed++)
        {
            env.Reset(seed);
            Assert.InRange(env.Goal.X - x, 0, 1.5);
            Assert.InRange(env.Goal.Y - y, 0, 1.5);
        }
    }

    [Fact]
    public void ModelHasTheAntMazeChanges()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("antmaze-umaze-v2");
        Assert.Equal(0.1, env.Dt, 15);
        Assert.Equal(1.0, env.Model.ActuatorGear[0]);
        Assert.Equal(30.0, env.Model.ActuatorCtrlRange[1]);
        int walls = 25 - MazeLayout.AntUMaze.OpenCells().Count;
        Assert.Equal(14 + walls, env.Model.Ngeom);
        Assert.Equal(0.910880, env.Model.BodyMass.ToArray().Sum(), 5);
    }

    [Fact]
    public void ObservationIsQposThenQvel()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("antmaze-medium-play-v2");
        var observation = env.Reset(3);
        env.Step([0.2f, -0.4f, 1f, 0f, 0f, 0f, -1f, 0.5f], observation);
        var qpos = env.GetQpos();
        var qvel = env.GetQvel();
        for (int i = 0; i < 15; i++) Assert.Equal((float)qpos[i], observation[i]);
        for (int i = 0; i < 14; i++) Assert.Equal((float)qvel[i], observation[15 + i]);
    }

    [Fact]
    public void ReachingTheGoalTerminatesWithRewardOneAndFallingDoesNot()
    {
        RequireMuJoCo.OrSkip();
        using var env = new TimeLimit(Raw("antmaze-umaze-v2"), 700);
        var raw = (AntMazeEnvironment)env.Inner;
        var observation = env.Reset(0);
        var action = new float[8];

        // Flipped onto its back far from the goal: no termination, no reward.
        var qpos = raw.GetQpos();
        qpos[2] = 0.3;
        qpos[3] = 0; qpos[4] = 1; qpos[5] = 0; qpos[6] = 0;
        raw.SetState(qpos, new double[14]);
        var result = env.Step(action, observation);
        Assert.False(result.Done);
        Assert.Equal(0.0, result.Reward);

        // Placed on the goal: success terminates (not a truncation).
        qpos = raw.GetQpos();
        qpos[0] = raw.Goal.X;
        qpos[1] = raw.Goal.Y;
        qpos[2] = 0.75;
        qpos[3] = 1; qpos[4] = 0; qpos[5] = 0; qpos[6] = 0;
        raw.SetState(qpos, new double[14]);
        result = env.Step(action, observation);
        Assert.Equal(1.0, result.Reward);
        Assert.True(result.Terminated);
        Assert.False(result.Truncated);
        Assert.True(result.Info.Has(StepFlags.GoalReached));
    }

    [Fact]
    public void WallsSurroundTheStart()
    {
        RequireMuJoCo.OrSkip();
        var xml = EnvironmentRegistry.GetModelXml("antmaze-umaze-v2");
        // Cell (0, 0) is a wall at x = −4, y = −4 relative to the start cell (1, 1).
        Assert.Contains("pos=\"-4 -4 1\"", xml);
        Assert.Contains("size=\"2 2 1\"", xml);
        Assert.Contains("ctrlrange=\"-30 30\"", xml);
    }
}
