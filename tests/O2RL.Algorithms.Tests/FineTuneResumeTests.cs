using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.FineTuning.O2Ppo;
using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.FineTuning.O2Td3;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Runs;
using O2RL.Algorithms.Tests.Runs;
using O2RL.Algorithms.Training;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// Kill-and-resume inside fine-tuning stage C: a run stopped after stage C saved a checkpoint, reopened as the CLI
/// reopens it and resumed (stages A/B from their files, stage C from the checkpoint) ends bit-identical to an
/// uninterrupted run on the CPU backend: the final networks, λ, and every metrics row (wall-clock values aside), with
/// the offline stages' rows kept although their steps lie beyond the checkpoint's.
/// </summary>
public sealed class FineTuneResumeTests
{
    const string Environment = "Pendulum-v1";
    const int Seed = 6;

    /// <summary>Stops the run (through its cancellation token) once a stage-C value at or after a given step is logged.</summary>
    sealed class KillAt(IMetricsSink inner, long step, CancellationTokenSource source) : IMetricsSink
    {
        public void Log(long s, string name, double value)
        {
            inner.Log(s, name, value);
            if (s >= step && !FineTuneMetrics.IsOfflineStageMetric(name)) source.Cancel();
        }

        public void Flush(long s) => inner.Flush(s);
    }

    static string ShippedPendulum() =>
        ShippedDatasets.Find(Environment, "medium") ?? throw new FileNotFoundException($"no shipped {Environment} medium dataset under {ShippedDatasets.Root}");

    /// <summary>A tiny offline checkpoint ([8] networks, a few dozen steps) of <paramref name="run"/> on the shipped dataset.</summary>
    static string OfflineCheckpoint(TemporaryFolder root, Func<RunContext, RunResult> run, string name, params string[] overrides)
    {
        using var backend = new CpuBackend(1);
        return run(new RunContext
        {
            Backend = backend, EnvironmentId = Environment, DatasetName = "medium", Seed = 1, DatasetPath = ShippedPendulum(),
            OutputDirectory = root.Combine(name), Overrides = overrides,
        }).CheckpointPath!;
    }

    static RunResult FineTune(Func<RunContext, RunResult> run, string checkpoint, string[] overrides, RunFolder folder, IMetricsSink metrics,
        string? resume = null, CancellationToken cancellation = default)
    {
        using var backend = new CpuBackend(1);
        return run(new RunContext
        {
            Backend = backend, EnvironmentId = Environment, DatasetName = "medium", Seed = Seed, DatasetPath = ShippedPendulum(),
            InitialCheckpoint = checkpoint, OutputDirectory = folder.Directory, Overrides = overrides, Metrics = metrics,
            CheckpointEvery = 200, ResumeCheckpoint = resume, Cancellation = cancellation,
        });
    }

    // Wall-clock values differ between any two runs; their rows must still be there exactly once.
    static bool IsTiming(string name) => name == "charts/sps" || name.StartsWith("time/", StringComparison.Ordinal);

    static List<(long Step, string Name)> Rows(RunFolder folder) => [.. folder.ReadMetrics().Select(r => (r.Step, r.Name))];

    static List<MetricRow> Values(RunFolder folder) => [.. folder.ReadMetrics().Where(r => !IsTiming(r.Name))];

