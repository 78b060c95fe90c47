using O2RL.Algorithms.Online;
using O2RL.Algorithms.Runs;
using O2RL.Algorithms.Tests.Runs;
using O2RL.Algorithms.Training;
using O2RL.Data.Replay;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests.Training;

/// <summary>
/// Kill-and-resume: a run stopped at an arbitrary step and resumed from its last checkpoint must end with the same
/// metrics (no row lost or repeated; wall-clock metrics aside) and bit-identical networks as an uninterrupted run.
/// </summary>
public sealed class ResumeTests
{
    // Wall-clock measurements differ between any two runs; everything else must match exactly.
    static readonly HashSet<string> TimingMetrics = ["charts/sps", "time/update"];

    static readonly string[] SacOverrides = ["total_steps=1200", "warmup_steps=200", "batch_size=32", "actor_hidden=[8]", "critic_hidden=[8]",
        "eval_every=400", "eval_episodes=1", "log_every=100", "replay_capacity=1000"];
    // buffer_size 1000 < 1200 steps: the replay ring wraps after the checkpoint at 800, so a full-ring restore is covered too.
    static readonly string[] Td3Overrides = ["total_steps=1200", "warmup_steps=200", "batch_size=32", "actor_hidden=[8]", "critic_hidden=[8]",
        "evaluate_every=400", "evaluation_episodes=1", "log_every=100", "buffer_size=700"];

    // Rollouts of 250 steps against 200-step episodes: the checkpoints (600, 1200) fall inside a rollout, which is saved too.
    static readonly string[] PpoOverrides = ["total_steps=1500", "rollout_length=250", "minibatch_size=50", "epochs=2", "actor_hidden=[8]",
        "critic_hidden=[8]", "evaluate_every=500", "evaluation_episodes=1"];

    /// <summary>Stops the run (through its cancellation token) once a value at or after a given step is logged.</summary>
    sealed class KillAt(IMetricsSink inner, long step, CancellationTokenSource source) : IMetricsSink
    {
        public void Log(long s, string name, double value)
        {
            inner.Log(s, name, value);
            if (s >= step) source.Cancel();
        }

        public void Flush(long s) => inner.Flush(s);
    }

