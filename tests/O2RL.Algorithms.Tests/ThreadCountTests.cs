using System.Security.Cryptography;
using O2RL.Algorithms.FineTuning.O2Ppo;
using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.FineTuning.O2Td3;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Tests.Runs;
using O2RL.Algorithms.Training;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// The README's determinism claim at the level a user sees it: every training run (CQL, IQL, TD3+BC offline; SAC,
/// TD3, PPO online; O2SAC, O2TD3, O2PPO fine-tuning) gives the same checkpoint bytes and the same metrics on one CPU
/// thread as on three, so a result reproduces on a machine with another core count. The networks are 256 wide with
/// batches of 256, so the GEMMs, the element-wise passes and Adam are split over the worker pool as in a real run
/// (three threads split unevenly); the step counts are a few dozen updates each.
/// </summary>
public sealed class ThreadCountTests
{
    const string Environment = "Pendulum-v1";
    static readonly string[] Wide = ["actor_hidden=[256,256]", "critic_hidden=[256,256]"];

    static string Dataset() => ShippedDatasets.Find(Environment, "medium")
        ?? throw new FileNotFoundException($"no shipped {Environment} medium dataset under {ShippedDatasets.Root}");

    sealed record Outcome(string CheckpointHash, List<(long Step, string Name, double Value)> Metrics);

    static Outcome Train(Func<RunContext, RunResult> run, int threads, string folder, string[] overrides, string? from = null)
    {
        using var backend = new CpuBackend(threads);
        var metrics = new MemoryMetrics();
        var result = run(new RunContext
        {
            Backend = backend, EnvironmentId = Environment, DatasetName = "medium", DatasetPath = Dataset(), Seed = 3,
            InitialCheckpoint = from, OutputDirectory = folder, Overrides = overrides, Metrics = metrics,
        });
        string hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(result.CheckpointPath!)));
        // Wall-clock rates differ between any two runs.
        return new Outcome(hash, [.. metrics.Rows.Where(r => r.Name != "charts/sps" && !r.Name.StartsWith("time/", StringComparison.Ordinal))]);
    }

    static void AssertSame(string what, Outcome one, Outcome three)
    {
        Assert.True(one.Metrics.Count > 0, $"{what}: no metrics logged");
        Assert.True(one.CheckpointHash == three.CheckpointHash, $"{what}: the checkpoint differs between 1 and 3 threads");
        Assert.Equal(one.Metrics.Count, three.Metrics.Count);
        for (int i = 0; i < one.Metrics.Count; i++)
            Assert.True(one.Metrics[i].Equals(three.Metrics[i]) || (double.IsNaN(one.Metrics[i].Value) && double.IsNaN(three.Metrics[i].Value)),
                $"{what}: metric row {i} is {one.Metrics[i]} on 1 thread and {three.Metrics[i]} on 3");
    }

    [Fact]
    public void OfflineThenFineTuningRunsAreTheSameOnOneAndThreeThreads()
    {
        using var root = new TemporaryFolder();
        var checkpoints = new Dictionary<string, string>();
        foreach (var (name, run, overrides) in new (string, Func<RunContext, RunResult>, string[])[]
        {
            ("cql", CqlRun.Run, [.. Wide, "steps=8", "eval_every=8", "eval_episodes=1"]),
            ("iql", IqlRun.Run, [.. Wide, "value_hidden=[256,256]", "max_steps=8", "evaluate_every=8", "evaluation_episodes=1"]),
            ("td3bc", Td3BcRun.Run, [.. Wide, "max_steps=8", "evaluate_every=8", "evaluation_episodes=1"]),
        })
        {
            var one = Train(run, 1, root.Combine(name + "-1"), overrides);
            AssertSame(name, one, Train(run, 3, root.Combine(name + "-3"), overrides));
            checkpoints[name] = Path.Combine(root.Combine(name + "-1"), name == "td3bc" ? "td3_bc.safetensors" : name + ".safetensors");
        }

        // Stage C of each variant takes a few updates after a short warm-up; O2SAC runs 10 updates per step.
        foreach (var (name, run, from, overrides) in new (string, Func<RunContext, RunResult>, string, string[])[]
        {
            ("o2sac", O2SacRun.Run, "cql", ["critic_hidden=[256,256,256]", "reevaluation_steps=6", "alignment_steps=6", "online_steps=206",
                "warmup_steps=200", "threshold_steps=206", "eval_every=206", "eval_episodes=1"]),
            ("o2td3", O2Td3Run.Run, "td3bc", ["critic_hidden=[256,256]", "reevaluation_steps=6", "alignment_steps=6", "online_steps=240",
                "warmup_steps=200", "threshold_steps=240", "evaluate_every=240", "evaluation_episodes=1"]),
            ("o2ppo", O2PpoRun.Run, "iql", ["critic_hidden=[256,256]", "value_pretrain_steps=6", "total_steps=512", "rollout_length=256",
                "minibatch_size=128", "epochs=2", "aux_decay_steps=512", "evaluate_every=512", "evaluation_episodes=1"]),
        })
        {
            var one = Train(run, 1, root.Combine(name + "-1"), overrides, checkpoints[from]);
            AssertSame(name, one, Train(run, 3, root.Combine(name + "-3"), overrides, checkpoints[from]));
        }
    }

    [Fact]
    public void OnlineRunsAreTheSameOnOneAndThreeThreads()
    {
        using var root = new TemporaryFolder();
        foreach (var (name, run, overrides) in new (string, Func<RunContext, RunResult>, string[])[]
        {
            ("sac", SacRun.Run, [.. Wide, "total_steps=260", "warmup_steps=200", "eval_every=260", "eval_episodes=1"]),
            ("td3", Td3Run.Run, [.. Wide, "total_steps=260", "warmup_steps=200", "evaluate_every=260", "evaluation_episodes=1"]),
            ("ppo", PpoRun.Run, [.. Wide, "total_steps=512", "rollout_length=256", "minibatch_size=128", "epochs=2", "evaluate_every=512",
                "evaluation_episodes=1"]),
        })
        {
            var one = Train(run, 1, root.Combine(name + "-1"), overrides);
            AssertSame(name, one, Train(run, 3, root.Combine(name + "-3"), overrides));
        }
    }
}
