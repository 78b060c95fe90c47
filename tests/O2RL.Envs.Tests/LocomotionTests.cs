using O2RL.Envs.MuJoCo;
using O2RL.Envs.Vector;
using O2RL.Envs.Wrappers;

namespace O2RL.Envs.Tests;

public class LocomotionTests
{
    public static TheoryData<string, int, int> Tasks => new()
    {
        { "Hopper-v2", 11, 3 },
        { "Walker2d-v2", 17, 6 },
        { "HalfCheetah-v2", 17, 6 },
        { "Ant-v2", 111, 8 },
    };

    private static LocomotionEnvironment Raw(string id) => (LocomotionEnvironment)EnvironmentRegistry.Make(id, timeLimit: false);

    [Theory]
    [MemberData(nameof(Tasks))]
    public void SpacesHaveTheFactSheetSizes(string id, int observationDim, int actionDim)
    {
        RequireMuJoCo.OrSkip();
        using var env = EnvironmentRegistry.Make(id);
        Assert.Equal(observationDim, env.ObservationSpace.Dimension);
        Assert.Equal(actionDim, env.ActionSpace.Dimension);
        Assert.Equal(-1f, env.ActionSpace.Low[0]);
        Assert.Equal(1f, env.ActionSpace.High[actionDim - 1]);
    }

    [Fact]
    public void HopperObservationAndRewardFollowTheLayout()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("Hopper-v2");
        var observation = env.Reset(4);
        var qpos = env.GetQpos();
        var qvel = env.GetQvel();
        for (int i = 0; i < 5; i++) Assert.Equal((float)qpos[i + 1], observation[i]);
        for (int i = 0; i < 6; i++) Assert.Equal((float)qvel[i], observation[5 + i]);

