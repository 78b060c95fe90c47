using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Runs;
using O2RL.Algorithms.Tests.Runs;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests.Training;

/// <summary>
/// Offline pre-training stopped between two updates and resumed from its last checkpoint must end with the same
/// metrics rows (no row lost or repeated; wall-clock metrics aside) and bit-identical networks as an uninterrupted
/// run, on the shipped Pendulum-v1 dataset with tiny networks.
/// </summary>
public sealed class OfflineResumeTests
{
    static readonly HashSet<string> TimingMetrics = ["charts/sps", "time/update"];

    // Lagrange α′ and a behaviour-cloning warm start of 150 updates: resuming from update 100 must restore the update
    // counter (or BC would run again) and the α′ optimiser.
    static readonly string[] CqlOverrides = ["steps=300", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "nactions=4",
        "eval_every=100", "eval_episodes=1", "log_every=50", "lagrange=true", "bc_steps=150"];

    // The actor's cosine schedule runs over these 300 steps, so its learning rate differs at every update. IQL logs
    // where it evaluates (every 50).
    static readonly string[] IqlOverrides = ["max_steps=300", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "value_hidden=[8]",
        "evaluate_every=50", "evaluation_episodes=1"];

    // Checkpoints every 75 updates: the one resumed from (75) falls between two delayed actor steps.
    static readonly string[] Td3BcOverrides = ["max_steps=300", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]",
        "evaluate_every=100", "evaluation_episodes=1", "log_every=50"];

    static string Dataset(string level = "medium") =>
        ShippedDatasets.Find("Pendulum-v1", level) ?? throw new FileNotFoundException($"no shipped Pendulum-v1 {level} dataset under {ShippedDatasets.Root}");

    /// <summary>Stops the run (through its cancellation token) once a value at or after a given step is logged.</summary>
    sealed class StopAt(IMetricsSink inner, long step, CancellationTokenSource source) : IMetricsSink
    {
        public void Log(long s, string name, double value)
        {
            inner.Log(s, name, value);
            if (s >= step) source.Cancel();
        }

        public void Flush(long s) => inner.Flush(s);
    }

    static RunResult Train(Func<RunContext, RunResult> run, string[] overrides, string outputDirectory, IMetricsSink metrics, string? resume = null,
        CancellationToken cancellation = default, long? checkpointEvery = null, string? dataset = null)
    {
        using var backend = new CpuBackend(1);
        return run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 3, DatasetPath = dataset ?? Dataset(), OutputDirectory = outputDirectory,
            Overrides = overrides, Metrics = metrics, ResumeCheckpoint = resume, Cancellation = cancellation, CheckpointEvery = checkpointEvery,
        });
    }

    static RunFolder NewFolder(TemporaryFolder root, string name, string algorithm) =>
        RunFolder.Create(root.Combine(name), new RunInfo { Algorithm = algorithm, Environment = "Pendulum-v1", Seed = 3, Command = "offline" }, "{}");

    static List<MetricRow> Comparable(RunFolder folder) => [.. folder.ReadMetrics().Where(r => !TimingMetrics.Contains(r.Name))];

    static long[] JsonlSteps(RunFolder folder) =>
        [.. File.ReadAllLines(folder.MetricsJsonlPath).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64())];

    static void AssertResumedRunEqualsUninterrupted(Func<RunContext, RunResult> run, string algorithm, string[] overrides, long stopAt,
        long expectedCheckpoint, long? checkpointEvery = null)
    {
        var token = TestContext.Current.CancellationToken;
        using var root = new TemporaryFolder();
        var whole = NewFolder(root, "whole", algorithm);
        RunResult expected;
        using (var metrics = whole.OpenMetrics(flushToDisk: false))
            expected = Train(run, overrides, whole.Directory, metrics, cancellation: token, checkpointEvery: checkpointEvery);

        var stopped = NewFolder(root, "stopped", algorithm);
        using (var source = new CancellationTokenSource())
        using (var metrics = stopped.OpenMetrics(flushToDisk: false))
            Assert.Throws<OperationCanceledException>(() =>
                Train(run, overrides, stopped.Directory, new StopAt(metrics, stopAt, source), cancellation: source.Token, checkpointEvery: checkpointEvery));
        Assert.False(File.Exists(Path.Combine(stopped.Directory, algorithm + ".safetensors")), "a stopped run wrote its final checkpoint");
        Assert.Contains(stopped.ReadMetrics(), r => r.Step > expectedCheckpoint); // rows past the checkpoint exist before the resume

        var reopened = RunFolder.OpenForResume(stopped.Directory);
        var checkpoint = reopened.LatestCheckpoint()!.Value;
        Assert.Equal(expectedCheckpoint, checkpoint.Step);
        Assert.All(reopened.ReadMetrics(), r => Assert.True(r.Step <= checkpoint.Step, $"row {r} survived truncation at {checkpoint.Step}"));
        RunResult resumed;
        using (var metrics = reopened.OpenMetrics(flushToDisk: false))
            resumed = Train(run, overrides, reopened.Directory, metrics, resume: checkpoint.Path, cancellation: token, checkpointEvery: checkpointEvery);

        var expectedRows = Comparable(whole);
        Assert.Contains(expectedRows, r => r.Name.StartsWith("losses/", StringComparison.Ordinal) && r.Step > checkpoint.Step);
        Assert.Equal(expectedRows, Comparable(reopened));
        // Timing rows too: present at the same steps, only their values differ.
        Assert.Equal(whole.ReadMetrics().Select(r => (r.Step, r.Name)), reopened.ReadMetrics().Select(r => (r.Step, r.Name)));
        Assert.Equal(JsonlSteps(whole), JsonlSteps(reopened));
        Assert.Equal(File.ReadAllBytes(expected.CheckpointPath!), File.ReadAllBytes(resumed.CheckpointPath!));
        Assert.Equal(expected.FinalEvaluation!.Returns, resumed.FinalEvaluation!.Returns);
    }

    [Fact]
    public void CqlStoppedMidRunAndResumedEqualsAnUninterruptedRun() =>
        AssertResumedRunEqualsUninterrupted(CqlRun.Run, CqlRun.Algorithm, CqlOverrides, stopAt: 130, expectedCheckpoint: 100);

    [Fact]
    public void IqlStoppedMidRunAndResumedEqualsAnUninterruptedRun() =>
        AssertResumedRunEqualsUninterrupted(IqlRun.Run, IqlRun.Algorithm, IqlOverrides, stopAt: 230, expectedCheckpoint: 200, checkpointEvery: 100);

    [Fact]
    public void Td3BcStoppedBetweenDelayedActorStepsAndResumedEqualsAnUninterruptedRun() =>
        AssertResumedRunEqualsUninterrupted(Td3BcRun.Run, Td3BcRun.AlgorithmName, Td3BcOverrides, stopAt: 100, expectedCheckpoint: 75, checkpointEvery: 75);

    [Fact]
    public void ResumingOnAnotherDatasetIsRefusedWithOneLine()
    {
        using var root = new TemporaryFolder();
        var folder = NewFolder(root, "a", IqlRun.Algorithm);
        using (var metrics = folder.OpenMetrics(flushToDisk: false))
            Train(IqlRun.Run, IqlOverrides, folder.Directory, metrics, cancellation: TestContext.Current.CancellationToken);
        string checkpoint = folder.LatestCheckpoint()!.Value.Path;

        // Another level of the same task, and the same file with one reward changed (same row count and shapes).
        var changed = D4rlHdf5.Read(Dataset());
        changed.Rewards[17] += 0.5f;
        string changedPath = root.Combine("pendulum-v1-medium-changed.hdf5");
        D4rlHdf5.Write(changed, changedPath);
        foreach (string other in new[] { Dataset("random"), changedPath })
        {
            var ex = Assert.Throws<InvalidDataException>(() =>
                Train(IqlRun.Run, IqlOverrides, root.Combine("b"), new MemoryMetrics(), resume: checkpoint, cancellation: TestContext.Current.CancellationToken, dataset: other));
            Assert.Contains("another dataset", ex.Message);
            Assert.Contains("CRC-32C", ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
        }

        // The unchanged file still resumes (to the end: the checkpoint is at 250 of 300).
        var result = Train(IqlRun.Run, IqlOverrides, root.Combine("c"), new MemoryMetrics(), resume: checkpoint, cancellation: TestContext.Current.CancellationToken);
        Assert.NotNull(result.FinalEvaluation);
    }

    [Fact]
    public void AStateOfAnotherAlgorithmOrSeedIsRefused()
    {
        using var root = new TemporaryFolder();
        var folder = NewFolder(root, "a", Td3BcRun.AlgorithmName);
        using (var metrics = folder.OpenMetrics(flushToDisk: false))
            Train(Td3BcRun.Run, Td3BcOverrides, folder.Directory, metrics, cancellation: TestContext.Current.CancellationToken);
        string checkpoint = folder.LatestCheckpoint()!.Value.Path;
        var ex = Assert.Throws<InvalidDataException>(() => Train(CqlRun.Run, CqlOverrides, root.Combine("b"), new MemoryMetrics(), resume: checkpoint, cancellation: TestContext.Current.CancellationToken));
        Assert.Contains("td3_bc training state", ex.Message);
        using var backend = new CpuBackend(1);
        ex = Assert.Throws<InvalidDataException>(() => Td3BcRun.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = Dataset(), Overrides = Td3BcOverrides, ResumeCheckpoint = checkpoint,
        }));
        Assert.Contains("seed", ex.Message);
    }

    [Fact]
    public void DatasetFingerprintsDifferForOneChangedValueAndMatchForTheSameData()
    {
        var dataset = D4rlHdf5.Read(Dataset());
        var first = DatasetFingerprint.Of(dataset);
        Assert.Equal(first, DatasetFingerprint.Of(D4rlHdf5.Read(Dataset())));
        Assert.Equal(dataset.RowCount, first.Rows);
        dataset.Observations[^1] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(dataset.Observations[^1]) ^ 1);
        var flipped = DatasetFingerprint.Of(dataset);
        Assert.Equal(first.Rows, flipped.Rows);
        Assert.NotEqual(first.Checksum, flipped.Checksum);

        var state = new TrainingState();
        first.Save(state);
        first.CheckSameAs(state);
        Assert.Throws<InvalidDataException>(() => flipped.CheckSameAs(state));
        Assert.Throws<InvalidDataException>(() => first.CheckSameAs(new TrainingState()));
    }

    /// <summary>An agent whose losses turn NaN from a given update on (state: one counter).</summary>
    sealed class DivergingAgent(long divergeAt) : IOfflineAgent
    {
        long updates;
        public IPolicy Policy { get; } = new ConstantPolicy();
        public void Update(TransitionBatch batch) => updates++;
        public void LogMetrics(IMetricsSink metrics, long step) => metrics.Log(step, "losses/qf_loss", updates >= divergeAt ? double.NaN : 1.0 / updates);
        public void SaveState(TrainingState state) => state.SetCounter("fake.updates", updates);
        public void RestoreState(TrainingState state) => updates = state.GetCounter("fake.updates");

        sealed class ConstantPolicy : IPolicy
        {
            public int ObservationDim => 3;
            public int ActionDim => 1;
            public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic) => action[0] = 0.1f;
        }
    }

    [Fact]
    public void ANonFiniteLossStopsTheLoopNamingTheUpdatesAndKeepsTheLastGoodCheckpoint()
    {
        using var root = new TemporaryFolder();
        using var backend = new CpuBackend(1);
        using var evaluator = new Evaluator(PolicyEnvironment.Make("Pendulum-v1", null), null, 1);
        var batch = new TransitionBatch(backend, 4, 3, 1);
        var random = new DeviceRandom(11);
        var agent = new DivergingAgent(divergeAt: 650);
        var metrics = new MemoryMetrics();
        var fingerprint = new DatasetFingerprint(10, 3, 1, 0xABCDu);
        var trainer = new OfflineTrainer(evaluator, agent, () => batch, random, fingerprint,
            new OfflineLoopOptions { TotalUpdates = 2000, LogEvery = 300, EvaluateEvery = 0 }, metrics)
        {
            Checkpoints = new TrainingCheckpoints(root.Combine("checkpoints"), 200, agent, "fake"),
        };
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        // Logged at 600 (finite) and 900 (NaN): the first NaN lies in updates 601 … 900.
        Assert.Contains("losses/qf_loss = NaN at update 900", ex.Message);
        Assert.Contains("between updates 601 and 900", ex.Message);
        Assert.Equal(800, ex.LastGoodStep);
        Assert.EndsWith(RunFolder.CheckpointFileName(800), ex.LastGoodCheckpoint);
        Assert.Equal(TrainingCheckpoints.Kept, Directory.GetFiles(root.Combine("checkpoints")).Length);
        // The values of the diverged step are on record, time/update and charts/sps included.
        Assert.Equal(["losses/qf_loss", "time/update", "charts/sps"], metrics.Rows.Where(r => r.Step == 900).Select(r => r.Name));

        // Its checkpoint resumes (the dataset fingerprint matches) and diverges at the same place again.
        var resumedAgent = new DivergingAgent(divergeAt: 650);
        var resumed = new OfflineTrainer(evaluator, resumedAgent, () => batch, new DeviceRandom(11), fingerprint,
            new OfflineLoopOptions { TotalUpdates = 2000, LogEvery = 300, EvaluateEvery = 0 }, new MemoryMetrics())
        {
            Checkpoints = new TrainingCheckpoints(root.Combine("checkpoints"), 200, resumedAgent, "fake", TrainingState.Read(ex.LastGoodCheckpoint!)),
        };
        ex = Assert.Throws<TrainingDivergedException>(() => resumed.Run());
        Assert.Contains("losses/qf_loss = NaN at update 900", ex.Message);
        Assert.Contains("between updates 801 and 900", ex.Message);
    }
}