    /// <summary>
    /// Runs uninterrupted, then again killed once stage C logs at <paramref name="killAt"/>, reopens the folder at its
    /// newest checkpoint keeping the offline stages' rows, resumes, and compares. Returns the resumed run's folder and
    /// result for variant-specific checks.
    /// </summary>
    static (RunFolder Whole, RunFolder Resumed, RunResult Expected, RunResult Actual) AssertResumedStageCEqualsUninterrupted(TemporaryFolder root,
        Func<RunContext, RunResult> run, string algorithm, string checkpoint, string[] overrides, long killAt, string[] stageFiles)
    {
        var whole = RunFolder.Create(root.Combine("whole"), new RunInfo { Algorithm = algorithm, Environment = Environment, Seed = Seed, Command = "finetune" }, "{}");
        RunResult expected;
        using (var metrics = whole.OpenMetrics(flushToDisk: false))
            expected = FineTune(run, checkpoint, overrides, whole, metrics, cancellation: TestContext.Current.CancellationToken);

        var killed = RunFolder.Create(root.Combine("killed"), new RunInfo { Algorithm = algorithm, Environment = Environment, Seed = Seed, Command = "finetune" }, "{}");
        using (var source = new CancellationTokenSource())
        using (var metrics = killed.OpenMetrics(flushToDisk: false))
            Assert.Throws<OperationCanceledException>(() => FineTune(run, checkpoint, overrides, killed, new KillAt(metrics, killAt, source), cancellation: source.Token));
        foreach (string file in stageFiles) Assert.True(File.Exists(Path.Combine(killed.Directory, file)), $"{file} was not written before stage C");
        long saved = killed.LatestCheckpoint()!.Value.Step;
        Assert.InRange(saved, 1, killAt - 1);
        Assert.Contains(killed.ReadMetrics(), r => r.Step > saved && !FineTuneMetrics.IsOfflineStageMetric(r.Name));
        // The offline stages logged past the checkpoint's step on their own axes: the case the truncation must keep.
        if (stageFiles.Length > 0) Assert.Contains(killed.ReadMetrics(), r => r.Step > saved && FineTuneMetrics.IsOfflineStageMetric(r.Name));

        var reopened = RunFolder.OpenForResume(killed.Directory, saved, FineTuneMetrics.IsOfflineStageMetric);
        Assert.All(reopened.ReadMetrics(), r => Assert.True(r.Step <= saved || FineTuneMetrics.IsOfflineStageMetric(r.Name), $"row {r} survived truncation at {saved}"));
        RunResult resumed;
        using (var metrics = reopened.OpenMetrics(flushToDisk: false))
            resumed = FineTune(run, checkpoint, overrides, reopened, metrics, resume: reopened.LatestCheckpoint()!.Value.Path, cancellation: TestContext.Current.CancellationToken);

        // No row lost or repeated, in the same order; every value but the wall-clock ones bit-identical.
        Assert.Equal(Rows(whole), Rows(reopened));
        Assert.Equal(Values(whole), Values(reopened));
        Assert.Equal(expected.FinalEvaluation!.Returns, resumed.FinalEvaluation!.Returns);
        var expectedTensors = SafetensorsFile.Read(expected.CheckpointPath!).Tensors;
        var actualTensors = SafetensorsFile.Read(resumed.CheckpointPath!).Tensors;
        Assert.Equal(expectedTensors.Keys.Order(), actualTensors.Keys.Order());
        foreach (var (name, tensor) in expectedTensors) Assert.True(tensor.Data.AsSpan().SequenceEqual(actualTensors[name].Data), $"tensor '{name}' differs after resume");
        // Each JSON line is one flushed step: the same steps in the same order.
        static long[] Steps(RunFolder f) => [.. File.ReadAllLines(f.MetricsJsonlPath).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64())];
        Assert.Equal(Steps(whole), Steps(reopened));
        return (whole, reopened, expected, resumed);
    }

    static void AssertLambdaSeriesMatch(RunFolder whole, RunFolder resumed, long after)
    {
        var expected = whole.ReadSeries("losses/lambda");
        Assert.Contains(expected, p => p.Step > after);
        Assert.Equal(expected, resumed.ReadSeries("losses/lambda"));
    }

    // Stage A and B run 500 and 450 steps (rows up to 500 on their axes) against a stage-C checkpoint at 400.
    static readonly string[] O2SacRun_ =
    [
        "reevaluation_steps=500", "alignment_steps=450", "online_steps=1000", "warmup_steps=100", "batch_size=16", "critic_hidden=[8]",
        "eval_every=200", "eval_episodes=1", "log_every=100", "threshold_steps=1000", "replay_capacity=1000",
    ];

    [Fact]
    public void O2SacKilledInStageCAndResumedEqualsAnUninterruptedRun()
    {
        using var root = new TemporaryFolder();
        string cql = OfflineCheckpoint(root, CqlRun.Run, "cql",
            "steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=0", "eval_episodes=1");
        var (whole, resumed, _, actual) = AssertResumedStageCEqualsUninterrupted(root, O2SacRun.Run, O2SacRun.Algorithm, cql, O2SacRun_, killAt: 500,
            [O2SacRun.StageAFile, O2SacRun.StageBFile]);
        AssertLambdaSeriesMatch(whole, resumed, after: 400);
        // λ itself travels in the final file.
        Assert.Contains("log_lambda", SafetensorsFile.Read(actual.CheckpointPath!).Tensors.Keys);
    }

    [Fact]
    public void O2SacKilledInStageCWithThePeriodicReferenceRuleResumesExactly()
    {
        // Every-n reference replacement (the ablation rule, ε_end / 4) with n = 2: the evaluation count that decides the
        // next replacement and π_ref itself come back with the checkpoint.
        using var root = new TemporaryFolder();
        string cql = OfflineCheckpoint(root, CqlRun.Run, "cql",
            "steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=0", "eval_episodes=1");
        var (whole, resumed, _, _) = AssertResumedStageCEqualsUninterrupted(root, O2SacRun.Run, O2SacRun.Algorithm, cql,
            [.. O2SacRun_, "refer_to_optimal_policy=false", "update_n=2", "eval_every=100"], killAt: 500, [O2SacRun.StageAFile, O2SacRun.StageBFile]);
        var replaced = whole.ReadSeries("charts/reference_replaced");
        Assert.Contains(replaced, p => p.Step > 400 && p.Value == 1);
        Assert.Contains(replaced, p => p.Step > 400 && p.Value == 0);
        Assert.Equal(replaced, resumed.ReadSeries("charts/reference_replaced"));
        AssertLambdaSeriesMatch(whole, resumed, after: 400);
    }

    [Fact]
    public void O2SacNaiveBaselineKilledAndResumedEqualsAnUninterruptedRun()
    {
        // The naive baseline trains plain SAC (another agent than stage C's) from the offline actor and critics.
        using var root = new TemporaryFolder();
        string cql = OfflineCheckpoint(root, CqlRun.Run, "cql",
            "steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=0", "eval_episodes=1");
        AssertResumedStageCEqualsUninterrupted(root, O2SacRun.Run, O2SacRun.Algorithm, cql, [.. O2SacRun_, "mode=naive"], killAt: 500, []);
    }

    static readonly string[] O2Td3Run_ =
    [
        "reevaluation_steps=500", "alignment_steps=450", "online_steps=1000", "warmup_steps=100", "batch_size=16", "critic_hidden=[8]",
        "evaluate_every=200", "evaluation_episodes=1", "log_every=100", "threshold_steps=1000", "buffer_size=300",
    ];

    [Fact]
    public void O2Td3KilledInStageCAfterTheRingWrappedAndResumedEqualsAnUninterruptedRun()
    {
        // The 300-row online ring has wrapped before the checkpoint at 400 (kill at 500), so a full-ring restore is covered.
        using var root = new TemporaryFolder();
        string td3bc = OfflineCheckpoint(root, Td3BcRun.Run, "td3bc",
            "max_steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "evaluate_every=0", "evaluation_episodes=1", "log_every=20");
        var (whole, resumed, _, _) = AssertResumedStageCEqualsUninterrupted(root, O2Td3Run.Run, O2Td3Run.AlgorithmName, td3bc, O2Td3Run_, killAt: 500,
            [O2Td3StageFile.FileName('a'), O2Td3StageFile.FileName('b')]);
        AssertLambdaSeriesMatch(whole, resumed, after: 400);
    }

    [Fact]
    public void O2Td3KilledInStageCWithThePeriodicReferenceRuleResumesExactly()
    {
        // Every-n reference replacement (ε_end / 4), two updates per step: n_it parity and the tracker come back.
        using var root = new TemporaryFolder();
        string td3bc = OfflineCheckpoint(root, Td3BcRun.Run, "td3bc",
            "max_steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "evaluate_every=0", "evaluation_episodes=1", "log_every=20");
        AssertResumedStageCEqualsUninterrupted(root, O2Td3Run.Run, O2Td3Run.AlgorithmName, td3bc,
            [.. O2Td3Run_, "refer_with_optimal_pi=false", "update_every=2", "updates_per_step=2", "online_steps=800"], killAt: 500, [O2Td3StageFile.FileName('a'), O2Td3StageFile.FileName('b')]);
    }

    // Stage A logs up to step 700; the rollouts of 256 steps against 200-step episodes put the checkpoint (600) inside a
    // rollout; dynamic reward scaling carries the scaler's statistics into stage C.
    static readonly string[] O2PpoRun_ =
    [
        "total_steps=1024", "rollout_length=256", "minibatch_size=64", "epochs=2", "value_pretrain_steps=700", "value_pretrain_batch_size=16",
        "critic_hidden=[8]", "evaluate_every=256", "evaluation_episodes=1", "aux_decay_steps=1024", "reward_scaling=dynamic",
    ];

    [Fact]
    public void O2PpoKilledInStageCAndResumedEqualsAnUninterruptedRun()
    {
        using var root = new TemporaryFolder();
        string iql = OfflineCheckpoint(root, IqlRun.Run, "iql",
            "max_steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "value_hidden=[8]", "evaluate_every=0");
        var (whole, resumed, _, actual) = AssertResumedStageCEqualsUninterrupted(root, O2PpoRun.Run, O2PpoRun.Algorithm, iql, O2PpoRun_, killAt: 700,
            [O2PpoRun.StageAFileName]);
        Assert.Equal(whole.ReadSeries("charts/best_score"), resumed.ReadSeries("charts/best_score"));
        // π_ref travels in the final file.
        Assert.Contains(SafetensorsFile.Read(actual.CheckpointPath!).Tensors.Keys, k => k.StartsWith("reference.", StringComparison.Ordinal));
    }

    [Fact]
    public void ResumingStageCFromAnotherModesCheckpointIsRefused()
    {
        using var root = new TemporaryFolder();
        string cql = OfflineCheckpoint(root, CqlRun.Run, "cql",
            "steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=0", "eval_episodes=1");
        string[] shortRun = [.. O2SacRun_, "online_steps=400", "reevaluation_steps=20", "alignment_steps=20"];
        var naive = RunFolder.Create(root.Combine("naive"), new RunInfo { Algorithm = "o2sac", Environment = Environment, Seed = Seed, Command = "finetune" }, "{}");
        using (var metrics = naive.OpenMetrics(flushToDisk: false))
            FineTune(O2SacRun.Run, cql, [.. shortRun, "mode=naive"], naive, metrics, cancellation: TestContext.Current.CancellationToken);
        var stageC = RunFolder.Create(root.Combine("ocr"), new RunInfo { Algorithm = "o2sac", Environment = Environment, Seed = Seed, Command = "finetune" }, "{}");
        using var sink = stageC.OpenMetrics(flushToDisk: false);
        var ex = Assert.Throws<InvalidDataException>(() => FineTune(O2SacRun.Run, cql, shortRun, stageC, sink, resume: naive.LatestCheckpoint()!.Value.Path, cancellation: TestContext.Current.CancellationToken));
        Assert.Contains("o2sac-naive training state", ex.Message);
    }
}