        float[] action = [0.3f, -2f, 0.7f]; // the middle entry is clipped to −1 before the control cost
        var result = env.Step(action, observation);
        var qposAfter = env.GetQpos();
        double expected = (qposAfter[0] - qpos[0]) / 0.008 + 1.0 - 1e-3 * (0.3 * 0.3 + 1.0 + 0.7 * 0.7);
        Assert.Equal(0.008, env.Dt, 15);
        Assert.Equal(expected, result.Reward, 4);
        Assert.Equal((qposAfter[0] - qpos[0]) / 0.008, result.Info.ForwardVelocity, 12);
    }

    [Fact]
    public void HopperVelocitiesAreClippedInTheObservation()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("Hopper-v2");
        env.Reset(0);
        var qvel = env.GetQvel();
        qvel[2] = 50;
        env.SetState(env.GetQpos(), qvel);
        var observation = new float[11];
        env.WriteObservation(observation);
        Assert.Equal(10f, observation[7]);
    }

    [Fact]
    public void HalfCheetahRewardAndUnclippedVelocities()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("HalfCheetah-v2");
        var observation = env.Reset(2);
        var before = env.GetQpos();
        var result = env.Step([1f, 1f, 1f, 1f, 1f, 1f], observation);
        var after = env.GetQpos();
        Assert.Equal((after[0] - before[0]) / 0.05 - 0.1 * 6, result.Reward, 10);
        var qvel = env.GetQvel();
        for (int i = 0; i < 9; i++) Assert.Equal((float)qvel[i], observation[8 + i]);
        for (int i = 0; i < 8; i++) Assert.Equal((float)after[i + 1], observation[i]);
    }

    [Fact]
    public void AntObservationHasZeroContactForcesAsInD4RL()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("Ant-v2");
        var observation = env.Reset(1);
        var qpos0 = env.GetQpos();
        var result = default(StepResult);
        for (int i = 0; i < 20; i++) result = env.Step([0.5f, -0.5f, 0.5f, -0.5f, 0.5f, -0.5f, 0.5f, -0.5f], observation);
        var qpos = env.GetQpos();
        var qvel = env.GetQvel();
        for (int i = 0; i < 13; i++) Assert.Equal((float)qpos[i + 2], observation[i]);
        for (int i = 0; i < 14; i++) Assert.Equal((float)qvel[i], observation[13 + i]);
        for (int i = 27; i < 111; i++) Assert.Equal(0f, observation[i]);
        Assert.Equal(1.0 - 0.5 * 8 * 0.25, result.Reward - result.Info.ForwardVelocity, 10);
        Assert.NotEqual(qpos0[0], qpos[0]);
    }

    [Fact]
    public void AntWithContactForcesFillsTheTail()
    {
        RequireMuJoCo.OrSkip();
        using var env = new AntEnvironment(computeContactForces: true);
        var observation = env.Reset(1);
        float[] action = [0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f];
        double contactPart = 0;
        for (int i = 0; i < 10; i++)
        {
            var result = env.Step(action, observation);
            contactPart = 1.0 - result.Reward + result.Info.ForwardVelocity;
        }
        Assert.Contains(observation[27..], x => x != 0f);
        Assert.True(contactPart > 0, "with real contact forces the contact cost must be positive");
    }

    [Theory]
    [InlineData("Hopper-v2", 1, 0.65)]
    [InlineData("Hopper-v2", 2, 0.3)]
    [InlineData("Walker2d-v2", 1, 0.7)]
    [InlineData("Walker2d-v2", 1, 2.5)]
    [InlineData("Walker2d-v2", 2, -1.2)]
    [InlineData("Ant-v2", 2, 1.5)]
    public void LeavingTheHealthyRangeTerminates(string id, int qposIndex, double value)
    {
        RequireMuJoCo.OrSkip();
        using var env = new TimeLimit(Raw(id), 1000);
        var raw = (LocomotionEnvironment)env.Inner;
        var observation = env.Reset(0);
        var qpos = raw.GetQpos();
        qpos[qposIndex] = value;
        raw.SetState(qpos, new double[raw.GetQvel().Length]);
        var result = env.Step(new float[env.ActionSpace.Dimension], observation);
        Assert.True(result.Terminated, $"{id} with qpos[{qposIndex}] = {value} should terminate");
        Assert.False(result.Truncated);
        Assert.True(result.Info.Has(StepFlags.Unhealthy));
        Assert.Throws<InvalidOperationException>(() => env.Step(new float[env.ActionSpace.Dimension], observation));
    }

    [Theory]
    [InlineData("Hopper-v2")]
    [InlineData("Walker2d-v2")]
    [InlineData("Ant-v2")]
    public void HealthyRewardIsGivenOnTheTerminatingStep(string id)
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw(id);
        var observation = env.Reset(0);
        var qpos = env.GetQpos();
        // The Ant's torso sphere (radius 0.25) cannot stay below z = 0.2, so it leaves the range upwards.
        qpos[id == "Ant-v2" ? 2 : 1] = id == "Ant-v2" ? 1.5 : 0.5;
        env.SetState(qpos, new double[env.GetQvel().Length]);
        var result = env.Step(new float[env.ActionSpace.Dimension], observation);
        Assert.True(result.Terminated);
        Assert.Equal(result.Info.ForwardVelocity + 1.0, result.Reward, 10);
    }

    [Fact]
    public void HalfCheetahIsTruncatedAt1000StepsAndNeverTerminates()
    {
        RequireMuJoCo.OrSkip();
        using var env = EnvironmentRegistry.Make("HalfCheetah-v2");
        var observation = env.Reset(0);
        var random = new EnvRandom(5);
        var action = new float[6];
        int steps = 0;
        StepResult result;
        do
        {
            env.ActionSpace.Sample(random, action);
            result = env.Step(action, observation);
            steps++;
            Assert.False(result.Terminated);
        } while (!result.Done);
        Assert.Equal(1000, steps);
        Assert.True(result.Truncated);
        Assert.True(result.Info.Has(StepFlags.TimeLimitReached));
    }

    [Fact]
    public void RandomHopperEpisodesTerminateEarlyWithoutTruncation()
    {
        RequireMuJoCo.OrSkip();
        using var env = new EpisodeStatistics(EnvironmentRegistry.Make("Hopper-v2"));
        var observation = new float[11];
        var action = new float[3];
        var random = new EnvRandom(8);
        double totalReturn = 0, totalLength = 0;
        const int episodes = 30;
        env.Reset(observation, 8);
        for (int e = 0; e < episodes; e++)
        {
            StepResult result;
            do
            {
                env.ActionSpace.Sample(random, action);
                result = env.Step(action, observation);
            } while (!result.Done);
            Assert.True(result.Terminated);
            Assert.False(result.Truncated);
            totalReturn += result.Info.EpisodeReturn;
            totalLength += result.Info.EpisodeLength;
            env.Reset(observation);
        }
        // The fact sheet: a uniform-random policy averages ≈ 19 return over ≈ 22 steps.
        Assert.InRange(totalReturn / episodes, 10, 30);
        Assert.InRange(totalLength / episodes, 12, 35);
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void SeedingIsReproducibleAndNoiseStaysInRange(string id, int observationDim, int actionDim)
    {
        RequireMuJoCo.OrSkip();
        using var a = Raw(id);
        using var b = Raw(id);
        var first = a.Reset(17);
        var second = b.Reset(17);
        Assert.Equal(first, second);
        var action = new float[actionDim];
        for (int t = 0; t < 10; t++)
        {
            for (int i = 0; i < actionDim; i++) action[i] = MathF.Sin(t + i);
            var ra = a.Step(action, first);
            var rb = b.Step(action, second);
            Assert.Equal(ra, rb);
            Assert.Equal(first, second);
            if (ra.Done) break;
        }
        Assert.NotEqual(a.Reset(1), b.Reset(2));
        Assert.Equal(observationDim, first.Length);

        double qposNoise = id is "Hopper-v2" or "Walker2d-v2" ? 0.005 : 0.1;
        using var probe = Raw(id);
        var qpos0 = probe.Model.Qpos0.ToArray();
        for (int seed = 0; seed < 20; seed++)
        {
            probe.Reset(seed);
            var qpos = probe.GetQpos();
            for (int i = 0; i < qpos.Length; i++)
            {
                // MuJoCo 2.2.2's mj_forward re-normalises the Ant's free-joint quaternion (qpos[3..6]) in place.
                if (id == "Ant-v2" && i is >= 3 and <= 6) continue;
                Assert.True(Math.Abs(qpos[i] - qpos0[i]) <= qposNoise, $"seed {seed} qpos[{i}] = {qpos[i]} vs qpos0 {qpos0[i]}");
            }
        }
    }

    [Fact]
    public void InstabilityEndsTheEpisodeInsteadOfSilentlyResetting()
    {
        RequireMuJoCo.OrSkip();
        using var env = Raw("Hopper-v2");
        var observation = env.Reset(0);
        var qvel = env.GetQvel();
        qvel[3] = 1e11; // beyond MuJoCo's 1e10 "bad value" bound
        env.SetState(env.GetQpos(), qvel);
        var result = env.Step([0f, 0f, 0f], observation);
        Assert.True(result.Terminated);
        Assert.True(result.Info.Has(StepFlags.SimulatorInstability));
        Assert.Equal(0.0, result.Reward);

        // NaN positions are caught the same way, and the environment is usable after a reset.
        env.Reset(observation);
        var qpos = env.GetQpos();
        qpos[2] = double.NaN;
        env.SetState(qpos, env.GetQvel());
        Assert.True(env.Step([0f, 0f, 0f], observation).Info.Has(StepFlags.SimulatorInstability));
        env.Reset(observation);
        Assert.False(env.Step([0f, 0f, 0f], observation).Done);
    }

    [Fact]
    public void ANaNActionIsRefusedOnMuJoCoTasks()
    {
        RequireMuJoCo.OrSkip();
        // MuJoCo's bad-control warning would zero the whole control vector (the finite 0.5s too), the reward would be NaN
        // and the step would report nothing: a transition the action never produced.
        foreach (string id in new[] { "Hopper-v2", "Walker2d-v2" })
        {
            using var env = EnvironmentRegistry.Make(id);
            var observation = env.Reset(3);
            var action = Enumerable.Repeat(0.5f, env.ActionSpace.Dimension).ToArray();
            action[0] = float.NaN;
            var error = Assert.Throws<ArgumentException>(() => env.Step(action, observation));
            Assert.Contains($"{id}: action[0] is NaN", error.Message);
            action[0] = 0.5f;
            Assert.True(double.IsFinite(env.Step(action, observation).Reward));
        }
    }

    [Fact]
    public void MuJoCoErrorsBecomeManagedExceptions()
    {
        RequireMuJoCo.OrSkip();
        // An empty model makes mj_makeEmptyFileVFS call mju_error, which would end the process by default.
        var error = Assert.Throws<MuJoCoException>(() => MjModel.Compile("", "empty model"));
        Assert.Contains("positive filesize", error.Message);
        var compileError = Assert.Throws<MuJoCoException>(() => MjModel.Compile("<mujoco><worldbody><geom type='nosuchtype'/></worldbody></mujoco>", "bad model"));
        Assert.Contains("bad model", compileError.Message);
        // The thread is clean afterwards.
        using var env = Raw("Hopper-v2");
        env.Reset(0);
    }

    [Fact]
    public void CopiesShareOneCompiledModel()
    {
        RequireMuJoCo.OrSkip();
        using var a = Raw("Walker2d-v2");
        using var b = Raw("Walker2d-v2");
        Assert.Same(a.Model, b.Model);
    }

    [Fact]
    public void VectorHopperMatchesSingleCopiesAcrossThreads()
    {
        RequireMuJoCo.OrSkip();
        const int copies = 4;
        using var vector = new VectorEnvironment(_ => EnvironmentRegistry.Make("Hopper-v2"), copies, maxParallelism: 4);
        var singles = Enumerable.Range(0, copies).Select(_ => EnvironmentRegistry.Make("Hopper-v2")).ToArray();
        var observations = new float[copies][];
        vector.Reset(21);
        for (int i = 0; i < copies; i++) observations[i] = singles[i].Reset(EnvRandom.DeriveSeed(21, i));
        var actions = new float[copies * 3];
        var random = new EnvRandom(3);
        for (int t = 0; t < 200; t++)
        {
            for (int k = 0; k < actions.Length; k++) actions[k] = (float)random.Uniform(-1, 1);
            vector.Step(actions);
            for (int i = 0; i < copies; i++)
            {
                var result = singles[i].Step(actions.AsSpan(i * 3, 3), observations[i]);
                Assert.Equal(result.Reward, vector.Rewards[i]);
                Assert.Equal(result.Terminated, vector.Terminated[i]);
                if (result.Done) singles[i].Reset(observations[i]);
                Assert.Equal(observations[i], vector.Observations.Slice(i * 11, 11).ToArray());
            }
        }
        foreach (var single in singles) single.Dispose();
    }

    [Fact]
    public void HopperStepAllocatesNothing()
    {
        RequireMuJoCo.OrSkip();
        using var env = EnvironmentRegistry.Make("Hopper-v2");
        var observation = new float[11];
        float[] action = [0.1f, -0.1f, 0.2f];
        env.Reset(observation, 0);
        for (int i = 0; i < 50; i++) if (env.Step(action, observation).Done) env.Reset(observation);
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(() => { for (int i = 0; i < 500; i++) if (env.Step(action, observation).Done) env.Reset(observation); }));
    }
}

public class MuJoCoStateTests
{
    [Theory]
    [InlineData("Hopper-v2")]
    [InlineData("Ant-v2")]
    [InlineData("HalfCheetah-v2")]
    public void RestoredStateReplaysBitForBit(string id)
    {
        RequireMuJoCo.OrSkip();
        using var env = (MuJoCoEnvironment)EnvironmentRegistry.Make(id, timeLimit: false);
        var observation = env.Reset(9);
        var action = new float[env.ActionSpace.Dimension];
        for (int i = 0; i < action.Length; i++) action[i] = 0.3f * (i % 3 - 1);
        for (int t = 0; t < 5; t++) env.Step(action, observation);
        var saved = env.SaveState();

        var first = new List<(float[], StepResult)>();
        for (int t = 0; t < 5; t++)
        {
            var result = env.Step(action, observation);
            first.Add((observation.ToArray(), result));
            if (result.Done) break;
        }
        env.RestoreState(saved);
        for (int t = 0; t < first.Count; t++)
        {
            var result = env.Step(action, observation);
            Assert.Equal(first[t].Item2, result);
            Assert.Equal(first[t].Item1, observation);
        }
        Assert.Throws<ArgumentException>(() => env.RestoreState(saved with { Qpos = new double[1] }));
    }
}
