using System.Diagnostics;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Envs;
using Xunit;

namespace O2RL.Algorithms.Tests;

public sealed class Td3BcTests
{
    const int ObsDim = 3, ActionDim = 2, Batch = 5;
    const ulong Seed = 5;
    static readonly float[] Obs = [0.1f, -0.4f, 0.9f, 1.2f, 0.3f, -0.7f, -0.5f, 0.8f, 0.2f, 0.0f, 0.6f, -1.1f, 0.4f, 0.4f, 0.4f];
    static readonly float[] Actions = [0.5f, -0.3f, -0.9f, 0.1f, 0.2f, 0.7f, -0.4f, -0.6f, 0.95f, 0.0f];
    static readonly float[] Rewards = [1.0f, -0.5f, 0.25f, 2.0f, -1.5f];
    static readonly float[] NextObs = [0.2f, -0.3f, 1.0f, 1.0f, 0.5f, -0.6f, -0.4f, 0.9f, 0.1f, 0.5f, 0.3f, 0.2f, -1.0f, 0.0f, 0.6f];
    static readonly float[] Terminals = [0f, 0f, 1f, 0f, 0f];

    static Td3BcConfig TinyConfig => new() { BatchSize = Batch, ActorHidden = [6], CriticHidden = [5, 4], ActorLr = 1e-2f, CriticLr = 1e-2f };

    static TransitionBatch MakeBatch(Backend backend)
    {
        var batch = new TransitionBatch(backend, Batch, ObsDim, ActionDim);
        backend.Upload(Obs, batch.Observations);
        backend.Upload(Actions, batch.Actions);
        backend.Upload(Rewards, batch.Rewards);
        backend.Upload(NextObs, batch.NextObservations);
        backend.Upload(Terminals, batch.Terminals);
        return batch;
    }

