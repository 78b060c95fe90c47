using O2RL.Envs.ClassicControl;
using O2RL.Envs.Wrappers;

namespace O2RL.Envs.Tests;

/// <summary>A scripted environment: reward = step index, optional NaN at a chosen step, terminates at a chosen step.</summary>
internal sealed class ScriptedEnvironment : EnvironmentBase
{
    private int step;

    public ScriptedEnvironment(int terminateAt = int.MaxValue, int nanObservationAt = -1, int nanRewardAt = -1)
        : base("Scripted-v0", BoxSpace.Uniform(2, -10f, 10f), new BoxSpace([-1f, 0f], [1f, 4f]))
    {
        TerminateAt = terminateAt;
        NanObservationAt = nanObservationAt;
        NanRewardAt = nanRewardAt;
    }

    public int TerminateAt { get; }
    public int NanObservationAt { get; }
    public int NanRewardAt { get; }
    public float[] LastAction { get; } = new float[2];

    protected override void ResetCore(Span<float> observation)
    {
        step = 0;
        observation[0] = 1f;
        observation[1] = 2f;
    }

    protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation)
    {
        action.CopyTo(LastAction);
        step++;
        observation[0] = step;
        observation[1] = step == NanObservationAt ? float.NaN : -step;
        double reward = step == NanRewardAt ? double.PositiveInfinity : step;
        return new StepResult(reward, step >= TerminateAt, false);
    }
}

public class WrapperTests
{
    [Fact]
    public void TimeLimitTruncatesWithoutTerminating()
    {
        using var env = new TimeLimit(new ScriptedEnvironment(), 3);
        var observation = env.Reset(0);
        Assert.False(env.Step([0f, 0f], observation).Done);
        Assert.False(env.Step([0f, 0f], observation).Done);
        var last = env.Step([0f, 0f], observation);
        Assert.True(last.Truncated);
        Assert.False(last.Terminated);
        Assert.True(last.Info.Has(StepFlags.TimeLimitReached));
        env.Reset(observation);
        Assert.Equal(0, env.ElapsedSteps);
    }

    [Fact]
    public void AStepAfterTheTimeLimitIsRefusedUntilReset()
    {
        // As after a termination: the episode is over, and another step would report (and let EpisodeStatistics
        // count) one more ended episode.
        using var env = new EpisodeStatistics(new TimeLimit(new ScriptedEnvironment(), 2));
        var observation = env.Reset(0);
        env.Step([0f, 0f], observation);
        Assert.True(env.Step([0f, 0f], observation).Truncated);
        var error = Assert.Throws<InvalidOperationException>(() => env.Step([0f, 0f], observation));
        Assert.Contains("Scripted-v0: Step was called after the episode reached its 2-step limit; call Reset first", error.Message);
        Assert.Equal(1, env.EpisodeCount);
        env.Reset(observation);
        Assert.False(env.Step([0f, 0f], observation).Done);
    }

    [Fact]
    public void AnEndedEpisodeCanBeContinuedOnceAsOldGymDid()
    {
        // The release's evaluation on the training instance (ALGORITHMS.md §8): the training loop steps on after the
        // evaluation's last episode ended, and that step ends the episode again.
        using var truncating = new TimeLimit(new ScriptedEnvironment(), 2);
        var observation = truncating.Reset(0);
        truncating.Step([0f, 0f], observation);
        Assert.True(truncating.Step([0f, 0f], observation).Truncated);
        truncating.ContinueEndedEpisode();
        var again = truncating.Step([0f, 0f], observation);
        Assert.True(again.Truncated);
        Assert.Equal(3f, observation[0]); // the simulator went on from its state
        Assert.Throws<InvalidOperationException>(() => truncating.Step([0f, 0f], observation));

        using var terminating = new TimeLimit(new ScriptedEnvironment(terminateAt: 1), 10);
        observation = terminating.Reset(0);
        Assert.True(terminating.Step([0f, 0f], observation).Terminated);
        Assert.Throws<InvalidOperationException>(() => terminating.Step([0f, 0f], observation));
        terminating.ContinueEndedEpisode();
        Assert.True(terminating.Step([0f, 0f], observation).Terminated);

        using var fresh = new ScriptedEnvironment();
        Assert.Throws<InvalidOperationException>(() => fresh.ContinueEndedEpisode());
    }

