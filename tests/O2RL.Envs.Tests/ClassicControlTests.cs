using O2RL.Envs.ClassicControl;

namespace O2RL.Envs.Tests;

public class PendulumTests
{
    private static PendulumEnvironment Started()
    {
        var env = new PendulumEnvironment();
        env.Reset(new float[3], seed: 1);
        return env;
    }

    [Fact]
    public void StepMatchesHandComputedSemiImplicitEuler()
    {
        using var env = Started();
        env.SetState(0.5, 0.25);
        var observation = new float[3];
        var result = env.Step([1.5f], observation);

        // cost = 0.5² + 0.1·0.25² + 0.001·1.5² on the state before the update.
        Assert.Equal(-0.2585, result.Reward, 12);
        // θ̇' = 0.25 + (3·10/2·sin 0.5 + 3·1.5)·0.05; θ' = 0.5 + θ̇'·0.05
        double expectedVelocity = 0.25 + (15.0 * 0.479425538604203 + 4.5) * 0.05;
        double expectedAngle = 0.5 + expectedVelocity * 0.05;
        Assert.Equal(0.8345691539531523, expectedVelocity, 12);
        Assert.Equal(expectedVelocity, env.AngularVelocity, 12);
        Assert.Equal(expectedAngle, env.Angle, 12);
        Assert.Equal((float)Math.Cos(expectedAngle), observation[0]);
        Assert.Equal((float)Math.Sin(expectedAngle), observation[1]);
        Assert.Equal((float)expectedVelocity, observation[2]);
        Assert.False(result.Terminated);
        Assert.False(result.Truncated);
    }

    [Fact]
    public void TorqueIsClippedInDynamicsAndCost()
    {
        using var env = Started();
        env.SetState(0.0, 0.0);
        var result = env.Step([5f], new float[3]);
        Assert.Equal(-0.001 * 4.0, result.Reward, 12);
        Assert.Equal(3.0 * 2.0 * 0.05, env.AngularVelocity, 12);
    }

    [Fact]
    public void SpeedIsClippedToEight()
    {
        using var env = Started();
        env.SetState(Math.PI / 2, 7.9);
        env.Step([2f], new float[3]);
        Assert.Equal(8.0, env.AngularVelocity);
        Assert.Equal(Math.PI / 2 + 8.0 * 0.05, env.Angle, 12);
    }

    [Fact]
    public void CostWrapsTheAngleButTheStateIsNotWrapped()
    {
        using var env = Started();
        env.SetState(4.0, 0.0);
        var result = env.Step([0f], new float[3]);
        double wrapped = 4.0 - 2 * Math.PI;
        Assert.Equal(-(wrapped * wrapped), result.Reward, 12);
        Assert.True(env.Angle > Math.PI, "the state's angle must not be wrapped");
        Assert.Equal(-Math.PI, PendulumEnvironment.NormalizeAngle(Math.PI), 12);
        Assert.Equal(Math.PI - 0.5, PendulumEnvironment.NormalizeAngle(-Math.PI - 0.5), 12);
    }

    [Fact]
    public void ResetDrawsFromTheStatedRangesAndIsSeeded()
    {
        using var a = new PendulumEnvironment();
        using var b = new PendulumEnvironment();
        for (int seed = 0; seed < 50; seed++)
        {
            var first = a.Reset(seed);
            var second = b.Reset(seed);
            Assert.Equal(first, second);
            Assert.InRange(a.Angle, -Math.PI, Math.PI);
            Assert.InRange(a.AngularVelocity, -1.0, 1.0);
        }
        Assert.NotEqual(a.Reset(1), a.Reset(2));
    }

    [Fact]
    public void RegistryAddsThe200StepTruncation()
    {
        using var env = EnvironmentRegistry.Make("Pendulum-v1");
        var observation = env.Reset(3);
        int steps = 0;
        StepResult result;
        do
        {
            result = env.Step([0.3f], observation);
            steps++;
        } while (!result.Done);
        Assert.Equal(200, steps);
        Assert.True(result.Truncated);
        Assert.False(result.Terminated);
    }
}

public class MountainCarContinuousTests
{
    private static MountainCarContinuousEnvironment Started()
    {
        var env = new MountainCarContinuousEnvironment();
        env.Reset(new float[2], seed: 1);
        return env;
    }

    [Fact]
    public void StepMatchesHandComputedDynamics()
    {
        using var env = Started();
        env.SetState(-0.5f, 0f);
        var observation = new float[2];
        var result = env.Step([1f], observation);
        // v = 0 + 0.0015·1 − 0.0025·cos(3·(−0.5)); x = −0.5 + v
        double velocity = 0.0015 - 0.0025 * Math.Cos(-1.5);
        double position = -0.5 + velocity;
        Assert.Equal(0.001323156995830743, velocity, 15);
        Assert.Equal((float)velocity, observation[1]);
        Assert.Equal((float)position, observation[0]);
        Assert.Equal(-0.1, result.Reward, 12);
        Assert.False(result.Terminated);
    }

    [Fact]
    public void ControlCostUsesTheRawActionButDynamicsTheClippedOne()
    {
        using var env = Started();
        env.SetState(-0.5f, 0f);
        var result = env.Step([2f], new float[2]);
        Assert.Equal(-0.4, result.Reward, 6);
        Assert.Equal((float)(0.0015 - 0.0025 * Math.Cos(-1.5)), env.Velocity);
    }

    [Fact]
    public void LeftWallStopsTheCar()
    {
        using var env = Started();
        env.SetState(-1.19f, -0.07f);
        var observation = new float[2];
        env.Step([-1f], observation);
        Assert.Equal(-1.2f, observation[0]);
        Assert.Equal(0f, observation[1]);
    }

    [Fact]
    public void ReachingTheFlagTerminatesWithTheBonus()
    {
        using var env = Started();
        env.SetState(0.449f, 0.0699f);
        var result = env.Step([0.5f], new float[2]);
        Assert.True(result.Terminated);
        Assert.False(result.Truncated);
        Assert.Equal(100.0 - 0.1 * 0.25, result.Reward, 6);
        Assert.True(result.Info.Has(StepFlags.GoalReached));
        Assert.Throws<InvalidOperationException>(() => env.Step([0f], new float[2]));
    }

    [Fact]
    public void VelocityIsClipped()
    {
        using var env = Started();
        env.SetState(-0.52f, 0.0699f);
        env.Step([1f], new float[2]);
        Assert.Equal(0.07f, env.Velocity);
    }

    [Fact]
    public void ResetStartsInTheValleyAtRest()
    {
        using var env = new MountainCarContinuousEnvironment();
        for (int seed = 0; seed < 50; seed++)
        {
            var observation = env.Reset(seed);
            Assert.InRange(observation[0], -0.6f, -0.4f);
            Assert.Equal(0f, observation[1]);
        }
    }

    [Fact]
    public void RegistryTruncatesAt999Steps()
    {
        using var env = EnvironmentRegistry.Make("MountainCarContinuous-v0");
        var observation = env.Reset(0);
        int steps = 0;
        StepResult result;
        do
        {
            result = env.Step([0f], observation);
            steps++;
        } while (!result.Done);
        Assert.Equal(999, steps);
        Assert.True(result.Truncated);
        Assert.False(result.Terminated);
    }
}
