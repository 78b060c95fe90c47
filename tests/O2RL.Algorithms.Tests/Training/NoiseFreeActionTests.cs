using O2RL.Algorithms.Training;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Envs;
using Xunit;

namespace O2RL.Algorithms.Tests.Training;

public sealed class NoiseFreeActionTests
{
    /// <summary>Acts with a known "noisy" action and reports a different noise-free one.</summary>
    sealed class FakeNoisyPolicy(bool reportsNoiseFree) : IPolicy
    {
        public const float Executed = 0.75f, NoiseFree = -0.25f;
        public int Calls;
        public int ObservationDim => 3;
        public int ActionDim => 1;
        public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic)
        {
            Calls++;
            action.Fill(Executed);
        }
        // Only the subclass below exposes this through the interface.
        public void Copy(Span<float> destination) => destination.Fill(reportsNoiseFree ? NoiseFree : float.NaN);
    }

    sealed class NoiseFreeFake() : IPolicy, INoiseFreeActionSource
    {
        readonly FakeNoisyPolicy inner = new(true);
        public int ObservationDim => inner.ObservationDim;
        public int ActionDim => inner.ActionDim;
        public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic) => inner.Act(observation, action, deterministic);
        public void CopyNoiseFreeAction(Span<float> destination) => inner.Copy(destination);
    }

    sealed class NoUpdateAgent(IPolicy policy) : IOffPolicyAgent
    {
        public IPolicy Policy => policy;
        public void Update(TransitionBatch batch, long environmentStep, int updateIndex) => throw new InvalidOperationException("no updates expected");
        public void LogMetrics(IMetricsSink metrics, long step) { }
    }

    /// <summary>Even episodes terminate at their 3rd step (a fall), odd ones run into the 4-step time limit.</summary>
    sealed class FallingEnvironment : IEnvironment
    {
        int episode = -1, step;
        public string Id => "falling";
        public BoxSpace ObservationSpace { get; } = new([-10f], [10f]);
        public BoxSpace ActionSpace { get; } = new([-1f], [1f]);
        public void Reset(Span<float> observation, int? seed = null) { episode++; step = 0; observation[0] = 0f; }
        public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
        {
            step++;
            observation[0] = step;
            return new StepResult(1.0, Terminated: episode % 2 == 0 && step == 3, Truncated: false);
        }
        public void Dispose() { }
    }

    [Fact]
    public void TheLoopStoresTerminationsAsTerminalAndTimeLimitEndsAsBootstrapping()
    {
        // m = 1 only where the episode truly ended; a time-limit end must bootstrap (ALGORITHMS.md §10).
        using var backend = new CpuBackend(1);
        using var environment = new O2RL.Envs.Wrappers.TimeLimit(new FallingEnvironment(), 4);
        using var evaluator = new Evaluator(EnvironmentRegistry.Make("Pendulum-v1"), null, 1);
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 1, 1, 64, 32, new DeviceRandom(1));
        var trainer = new OffPolicyTrainer(environment, evaluator, new NoUpdateAgent(new OneDimensionalPolicy()), sampler,
            new OffPolicyLoopOptions { TotalSteps = 14, WarmupSteps = 14, RandomWarmup = true, EvaluateEvery = 0, LogEvery = 0, Seed = 3 }, new MemoryMetrics());
        trainer.Run();
        var rows = sampler.Online.Rows.ToArray();
        int width = sampler.Online.Layout.Width, terminal = sampler.Online.Layout.TerminalColumn, next = sampler.Online.Layout.NextObservationColumn;
        // Episodes: 3 steps (fall), 4 steps (time limit), 3 steps (fall), 4 steps (time limit).
        Assert.Equal([0f, 0f, 1f, 0f, 0f, 0f, 0f, 0f, 0f, 1f, 0f, 0f, 0f, 0f], Enumerable.Range(0, 14).Select(i => rows[i * width + terminal]));
        Assert.Equal([1f, 2f, 3f, 1f, 2f, 3f, 4f, 1f, 2f, 3f, 1f, 2f, 3f, 4f], Enumerable.Range(0, 14).Select(i => rows[i * width + next]));
    }

    /// <summary>Falls (terminates) from its 2nd step on, and enforces the reset rule as every built-in task does.</summary>
    sealed class AlwaysFalls() : EnvironmentBase("always-falls", new BoxSpace([-10f], [10f]), new BoxSpace([-1f], [1f]))
    {
        int step;
        protected override void ResetCore(Span<float> observation) { step = 0; observation[0] = 0f; }
        protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation)
        {
            observation[0] = ++step;
            return new StepResult(1.0, Terminated: step >= 2, Truncated: false);
        }
    }

    [Fact]
    public void TheSharedEvaluationQuirkSurvivesAnEvaluationThatEndsInATermination()
    {
        // The release evaluates on the training instance; when its last episode ended in a fall (Hopper, Walker2d) the
        // next training step used to be refused ("Step was called … after the episode ended"). As in old Gym, the
        // step goes on from the fallen state and ends the cut-short training episode.
        using var backend = new CpuBackend(1);
        using var environment = new O2RL.Envs.Wrappers.TimeLimit(new AlwaysFalls(), 50);
        using var evaluator = new Evaluator(EnvironmentRegistry.Make("Pendulum-v1"), null, 1);
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 1, 1, 64, 32, new DeviceRandom(1));
        var metrics = new MemoryMetrics();
        var trainer = new OffPolicyTrainer(environment, evaluator, new NoUpdateAgent(new OneDimensionalPolicy()), sampler,
            new OffPolicyLoopOptions { TotalSteps = 8, WarmupSteps = 8, RandomWarmup = true, EvaluateEvery = 3, EvaluationEpisodes = 1,
                LogEvery = 0, Seed = 3, SharedEvaluationEnvironment = true }, metrics);
        trainer.Run();
        // Episodes of 2 steps, except those cut by the evaluations after steps 3 and 6: 1 step (step 3), then the
        // continued one (step 4) ends at once; likewise at 6 and 7.
        Assert.Equal([(2L, 2.0), (4L, 2.0), (6L, 2.0), (7L, 1.0)], metrics.Series("charts/episodic_length").Select(p => (p.Step, p.Value)));
        Assert.Equal([3L, 6L], metrics.Series("eval/return").Select(p => p.Step));
    }

    /// <summary>Acts NaN (as diverged weights do), in evaluation only or always.</summary>
    sealed class NaNPolicy(bool onlyWhenDeterministic) : IPolicy
    {
        public int ObservationDim => 3;
        public int ActionDim => 1;
        public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic) =>
            action.Fill(deterministic || !onlyWhenDeterministic ? float.NaN : 0.5f);
    }

    static TrainingDivergedException RunWithNaNPolicy(bool onlyWhenDeterministic)
    {
        using var backend = new CpuBackend(1);
        using var environment = PolicyEnvironment.Make("Pendulum-v1", null);
        using var evaluator = new Evaluator(EnvironmentRegistry.Make("Pendulum-v1"), null, 1);
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 3, 1, 64, 32, new DeviceRandom(1));
        var trainer = new OffPolicyTrainer(environment, evaluator, new NoUpdateAgent(new NaNPolicy(onlyWhenDeterministic)), sampler,
            new OffPolicyLoopOptions { TotalSteps = 10, WarmupSteps = 10, RandomWarmup = false, EvaluateEvery = 4, EvaluationEpisodes = 1, LogEvery = 0, Seed = 3 },
            new MemoryMetrics());
        return Assert.Throws<TrainingDivergedException>(() => trainer.Run());
    }

    [Fact]
    public void ANaNActionStopsTheLoopAsADivergence()
    {
        // The environment refuses NaN actions; the loop must say the training diverged (and where the last good
        // checkpoint is), not pass on the environment's argument error.
        var training = RunWithNaNPolicy(onlyWhenDeterministic: false);
        Assert.Contains("training diverged: the policy's action[0] is NaN at step 1", training.Message);
        var evaluation = RunWithNaNPolicy(onlyWhenDeterministic: true);
        Assert.Contains("training diverged: the policy's action[0] is NaN at step 1 of evaluation episode 1", evaluation.Message);
        Assert.Contains("no checkpoint was saved", evaluation.Message);
    }

    sealed class OneDimensionalPolicy : IPolicy
    {
        public int ObservationDim => 1;
        public int ActionDim => 1;
        public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic) => action.Fill(0.5f);
    }

    [Fact]
    public void TheEvaluatorReportsEachFinishedEpisodeWithItsReturn()
    {
        using var evaluator = new Evaluator(EnvironmentRegistry.Make("Pendulum-v1"), null, 1);
        var heard = new List<(int Count, double Return)>();
        var result = evaluator.Evaluate(new FakeNoisyPolicy(false), 3, episodeFinished: (count, episodeReturn) => heard.Add((count, episodeReturn)));
        Assert.Equal([1, 2, 3], heard.Select(h => h.Count));
        Assert.Equal(result.Returns, heard.Select(h => h.Return));
    }

    static float[] StoredActions(IPolicy policy, int warmup, int steps)
    {
        using var backend = new CpuBackend(1);
        using var environment = PolicyEnvironment.Make("Pendulum-v1", null);
        using var evaluator = new Evaluator(EnvironmentRegistry.Make("Pendulum-v1"), null, 1);
        // Batch larger than the run: the trainer never updates.
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 3, 1, 64, 32, new DeviceRandom(1));
        var trainer = new OffPolicyTrainer(environment, evaluator, new NoUpdateAgent(policy), sampler,
            new OffPolicyLoopOptions { TotalSteps = steps, WarmupSteps = warmup, RandomWarmup = warmup > 0, EvaluateEvery = 0, LogEvery = 0, Seed = 3 },
            new MemoryMetrics());
        trainer.Run();
        var rows = sampler.Online.Rows.ToArray();
        int width = sampler.Online.Layout.Width, column = sampler.Online.Layout.ActionColumn;
        return [.. Enumerable.Range(0, steps).Select(i => rows[i * width + column])];
    }

    [Fact]
    public void StoresTheNoiseFreeActionWhenThePolicyProvidesIt()
    {
        var stored = StoredActions(new NoiseFreeFake(), warmup: 0, steps: 5);
        Assert.All(stored, a => Assert.Equal(FakeNoisyPolicy.NoiseFree, a));
    }

    [Fact]
    public void StoresTheExecutedActionOtherwise()
    {
        var stored = StoredActions(new FakeNoisyPolicy(false), warmup: 0, steps: 5);
        Assert.All(stored, a => Assert.Equal(FakeNoisyPolicy.Executed, a));
    }

    [Fact]
    public void RandomWarmupActionsAreStoredAsExecuted()
    {
        var stored = StoredActions(new NoiseFreeFake(), warmup: 3, steps: 6);
        // Warm-up: uniform random actions in [−1, 1], neither of the policy's values; afterwards the noise-free one.
        Assert.All(stored[..3], a => Assert.True(a is >= -1f and <= 1f && a != FakeNoisyPolicy.NoiseFree && a != FakeNoisyPolicy.Executed, $"warm-up action {a}"));
        Assert.All(stored[3..], a => Assert.Equal(FakeNoisyPolicy.NoiseFree, a));
    }
}