    [Fact]
    public void ANaNActionIsRefusedNamingItsEntry()
    {
        // MuJoCo would zero the whole control vector and the step would store a transition the action never produced;
        // Pendulum would turn every later observation into NaN. ±∞ is clipped like any out-of-range action.
        using var env = new ScriptedEnvironment();
        var observation = env.Reset(0);
        var error = Assert.Throws<ArgumentException>(() => env.Step([0.5f, float.NaN], observation));
        Assert.Contains("Scripted-v0: action[1] is NaN at step 1 of the episode", error.Message);
        using var pendulum = new PendulumEnvironment();
        var pendulumObservation = pendulum.Reset(0);
        Assert.Throws<ArgumentException>(() => pendulum.Step([float.NaN], pendulumObservation));
        var clipped = pendulum.Step([float.PositiveInfinity], pendulumObservation);
        Assert.True(double.IsFinite(clipped.Reward));
        Assert.All(pendulumObservation, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void TerminationBeforeTheLimitIsNotATruncation()
    {
        using var env = new TimeLimit(new ScriptedEnvironment(terminateAt: 2), 5);
        var observation = env.Reset(0);
        env.Step([0f, 0f], observation);
        var result = env.Step([0f, 0f], observation);
        Assert.True(result.Terminated);
        Assert.False(result.Truncated);
        Assert.False(result.Info.Has(StepFlags.TimeLimitReached));
    }

    [Fact]
    public void NormalizeObservationUsesGivenStatistics()
    {
        using var env = new NormalizeObservation(new ScriptedEnvironment(), [1f, 4f], [2f, 0.5f]);
        var observation = env.Reset(0);
        Assert.Equal([0f, -4f], observation);
        env.Step([0f, 0f], observation);
        Assert.Equal([0f, (-1f - 4f) / 0.5f], observation);
        Assert.False(env.ObservationSpace.IsBounded);
    }

    [Fact]
    public void NormalizeObservationRejectsBadStatistics()
    {
        var error = Assert.Throws<ArgumentException>(() => new NormalizeObservation(new ScriptedEnvironment(), [0f, 0f], [1f, 0f]));
        Assert.Contains("std[1] = 0", error.Message);
        Assert.Throws<ArgumentException>(() => new NormalizeObservation(new ScriptedEnvironment(), [0f], [1f]));
    }

    [Fact]
    public void RescaleActionMapsAffinelyAndClips()
    {
        var inner = new ScriptedEnvironment();
        using var env = new RescaleAction(inner);
        var observation = env.Reset(0);
        env.Step([0f, 0f], observation);
        Assert.Equal([0f, 2f], inner.LastAction);
        env.Step([-1f, 0.5f], observation);
        Assert.Equal([-1f, 3f], inner.LastAction);
        env.Step([3f, -7f], observation);
        Assert.Equal([1f, 0f], inner.LastAction);
        Assert.Equal(-1f, env.ActionSpace.Low[1]);
    }

    [Fact]
    public void EpisodeStatisticsReportsReturnAndLength()
    {
        using var env = new EpisodeStatistics(new TimeLimit(new ScriptedEnvironment(), 4));
        var observation = env.Reset(0);
        StepResult result = default;
        for (int i = 0; i < 4; i++) result = env.Step([0f, 0f], observation);
        Assert.True(result.Info.Has(StepFlags.EpisodeStatistics));
        Assert.Equal(1 + 2 + 3 + 4, result.Info.EpisodeReturn);
        Assert.Equal(4, result.Info.EpisodeLength);
        Assert.Equal(10, env.LastEpisodeReturn);
        Assert.Equal(1, env.EpisodeCount);
        env.Reset(observation);
        var next = env.Step([0f, 0f], observation);
        Assert.False(next.Info.Has(StepFlags.EpisodeStatistics));
        Assert.Equal(1, env.CurrentReturn);
    }

    [Fact]
    public void FiniteGuardNamesEnvironmentStepAndEntry()
    {
        using var env = new FiniteGuard(new ScriptedEnvironment(nanObservationAt: 3));
        var observation = env.Reset(0);
        env.Step([0f, 0f], observation);
        env.Step([0f, 0f], observation);
        var error = Assert.Throws<NonFiniteValueException>(() => env.Step([0f, 0f], observation));
        Assert.Contains("Scripted-v0", error.Message);
        Assert.Contains("observation[1]", error.Message);
        Assert.Contains("step 3", error.Message);
    }

    [Fact]
    public void FiniteGuardCatchesRewards()
    {
        using var env = new FiniteGuard(new ScriptedEnvironment(nanRewardAt: 2));
        var observation = env.Reset(0);
        env.Step([0f, 0f], observation);
        var error = Assert.Throws<NonFiniteValueException>(() => env.Step([0f, 0f], observation));
        Assert.Contains("reward", error.Message);
        Assert.Contains("step 2", error.Message);
    }

    [Fact]
    public void WrappedPendulumStepAllocatesNothing()
    {
        using var env = new FiniteGuard(new EpisodeStatistics(new TimeLimit(new RescaleAction(new PendulumEnvironment()), 200)));
        var observation = new float[3];
        float[] action = [0.25f];
        env.Reset(observation, 0);
        for (int i = 0; i < 100; i++) if (env.Step(action, observation).Done) env.Reset(observation);
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(() => { for (int i = 0; i < 1000; i++) if (env.Step(action, observation).Done) env.Reset(observation); }));
    }

    [Fact]
    public void StepLengthsAreValidated()
    {
        using var env = new PendulumEnvironment();
        var observation = env.Reset(0);
        var error = Assert.Throws<ArgumentException>(() => env.Step([0f, 1f], observation));
        Assert.Contains("action has 2 entries but the space has 1", error.Message);
        Assert.Throws<ArgumentException>(() => env.Step([0f], new float[2]));
    }

    [Fact]
    public void FindWalksInwardsThroughTheChain()
    {
        var scripted = new ScriptedEnvironment();
        var limit = new TimeLimit(scripted, 10);
        using var outer = new EpisodeStatistics(limit);
        Assert.Same(limit, outer.Find<TimeLimit>());
        Assert.Same(scripted, outer.Find<ScriptedEnvironment>());
        Assert.Same(outer, outer.Find<EpisodeStatistics>());
        Assert.Null(outer.Find<FiniteGuard>());
    }
}
