using System.Text.Json;
using O2RL.Algorithms.FineTuning.O2Ppo;
using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.FineTuning.O2Td3;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests.Runs;

/// <summary>
/// Every run writes its resolved config to config.json before it trains, so a run that stops early (killed, Ctrl+C,
/// an exception) still says how it was configured. Each case reads the file at the run's first logged value, stops the
/// run there, and checks the file holds the resolved config: the override given, and the defaults nobody set.
/// </summary>
public sealed class RecordedConfigTests
{
    const string Environment = "Pendulum-v1";

    /// <summary>Reads config.json when the first value is logged, then stops the run through its cancellation token.</summary>
    sealed class ReadConfigAtFirstLog(string folder, CancellationTokenSource stop) : IMetricsSink
    {
        public string? ConfigAtFirstLog { get; private set; }
        public bool Logged { get; private set; }

        public void Log(long step, string name, double value)
        {
            if (Logged) return;
            Logged = true;
            string path = Path.Combine(folder, "config.json");
            ConfigAtFirstLog = File.Exists(path) ? File.ReadAllText(path) : null;
            stop.Cancel();
        }

        public void Flush(long step) { }
    }

    static string ShippedPendulum() =>
        ShippedDatasets.Find(Environment, "medium") ?? throw new FileNotFoundException($"no shipped {Environment} medium dataset under {ShippedDatasets.Root}");

    static string OfflineCheckpoint(TemporaryFolder root, Func<RunContext, RunResult> run, params string[] overrides)
    {
        using var backend = new CpuBackend(1);
        return run(new RunContext
        {
            Backend = backend, EnvironmentId = Environment, DatasetName = "medium", Seed = 1, DatasetPath = ShippedPendulum(),
            OutputDirectory = root.Combine("offline"), Overrides = overrides,
        }).CheckpointPath!;
    }

    /// <summary>Runs until the first logged value and returns config.json as it was then.</summary>
    static JsonElement ConfigAtFirstLog(TemporaryFolder root, Func<RunContext, RunResult> run, string[] overrides, bool dataset = false, string? from = null)
    {
        string folder = root.Combine("run");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var sink = new ReadConfigAtFirstLog(folder, stop);
        using var backend = new CpuBackend(1);
        try
        {
            run(new RunContext
            {
                Backend = backend, EnvironmentId = Environment, DatasetName = "medium", Seed = 2, DatasetPath = dataset ? ShippedPendulum() : null,
                InitialCheckpoint = from, OutputDirectory = folder, Overrides = overrides, Metrics = sink, Cancellation = stop.Token,
            });
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            // Stopped at the first logged value, as intended.
        }
        Assert.True(sink.Logged, "the run logged nothing");
        Assert.NotNull(sink.ConfigAtFirstLog);
        return JsonDocument.Parse(sink.ConfigAtFirstLog).RootElement.Clone();
    }

    static void AssertResolved(JsonElement config, string overriddenKey, int overriddenValue, string defaultKey)
    {
        Assert.Equal(overriddenValue, config.GetProperty(overriddenKey).GetInt32());
        Assert.True(config.TryGetProperty(defaultKey, out _), $"config.json lacks the default '{defaultKey}': it is not the resolved config");
    }

    [Fact]
    public void SacRecordsItsConfigBeforeTraining()
    {
        using var root = new TemporaryFolder();
        var config = ConfigAtFirstLog(root, SacRun.Run, ["total_steps=600", "warmup_steps=100", "batch_size=24", "actor_hidden=[8]", "critic_hidden=[8]", "log_every=100"]);
        AssertResolved(config, "batch_size", 24, "gamma");
    }

    [Fact]
    public void Td3RecordsItsConfigBeforeTraining()
    {
        using var root = new TemporaryFolder();
        var config = ConfigAtFirstLog(root, Td3Run.Run, ["total_steps=600", "warmup_steps=100", "batch_size=24", "actor_hidden=[8]", "critic_hidden=[8]", "log_every=100"]);
        AssertResolved(config, "batch_size", 24, "policy_noise");
    }

    [Fact]
    public void PpoRecordsItsConfigBeforeTraining()
    {
        using var root = new TemporaryFolder();
        var config = ConfigAtFirstLog(root, PpoRun.Run, ["total_steps=500", "rollout_length=250", "minibatch_size=50", "epochs=1", "actor_hidden=[8]", "critic_hidden=[8]"]);
        AssertResolved(config, "minibatch_size", 50, "clip_ratio");
    }

    [Fact]
    public void OfflineLearnersRecordTheirConfigBeforeTraining()
    {
        using (var root = new TemporaryFolder())
            AssertResolved(ConfigAtFirstLog(root, CqlRun.Run, ["steps=200", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "log_every=50"], dataset: true),
                "batch_size", 16, "gamma");
        using (var root = new TemporaryFolder())
            AssertResolved(ConfigAtFirstLog(root, IqlRun.Run, ["max_steps=200", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "value_hidden=[8]", "evaluate_every=50"], dataset: true),
                "batch_size", 16, "expectile");
        using (var root = new TemporaryFolder())
            AssertResolved(ConfigAtFirstLog(root, Td3BcRun.Run, ["max_steps=200", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "log_every=50"], dataset: true),
                "batch_size", 16, "alpha");
    }

    [Fact]
    public void FineTuningVariantsRecordTheirConfigBeforeTheirFirstStage()
    {
        using (var root = new TemporaryFolder())
        {
            string cql = OfflineCheckpoint(root, CqlRun.Run, "steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=0", "eval_episodes=1");
            var config = ConfigAtFirstLog(root, O2SacRun.Run, ["reevaluation_steps=200", "alignment_steps=200", "online_steps=400", "batch_size=16",
                "critic_hidden=[8]", "eval_episodes=1", "log_every=50"], dataset: true, from: cql);
            AssertResolved(config, "batch_size", 16, "target_entropy_rule");
        }
        using (var root = new TemporaryFolder())
        {
            string td3bc = OfflineCheckpoint(root, Td3BcRun.Run, "max_steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "evaluate_every=0", "evaluation_episodes=1");
            var config = ConfigAtFirstLog(root, O2Td3Run.Run, ["reevaluation_steps=200", "alignment_steps=200", "online_steps=400", "batch_size=16",
                "critic_hidden=[8]", "evaluation_episodes=1", "log_every=50"], dataset: true, from: td3bc);
            AssertResolved(config, "batch_size", 16, "policy_noise");
        }
        using (var root = new TemporaryFolder())
        {
            string iql = OfflineCheckpoint(root, IqlRun.Run, "max_steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "value_hidden=[8]", "evaluate_every=0");
            var config = ConfigAtFirstLog(root, O2PpoRun.Run, ["total_steps=512", "rollout_length=256", "minibatch_size=64", "epochs=1", "value_pretrain_steps=200",
                "value_pretrain_batch_size=16", "critic_hidden=[8]", "evaluation_episodes=1"], dataset: true, from: iql);
            AssertResolved(config, "minibatch_size", 64, "clip_ratio");
        }
    }
}
