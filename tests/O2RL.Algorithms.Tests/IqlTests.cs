using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Envs;
using Xunit;
using static O2RL.Algorithms.Tests.DoubleNetworks;

namespace O2RL.Algorithms.Tests;

public sealed class IqlTests
{
    static IqlConfig Tiny => new() { ActorHidden = [3], CriticHidden = [3], ValueHidden = [3], BatchSize = 4, MaxSteps = 1_000 };

    /// <summary>A fixed batch (obs 2, act 2, B = 4): rows 1 and 3 are true terminals.</summary>
    static TransitionBatch FixedBatch(Backend backend, out float[] obs, out float[] act, out float[] rew, out float[] next, out float[] term)
    {
        obs = [0.3f, -0.7f, 1.1f, 0.4f, -0.5f, 0.9f, 0.2f, 0.1f];
        act = [0.2f, -0.4f, 0.9f, 0.1f, -0.6f, 0.5f, 0.0f, -1.0f];
        rew = [1.0f, -0.5f, 0.25f, 2.0f];
        next = [0.1f, 0.2f, -0.3f, 0.8f, 0.6f, -0.2f, 1.2f, -0.9f];
        term = [0f, 1f, 0f, 1f];
        var batch = new TransitionBatch(backend, 4, 2, 2);
        backend.Upload(obs, batch.Observations);
        backend.Upload(act, batch.Actions);
        backend.Upload(rew, batch.Rewards);
        backend.Upload(next, batch.NextObservations);
        backend.Upload(term, batch.Terminals);
        return batch;
    }

    [Fact]
    public void LossesAndTargetsMatchAnIndependentDoubleComputation()
    {
        using var backend = new CpuBackend(1);
        var config = Tiny;
        var agent = new IqlAgent(backend, 2, 2, config, seed: 9);
        agent.Actor.Parameters.Write("log_std", [-0.3f, 0.2f]);
        // Different online and target critics, so the V loss (target) and the Q loss (online) are told apart.
        var perturbed = agent.CriticTarget.Parameters.Values.ToArray().Select((v, i) => v + 0.05f * MathF.Sin(i)).ToArray();
        backend.Upload(perturbed, agent.CriticTarget.Parameters.Values);
        var batch = FixedBatch(backend, out var obs, out var act, out var rew, out var next, out var term);
        var pv = Read(agent.Value.Parameters);
        var pq = Read(agent.Critic.Parameters);
        var pt = Read(agent.CriticTarget.Parameters);
        var pa = Read(agent.Actor.Parameters);

        agent.Update(batch);

        double valueLoss = 0, qLoss = 0, actorLoss = 0;
        var targets = new double[4];
        for (int i = 0; i < 4; i++)
        {
            double[] s = Row(obs, i, 2), sa = [.. s, .. Row(act, i, 2)];
            double v = Forward(pv, "v.net", 2, s, Relu, Identity)[0];
            double nextV = Forward(pv, "v.net", 2, Row(next, i, 2), Relu, Identity)[0];
            double minTarget = Math.Min(Forward(pt, "network", 2, sa, Relu, Identity, 0, 2)[0], Forward(pt, "network", 2, sa, Relu, Identity, 1, 2)[0]);
            double u = minTarget - v;
            valueLoss += Math.Abs(0.7 - (u < 0 ? 1 : 0)) * u * u / 4;
            // y = r + γ(1 − m)V(s'): terminal rows do not bootstrap.
            targets[i] = rew[i] + 0.99 * (1 - term[i]) * nextV;
            for (int e = 0; e < 2; e++) qLoss += 0.5 * Math.Pow(Forward(pq, "network", 2, sa, Relu, Identity, e, 2)[0] - targets[i], 2) / 4;
            double weight = Math.Min(Math.Exp(3.0 * u), 100);
            var mean = Forward(pa, "net.net", 2, s, Relu, Math.Tanh);
            double logProb = GaussianLogProb(act[i * 2], mean[0], -0.3) + GaussianLogProb(act[i * 2 + 1], mean[1], 0.2);
            actorLoss += -weight * logProb / 4;
        }
        Assert.Equal(valueLoss, backend.ReadScalar(agent.ValueLoss), 5);
        Assert.Equal(qLoss, backend.ReadScalar(agent.QLoss), 5);
        Assert.Equal(actorLoss, backend.ReadScalar(agent.ActorLoss), 4);
        Assert.Equal(targets[1], rew[1], 6);
        Assert.Equal(targets[3], rew[3], 6);
    }