    static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-4 * Math.Max(1.0, Math.Abs(expected)), $"{what}: expected {expected:R}, got {actual:R}");

    [Fact]
    public void CriticAndBcActorLossesMatchDoublePrecisionComputation()
    {
        using var backend = new CpuBackend(1);
        var config = TinyConfig;
        var agent = new Td3BcAgent(backend, ObsDim, ActionDim, config, Seed);
        var batch = MakeBatch(backend);
        var epsilon = backend.Allocate(Batch, ActionDim);
        backend.RandomNormal(epsilon, Seeds.Derive(Seed, 3), 0);
        var y = Td3Reference.Target(new Td3Reference(agent.Networks.ActorTarget.Parameters), new Td3Reference(agent.Networks.CriticTarget.Parameters),
            NextObs, Rewards, Terminals, epsilon.ToArray(), ObsDim, ActionDim, config.Gamma, config.PolicyNoise, config.NoiseClip);
        double expectedCritic = Td3Reference.CriticLoss(new Td3Reference(agent.Networks.Critic.Parameters), Obs, Actions, y, ObsDim, ActionDim);
        agent.Update(batch);
        AssertClose(expectedCritic, backend.ReadScalar(agent.Operators.CriticLoss), "L_Q");

        // L_π = −(α / mean|Q_1|)·mean Q_1(s, μ(s)) + mean (μ(s) − a)², with α = 2.5.
        var actor = new Td3Reference(agent.Networks.Actor.Parameters);
        var critic = new Td3Reference(agent.Networks.Critic.Parameters);
        agent.Operators.ActorStep(batch.Observations, qNormalization: config.Alpha, anchorActions: batch.Actions);
        double expectedActor = Td3Reference.ActorLoss(actor, critic, Obs, Actions, ObsDim, ActionDim, alpha: 2.5, weight: 1);
        AssertClose(expectedActor, backend.ReadScalar(agent.Operators.ActorLoss), "L_π");
        double meanAbsQ = Enumerable.Range(0, Batch).Average(i =>
            Math.Abs(critic.Forward(Td3Reference.Concat(Td3Reference.Row(Obs, i, ObsDim), actor.Forward(Td3Reference.Row(Obs, i, ObsDim), tanhOutput: true)), 0)[0]));
        AssertClose(2.5 / meanAbsQ, backend.ReadScalar(agent.Operators.Kappa), "λ = α/mean|Q|");
    }

    [Fact]
    public void CriticMovesEveryUpdateWhileActorAndTargetsMoveOnlyOnDelayedUpdates()
    {
        using var backend = new CpuBackend(1);
        var agent = new Td3BcAgent(backend, ObsDim, ActionDim, TinyConfig, Seed);
        var batch = MakeBatch(backend);
        var n = agent.Networks;
        float[][] Snapshot() => [n.Actor.Parameters.Values.ToArray(), n.ActorTarget.Parameters.Values.ToArray(), n.Critic.Parameters.Values.ToArray(), n.CriticTarget.Parameters.Values.ToArray()];
        var before = Snapshot();
        agent.Update(batch);
        var afterFirst = Snapshot();
        Assert.Equal(before[0], afterFirst[0]);
        Assert.Equal(before[1], afterFirst[1]);
        Assert.Equal(before[3], afterFirst[3]);
        Td3Tests.AssertEveryEntryMoved(n.Critic.Parameters, before[2], afterFirst[2], "critic");
        agent.Update(batch);
        var afterSecond = Snapshot();
        Td3Tests.AssertEveryEntryMoved(n.Actor.Parameters, afterFirst[0], afterSecond[0], "actor");
        Td3Tests.AssertEveryEntryMoved(n.ActorTarget.Parameters, afterFirst[1], afterSecond[1], "actor target");
        Td3Tests.AssertEveryEntryMoved(n.Critic.Parameters, afterFirst[2], afterSecond[2], "critic");
        Td3Tests.AssertEveryEntryMoved(n.CriticTarget.Parameters, afterFirst[3], afterSecond[3], "critic target");
    }

    [Fact]
    public void DatasetDropsTimeoutTransitionsKeepsTerminalsAndNormalisesWithQLearningStatistics()
    {
        // Two episodes: rows 0–2 end in a time-limit truncation (row 2), rows 3–5 end in a true terminal (row 5), then row 6.
        float[] obs = [.. Enumerable.Range(0, 7 * 3).Select(i => (float)Math.Sin(i * 0.7) * 2f)];
        float[] actions = [.. Enumerable.Range(0, 7).Select(i => i / 7f - 0.5f)];
        float[] rewards = [1, 2, 3, 4, 5, 6, 7];
        bool[] terminals = [false, false, false, false, false, true, false];
        bool[] timeouts = [false, false, true, false, false, false, false];
        var dataset = new TransitionDataset(3, 1, obs, actions, rewards, terminals, timeouts);
        var (transitions, normalizer) = Td3BcRun.PrepareDataset(dataset, new Td3BcConfig());
        // Kept rows: 0, 1, 3, 4, 5 (row 2 is a timeout whose s′ is another episode's start; row 6 is the last raw sample).
        Assert.Equal([0, 1, 3, 4, 5], transitions.SourceRows!);
        Assert.Equal([0f, 0f, 0f, 0f, 1f], transitions.Terminals);
        Assert.Equal([1f, 2f, 4f, 5f, 6f], transitions.Rewards);
        for (int j = 0; j < 3; j++)
        {
            double[] column = [.. new[] { 0, 1, 3, 4, 5 }.Select(r => (double)obs[r * 3 + j])];
            double mean = column.Average(), std = Math.Sqrt(column.Average(v => (v - mean) * (v - mean))) + 1e-3;
            Assert.Equal(mean, normalizer!.Mean[j], 5);
            Assert.Equal(std, normalizer.Std[j], 5);
            // s and s′ are both normalised with these constants.
            Assert.Equal((obs[3 * 3 + j] - mean) / std, transitions.Observations[2 * 3 + j], 4);
            Assert.Equal((obs[4 * 3 + j] - mean) / std, transitions.NextObservations[2 * 3 + j], 4);
        }

        // Through the TD3+BC target: the terminal transition does not bootstrap, the others do.
        using var backend = new CpuBackend(1);
        var agent = new Td3BcAgent(backend, 3, 1, new Td3BcConfig { BatchSize = 5, ActorHidden = [4], CriticHidden = [4] }, Seed);
        var batch = new TransitionBatch(backend, 5, 3, 1);
        backend.Upload(transitions.Rewards, batch.Rewards);
        backend.Upload(transitions.NextObservations, batch.NextObservations);
        backend.Upload(transitions.Terminals, batch.Terminals);
        agent.Operators.CriticStep(batch, 0.99f, 0.2f, 0.5f);
        var y = agent.Operators.Target.ToArray();
        Assert.Equal(6f, y[4]);
        var bootstrapped = Enumerable.Range(0, 4).Where(i => y[i] != transitions.Rewards[i]).ToList();
        Assert.NotEmpty(bootstrapped);
    }

    /// <summary>
    /// A medium-quality Pendulum-v1 dataset in the agent's [−1, 1] action space: an energy-pumping swing-up with
    /// a PD catch near the top, corrupted by Gaussian action noise and a share of uniformly random actions.
    /// Episodes end by the 200-step time limit (timeouts set, no terminals).
    /// </summary>
    internal static TransitionDataset PendulumDataset(int episodes, int seed, double noiseStd, double randomShare)
    {
        using var environment = PolicyEnvironment.Make("Pendulum-v1", null);
        var random = new EnvRandom(seed);
        var obs = new List<float>(); var actions = new List<float>(); var rewards = new List<float>();
        var terminals = new List<bool>(); var timeouts = new List<bool>();
        var observation = new float[3];
        var next = new float[3];
        var action = new float[1];
        for (int e = 0; e < episodes; e++)
        {
            environment.Reset(observation, EnvRandom.DeriveSeed(seed, e));
            while (true)
            {
                double cos = observation[0], sin = observation[1], speed = observation[2], theta = Math.Atan2(sin, cos);
                // θ̈ = 15 sin θ + 3u (θ = 0 upright): energy E = ½θ̇² + 15 cos θ reaches 15 at the top.
                double energy = 0.5 * speed * speed + 15 * cos;
                double torque = cos > 0.85 ? -(10 * theta + 2 * speed) : energy < 15 ? 2 * Math.Sign(speed == 0 ? 1 : speed) : 0;
                double a = random.NextDouble() < randomShare ? random.Uniform(-1, 1) : torque / 2 + noiseStd * random.Normal();
                action[0] = (float)Math.Clamp(a, -1, 1);
                var result = environment.Step(action, next);
                obs.AddRange(observation); actions.Add(action[0]); rewards.Add((float)result.Reward);
                terminals.Add(result.Terminated); timeouts.Add(result.Truncated);
                if (result.Done) break;
                (observation, next) = (next, observation);
            }
        }
        return new TransitionDataset(3, 1, [.. obs], [.. actions], [.. rewards], [.. terminals], [.. timeouts],
            metadata: new DatasetMetadata { EnvironmentId = "Pendulum-v1", Level = "medium" });
    }

    static string WriteDataset(string folder, TransitionDataset dataset)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "pendulum-medium.hdf5");
        D4rlHdf5.Write(dataset, path);
        return path;
    }

    [Fact]
    public void TwoRunsWithOneSeedAreBitIdenticalAndTheCheckpointLoadsIntoTd3()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-td3bc-determinism-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = WriteDataset(root, PendulumDataset(episodes: 3, seed: 1, noiseStd: 0.3, randomShare: 0.2));
            string[] overrides = ["max_steps=120", "batch_size=32", "actor_hidden=[16,16]", "critic_hidden=[16,16]", "evaluate_every=0", "evaluation_episodes=1", "log_every=50"];
            RunResult RunOnce(string folder, Backend backend) => Td3BcRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = path, OutputDirectory = Path.Combine(root, folder), Overrides = overrides,
            });
            using var backend = new CpuBackend(1);
            var first = RunOnce("a", backend);
            var second = RunOnce("b", backend);
            var a = SafetensorsFile.Read(first.CheckpointPath!);
            var b = SafetensorsFile.Read(second.CheckpointPath!);
            Assert.Equal(a.Tensors.Keys.Order(), b.Tensors.Keys.Order());
            foreach (var name in a.Tensors.Keys) Assert.Equal(a.Tensors[name].Data, b.Tensors[name].Data);
            Assert.Equal(first.FinalEvaluation!.MeanReturn, second.FinalEvaluation!.MeanReturn);

            // What fine-tuning loads: every network, the normaliser, the metadata.
            foreach (string prefix in new[] { "actor.net.0.weight", "actor_target.net.0.weight", "critic.network.0.weight", "critic_target.network.0.weight", "obs_mean", "obs_std" })
                Assert.Contains(prefix, a.Tensors.Keys);
            Assert.Equal("td3_bc", a.Metadata["algorithm"]);
            Assert.Equal(3, a.Metadata["obs_mean"].Split(',').Length);
            var (actor, normalizer) = Td3BcRun.LoadActor(backend, first.CheckpointPath!);
            Assert.Equal(a.Tensors["obs_std"].Data, normalizer!.Std);
            Assert.Equal(a.Tensors["actor.net.4.weight"].Data, actor.Parameters.Read("net.4.weight"));

            // The loaded actor evaluated with the stored normalisation scores what the run reported.
            using var evaluator = new Evaluator(PolicyEnvironment.Make("Pendulum-v1", normalizer), "Pendulum-v1", EnvRandom.DeriveSeed(4, 1_000_003));
            var policy = new DeterministicActorPolicy(actor, 0f, true, new DeviceRandom(0));
            Assert.Equal(first.FinalEvaluation.MeanReturn, evaluator.Evaluate(policy, 1).MeanReturn, 6);

            // Naive fine-tuning starts from it (normalised observations, loaded critics), mixing the offline data half/half.
            var metrics = new MemoryMetrics();
            Td3Run.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, InitialCheckpoint = first.CheckpointPath, Metrics = metrics, DatasetPath = path,
                Overrides = ["total_steps=80", "fine_tune_warmup_steps=40", "batch_size=32", "actor_hidden=[16,16]", "critic_hidden=[16,16]", "evaluate_every=0",
                    "evaluation_episodes=1", "buffer_mode=half", "log_every=80"],
            });
            Assert.Contains(metrics.Rows, r => r.Name == "losses/actor_loss" && double.IsFinite(r.Value));
            Assert.Equal(first.FinalEvaluation.MeanReturn, metrics.Series("eval/return")[0].Value, 6);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    [Trait("Category", "Learning")]
    public void ReachesTheDatasetsMeanReturnOnPendulum()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-td3bc-learning-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Our shipped Pendulum-v1 medium dataset (50,000 rows of a SAC policy stopped a third of the way to expert, sampled actions).
            string path = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset is missing");
            var episodes = D4rlHdf5.Read(path).Episodes();
            double datasetMean = episodes.Average(e => e.Return);
            // 2 × 64 networks and 5,000 steps (not 2 × 256 and 1M; configs/td3_bc/pendulum-v1/default.yaml) keep this to seconds on two shared
            // cores; α, noise, delay, τ, learning rates and the normalisation are TD3+BC's defaults.
            using var backend = new CpuBackend(2);
            var metrics = new MemoryMetrics();
            var clock = Stopwatch.StartNew();
            var result = Td3BcRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 0, DatasetPath = path, Metrics = metrics,
                OutputDirectory = Path.Combine(root, "run"),
            });
            double finalReturn = result.FinalEvaluation!.MeanReturn;
            TestContext.Current.SendDiagnosticMessage(
                $"TD3+BC Pendulum-v1: dataset mean {datasetMean:F0} over {episodes.Count} episodes; returns {string.Join(", ", metrics.Series("eval/return").Select(p => $"{p.Step}: {p.Value:F0}"))} in {clock.Elapsed.TotalSeconds:F0} s");
            Assert.True(finalReturn >= datasetMean, $"TD3+BC reached {finalReturn:F1} but the dataset's mean episode return is {datasetMean:F1}");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