    static RunResult Train(Func<RunContext, RunResult> run, string[] overrides, RunFolder folder, IMetricsSink metrics, string? resume = null,
        CancellationToken cancellation = default, long? checkpointEvery = null)
    {
        using var backend = new CpuBackend(1);
        return run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 3, OutputDirectory = folder.Directory, Overrides = overrides,
            Metrics = metrics, ResumeCheckpoint = resume, Cancellation = cancellation, CheckpointEvery = checkpointEvery,
        });
    }

    static RunFolder NewFolder(TemporaryFolder root, string name, string algorithm) =>
        RunFolder.Create(root.Combine(name), new RunInfo { Algorithm = algorithm, Environment = "Pendulum-v1", Seed = 3, Command = "online" }, "{}");

    static List<MetricRow> Comparable(RunFolder folder) => [.. folder.ReadMetrics().Where(r => !TimingMetrics.Contains(r.Name))];

    static void AssertResumedRunEqualsUninterrupted(Func<RunContext, RunResult> run, string algorithm, string[] overrides, long killAt, long? checkpointEvery = null)
    {
        using var root = new TemporaryFolder();
        var whole = NewFolder(root, "whole", algorithm);
        RunResult expected;
        using (var metrics = whole.OpenMetrics(flushToDisk: false)) expected = Train(run, overrides, whole, metrics, cancellation: TestContext.Current.CancellationToken, checkpointEvery: checkpointEvery);

        var killed = NewFolder(root, "killed", algorithm);
        using (var source = new CancellationTokenSource())
        using (var metrics = killed.OpenMetrics(flushToDisk: false))
            Assert.Throws<OperationCanceledException>(() => Train(run, overrides, killed, new KillAt(metrics, killAt, source), cancellation: source.Token, checkpointEvery: checkpointEvery));
        Assert.Contains(killed.ReadMetrics(), r => r.Step > killed.LatestCheckpoint()!.Value.Step); // rows past the checkpoint exist before resume

        var reopened = RunFolder.OpenForResume(killed.Directory);
        var checkpoint = reopened.LatestCheckpoint()!.Value;
        Assert.InRange(checkpoint.Step, 1, killAt - 1);
        Assert.All(reopened.ReadMetrics(), r => Assert.True(r.Step <= checkpoint.Step, $"row {r} survived truncation at {checkpoint.Step}"));
        RunResult resumed;
        using (var metrics = reopened.OpenMetrics(flushToDisk: false)) resumed = Train(run, overrides, reopened, metrics, resume: checkpoint.Path, cancellation: TestContext.Current.CancellationToken, checkpointEvery: checkpointEvery);

        Assert.Equal(Comparable(whole), Comparable(reopened));
        Assert.Equal(File.ReadAllBytes(expected.CheckpointPath!), File.ReadAllBytes(resumed.CheckpointPath!));
        Assert.Equal(expected.FinalEvaluation!.Returns, resumed.FinalEvaluation!.Returns);
        // The JSON-lines file holds the same steps in the same order.
        static long[] Steps(RunFolder f) => [.. File.ReadAllLines(f.MetricsJsonlPath).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64())];
        Assert.Equal(Steps(whole), Steps(reopened));
    }

    [Fact]
    public void SacKilledMidRunAndResumedEqualsAnUninterruptedRun() =>
        AssertResumedRunEqualsUninterrupted(SacRun.Run, SacRun.Algorithm, SacOverrides, killAt: 870);

    [Fact]
    public void Td3KilledAfterTheRingWrappedAndResumedEqualsAnUninterruptedRun() =>
        AssertResumedRunEqualsUninterrupted(Td3Run.Run, Td3Run.AlgorithmName, Td3Overrides, killAt: 1050);

    [Fact]
    public void Td3KilledDuringWarmupResumesExactly() =>
        // Checkpoint at the first episode end (step 200 … still inside a 200-step warm-up only by its last step) with
        // a 300-step warm-up: the random warm-up stream is replayed on resume.
        AssertResumedRunEqualsUninterrupted(Td3Run.Run, Td3Run.AlgorithmName, [.. Td3Overrides, "warmup_steps=300"], killAt: 250, checkpointEvery: 150);

    [Fact]
    public void PpoKilledMidRolloutAndResumedEqualsAnUninterruptedRun() =>
        AssertResumedRunEqualsUninterrupted(PpoRun.Run, PpoRun.Algorithm, PpoOverrides, killAt: 930);

    [Fact]
    public void ResumingWithAnotherSeedIsRefused()
    {
        using var root = new TemporaryFolder();
        var folder = NewFolder(root, "a", SacRun.Algorithm);
        using (var metrics = folder.OpenMetrics(flushToDisk: false)) Train(SacRun.Run, SacOverrides, folder, metrics, cancellation: TestContext.Current.CancellationToken);
        var checkpoint = folder.LatestCheckpoint()!.Value.Path;
        using var backend = new CpuBackend(1);
        var ex = Assert.Throws<InvalidDataException>(() => SacRun.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, Overrides = SacOverrides, ResumeCheckpoint = checkpoint,
        }));
        Assert.Contains("seed", ex.Message);
        Assert.Throws<InvalidDataException>(() => Td3Run.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 3, Overrides = Td3Overrides, ResumeCheckpoint = checkpoint,
        }));
    }

    /// <summary>An agent whose losses turn NaN from a given step on (state: one counter).</summary>
    sealed class DivergingAgent(long divergeAt) : IOffPolicyAgent, IResumableAgent
    {
        readonly NoisePolicy policy = new();
        long updates;
        public IPolicy Policy => policy;
        public void Update(TransitionBatch batch, long environmentStep, int updateIndex) => updates++;
        public void LogMetrics(IMetricsSink metrics, long step) => metrics.Log(step, "losses/qf_loss", step >= divergeAt ? double.NaN : 1.0 / step);
        public void SaveState(TrainingState state) => state.SetCounter("fake.updates", updates);
        public void RestoreState(TrainingState state) => updates = state.GetCounter("fake.updates");

        sealed class NoisePolicy : IPolicy
        {
            public int ObservationDim => 3;
            public int ActionDim => 1;
            public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic) => action[0] = 0.1f;
        }
    }

    [Fact]
    public void ANonFiniteLossStopsTheRunNamingTheUpdateRangeAndKeepsTheLastGoodCheckpoint()
    {
        using var root = new TemporaryFolder();
        using var backend = new CpuBackend(1);
        using var environment = PolicyEnvironment.Make("Pendulum-v1", null);
        using var evaluator = new Evaluator(PolicyEnvironment.Make("Pendulum-v1", null), null, 1);
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 3, 1, 2000, 8, new DeviceRandom(1));
        var agent = new DivergingAgent(divergeAt: 1100);
        var trainer = new OffPolicyTrainer(environment, evaluator, agent, sampler,
            new OffPolicyLoopOptions { TotalSteps = 2000, WarmupSteps = 100, EvaluateEvery = 0, LogEvery = 300, Seed = 1 }, new MemoryMetrics())
        {
            Checkpoints = new TrainingCheckpoints(root.Combine("checkpoints"), 400, agent, "fake"),
        };
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        // Logged at 900 (finite) and 1200 (NaN): updates 801 … 1100 happened between them (updates start after step 100).
        Assert.Contains("losses/qf_loss = NaN at step 1,200", ex.Message);
        Assert.Contains("between updates 801 and 1,100 (steps 901–1,200)", ex.Message);
        Assert.Equal(800, ex.LastGoodStep);
        Assert.True(File.Exists(ex.LastGoodCheckpoint), ex.Message);
        Assert.EndsWith(RunFolder.CheckpointFileName(800), ex.LastGoodCheckpoint);
        Assert.Equal(2, Directory.GetFiles(root.Combine("checkpoints")).Length);
    }
}