    [Fact]
    public void OneUpdateMovesEveryTrainedParameterAndTheTargetOnlyByPolyak()
    {
        using var backend = new CpuBackend(1);
        var agent = new IqlAgent(backend, 2, 2, Tiny with { ActorHidden = [8], CriticHidden = [8], ValueHidden = [8] }, seed: 2);
        var batch = FixedBatch(backend, out _, out _, out _, out _, out _);
        float[] actor = agent.Actor.Parameters.Values.ToArray(), critic = agent.Critic.Parameters.Values.ToArray();
        float[] value = agent.Value.Parameters.Values.ToArray(), target = agent.CriticTarget.Parameters.Values.ToArray();
        agent.Update(batch);
        void AllMoved(string name, ParameterSet set, float[] before)
        {
            float[] after = set.Values.ToArray();
            foreach (var e in set.Entries)
                for (int k = e.Offset; k < e.Offset + e.Length; k++) Assert.True(before[k] != after[k], $"{name} {e.Name}[{k - e.Offset}] did not move");
        }
        AllMoved("actor", agent.Actor.Parameters, actor);
        AllMoved("critic", agent.Critic.Parameters, critic);
        AllMoved("value", agent.Value.Parameters, value);
        float[] criticAfter = agent.Critic.Parameters.Values.ToArray(), targetAfter = agent.CriticTarget.Parameters.Values.ToArray();
        for (int k = 0; k < target.Length; k++)
            Assert.Equal(0.995 * target[k] + 0.005 * criticAfter[k], targetAfter[k], 6);
    }

    /// <summary>
    /// A Pendulum-v1 dataset from an energy-pumping swing-up controller with a PD catch near the top, acting with
    /// Gaussian noise (std 0.6 in the [−1, 1] action box) and, with probability 0.3 per step, a uniformly random
    /// action. Written through the D4RL writer, so it is read back exactly as a real dataset would be.
    /// </summary>
    static double WritePendulumDataset(string path, int episodes, int seed)
    {
        using var environment = PolicyEnvironment.Make("Pendulum-v1", null);
        var random = new EnvRandom(seed);
        var obs = new List<float>(); var actions = new List<float>(); var rewards = new List<float>();
        var terminals = new List<bool>(); var timeouts = new List<bool>();
        var o = new float[3];
        var nextObservation = new float[3];
        double total = 0;
        for (int e = 0; e < episodes; e++)
        {
            environment.Reset(o, seed * 1000 + e);
            while (true)
            {
                double cos = o[0], sin = o[1], velocity = o[2], angle = Math.Atan2(sin, cos);
                // θ̈ = 15 sin θ + 3u (u in N·m): energy H = ½θ̇² + 15 cos θ is 15 at rest upright.
                double torque = cos > 0.85 ? -(10 * angle + 2 * velocity) : 2.0 * Math.Sign(velocity * (15 - (0.5 * velocity * velocity + 15 * cos)) + 1e-9);
                double a = Math.Clamp(torque / 2.0, -1, 1) + 0.6 * random.Normal();
                if (random.NextDouble() < 0.3) a = random.Uniform(-1, 1);
                float action = (float)Math.Clamp(a, -1, 1);
                obs.AddRange(o); actions.Add(action);
                var result = environment.Step([action], nextObservation);
                rewards.Add((float)result.Reward); terminals.Add(result.Terminated); timeouts.Add(result.Truncated);
                total += result.Reward;
                Array.Copy(nextObservation, o, 3);
                if (result.Done) break;
            }
        }
        var dataset = new TransitionDataset(3, 1, [.. obs], [.. actions], [.. rewards], [.. terminals], [.. timeouts],
            metadata: new DatasetMetadata { EnvironmentId = "Pendulum-v1", Level = "swingup-noisy" });
        D4rlHdf5.Write(dataset, path);
        return total / episodes;
    }

    [Fact]
    public void TwoRunsWithOneSeedAreBitIdenticalAndTheCheckpointHoldsWhatFineTuningLoads()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-iql-det-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(root);
            string data = Path.Combine(root, "pendulum.hdf5");
            WritePendulumDataset(data, episodes: 3, seed: 5);
            byte[] RunOnce(string directory)
            {
                using var backend = new CpuBackend(1);
                IqlRun.Run(new RunContext
                {
                    Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 3, DatasetPath = data, OutputDirectory = directory,
                    Overrides = ["max_steps=40", "batch_size=32", "actor_hidden=[16,16]", "critic_hidden=[16,16]", "value_hidden=[16,16]", "evaluate_every=20", "evaluation_episodes=1"],
                });
                return File.ReadAllBytes(Path.Combine(directory, "iql.safetensors"));
            }
            byte[] first = RunOnce(Path.Combine(root, "a")), second = RunOnce(Path.Combine(root, "b"));
            Assert.Equal(first, second);

            var checkpoint = O2RL.Engine.Checkpoints.SafetensorsFile.Read(Path.Combine(root, "a", "iql.safetensors"));
            foreach (string name in new[] { "actor.log_std", "actor.net.net.0.weight", "critic.network.0.weight", "critic_target.network.4.bias", "value.v.net.4.weight", "obs_mean", "obs_std" })
                Assert.True(checkpoint.Tensors.ContainsKey(name), $"checkpoint lacks {name}; has {string.Join(", ", checkpoint.Tensors.Keys)}");
            Assert.Equal("iql", checkpoint.Metadata["algorithm"]);
            using var b2 = new CpuBackend(1);
            var (ppoActor, _) = O2RL.Algorithms.Online.PpoRun.LoadActor(b2, Path.Combine(root, "a", "iql.safetensors"));
            Assert.Equal(-10f, ppoActor.MinLogStd);
            Assert.Equal(checkpoint.Tensors["actor.log_std"].Data, ppoActor.Parameters.Read("log_std"));

            // PPO starting from the IQL checkpoint: the actor loads (with PPO's clamp) and the normalisation constants
            // are the checkpoint's, fixed. With actor lr 0 the saved PPO actor is the IQL actor, bit for bit.
            string ppoDirectory = Path.Combine(root, "ppo");
            O2RL.Algorithms.Online.PpoRun.Run(new RunContext
            {
                Backend = b2, EnvironmentId = "Pendulum-v1", Seed = 3, OutputDirectory = ppoDirectory,
                InitialCheckpoint = Path.Combine(root, "a", "iql.safetensors"),
                Overrides = ["total_steps=256", "rollout_length=256", "minibatch_size=64", "epochs=1", "actor_lr=0", "critic_hidden=[16,16]", "evaluate_every=0", "evaluation_episodes=1"],
            });
            var fineTuned = O2RL.Engine.Checkpoints.SafetensorsFile.Read(Path.Combine(ppoDirectory, "ppo.safetensors"));
            foreach (var (name, tensor) in checkpoint.Tensors.Where(t => t.Key.StartsWith("actor.", StringComparison.Ordinal) || t.Key.StartsWith("obs_", StringComparison.Ordinal)))
                Assert.Equal(tensor.Data, fineTuned.Tensors[name].Data);
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, recursive: true); }
    }

    /// <summary>
    /// IQL on our shipped Pendulum-v1 medium dataset (50,000 rows of a SAC policy stopped at a third of the way to expert,
    /// its sampled actions) with the shipped settings (configs/iql/pendulum-v1/default.yaml: 2 × 64 networks, 10,000
    /// steps) must evaluate (deterministic mean action, 10 episodes) at least as well as the dataset's own mean episode
    /// return: it has to recover the policy under the sampling noise rather than copy it.
    /// </summary>
    [Fact]
    [Trait("Category", "Learning")]
    public void ReachesTheDatasetReturnOnPendulum()
    {
        string data = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset is missing");
        double datasetReturn = DatasetCollection.MeanEpisodeReturn(D4rlHdf5.Read(data));
        using var backend = new CpuBackend();
        var metrics = new MemoryMetrics();
        var result = IqlRun.Run(new RunContext { Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 1, DatasetPath = data, Metrics = metrics });
        string curve = string.Join(", ", metrics.Series("eval/return").Select(p => $"{p.Step}:{p.Value:F0}"));
        TestContext.Current.TestOutputHelper?.WriteLine($"IQL Pendulum-v1 medium: dataset mean return {datasetReturn:F0}; evaluation curve {curve}");
        Assert.True(result.FinalEvaluation!.MeanReturn >= datasetReturn,
            $"IQL evaluated at {result.FinalEvaluation.MeanReturn:F0}, the dataset's mean episode return is {datasetReturn:F0}; curve {curve}");
    }
}
