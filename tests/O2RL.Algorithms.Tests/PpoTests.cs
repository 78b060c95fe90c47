using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Envs;
using Xunit;
using static O2RL.Algorithms.Tests.DoubleNetworks;

namespace O2RL.Algorithms.Tests;

public sealed class PpoTests
{
    static PpoConfig Tiny => new()
    {
        ActorHidden = [3], CriticHidden = [3], RolloutLength = 32, MinibatchSize = 8, Epochs = 2,
        ActorLr = 1e-3f, CriticLr = 1e-3f, TotalSteps = 1_000,
    };

    [Fact]
    public void GaeBootstrapsThroughTruncationsButNotTerminalsAndCutsAtEveryEnd()
    {
        // Step 1 is a true terminal (dw = done = 1); step 3 a time-limit truncation (dw = 0, done = 1).
        float[] r = [1, 2, 3, 4, 5], v = [0.5f, 0.4f, 0.3f, 0.2f, 0.1f], next = [0.6f, 0.7f, 0.8f, 0.9f, 1.0f];
        float[] dw = [0, 1, 0, 0, 0], done = [0, 1, 0, 1, 0];
        var advantages = new float[5];
        var targets = new float[5];
        Gae.Compute(r, v, next, dw, done, gamma: 0.9, lambda: 0.8, advantages, targets);

        // By hand, backwards with γ = 0.9, γλ = 0.72:
        double a4 = 5 + 0.9 * 1.0 - 0.1;                 // 5.8, last step: A_5 = 0
        double a3 = 4 + 0.9 * 0.9 - 0.2;                 // 4.61: truncation bootstraps V(s'), recursion cut
        double a2 = 3 + 0.9 * 0.8 - 0.3 + 0.72 * a3;     // 6.7392
        double a1 = 2 - 0.4;                             // 1.6: terminal, no V(s'), recursion cut
        double a0 = 1 + 0.9 * 0.6 - 0.5 + 0.72 * a1;     // 2.192
        double[] expected = [a0, a1, a2, a3, a4];
        for (int t = 0; t < 5; t++)
        {
            Assert.Equal(expected[t], advantages[t], 5);
            Assert.Equal(expected[t] + v[t], targets[t], 5);
        }
    }

    /// <summary>A fixed minibatch for the tiny actor (obs 2, act 2, M = 4).</summary>
    static (float[] Obs, float[] Act, float[] Adv) FixedBatch() => (
        [0.3f, -0.7f, 1.1f, 0.4f, -0.5f, 0.9f, 0.2f, 0.1f],
        [0.2f, -0.4f, 0.9f, 0.1f, -0.6f, 0.5f, 0.0f, -1.0f],
        [1.0f, 2.0f, -1.0f, -0.5f]);

    static double ActorLoss(Dictionary<string, double[]> p, float[] obs, float[] act, double[] oldSum, float[] adv, double clip, double entropyCoefficient)
    {
        double[] logStd = p["log_std"];
        double total = 0;
        for (int i = 0; i < 4; i++)
        {
            var mean = Forward(p, "net.net", 2, Row(obs, i, 2), Relu, Math.Tanh);
            double logProb = 0;
            for (int j = 0; j < 2; j++) logProb += GaussianLogProb(act[i * 2 + j], mean[j], logStd[j]);
            double ratio = Math.Exp(logProb - oldSum[i]);
            double clipped = Math.Clamp(ratio, 1 - clip, 1 + clip);
            total += -Math.Min(ratio * adv[i], clipped * adv[i]);
        }
        double entropy = logStd.Sum(l => 0.5 + 0.5 * Math.Log(2 * Math.PI) + l);
        return total / 4 - entropyCoefficient * entropy;
    }

    [Fact]
    public void ActorLossAndGradientMatchAnIndependentDoubleComputation()
    {
        using var backend = new CpuBackend(1);
        // lr 0 and no effective clipping, so the gradient buffer after the step is the raw ∂L/∂θ.
        var agent = new PpoAgent(backend, 2, 2, Tiny with { ActorLr = 0f, MaxGradNorm = 1e6f }, seed: 3);
        agent.Actor.Parameters.Write("log_std", [-0.3f, 0.2f]);
        var (obs, act, adv) = FixedBatch();
        var p = Read(agent.Actor.Parameters);
        // Old log-probs chosen so the ratios are e^0, e^0.4, e^−0.4, e^0.1: both clip sides are hit.
        double[] offsets = [0.0, 0.4, -0.4, 0.1];
        var oldSum = new double[4];
        var oldPerCoordinate = new float[8];
        for (int i = 0; i < 4; i++)
        {
            var mean = Forward(p, "net.net", 2, Row(obs, i, 2), Relu, Math.Tanh);
            for (int j = 0; j < 2; j++)
            {
                double lp = GaussianLogProb(act[i * 2 + j], mean[j], p["log_std"][j]) - offsets[i] / 2;
                oldPerCoordinate[i * 2 + j] = (float)lp;
                oldSum[i] += (float)lp;
            }
        }
        agent.ActorStep(backend.FromArray(obs, 4, 2), backend.FromArray(act, 4, 2), backend.FromArray(oldPerCoordinate, 4, 2), backend.FromArray(adv, 4, 1));

        double expected = ActorLoss(p, obs, act, oldSum, adv, 0.2, 0.01);
        Assert.Equal(expected, backend.ReadScalar(agent.LastActorLoss!), 4);

        // Finite differences in double precision over every actor parameter.
        float[] values = agent.Actor.Parameters.Values.ToArray();
        float[] gradients = agent.Actor.Parameters.Gradients.ToArray();
        for (int k = 0; k < values.Length; k++)
        {
            double Loss(double delta)
            {
                var shifted = (float[])values.Clone();
                var map = Read(agent.Actor.Parameters, shifted);
                foreach (var e in agent.Actor.Parameters.Entries)
                    if (k >= e.Offset && k < e.Offset + e.Length) map[e.Name][k - e.Offset] += delta;
                return ActorLoss(map, obs, act, oldSum, adv, 0.2, 0.01);
            }
            double numeric = (Loss(1e-6) - Loss(-1e-6)) / 2e-6;
            Assert.True(Math.Abs(numeric - gradients[k]) < 1e-3 + 1e-3 * Math.Abs(numeric), $"∂L/∂θ[{k}]: numeric {numeric}, analytic {gradients[k]}");
        }
    }

    [Fact]
    public void ValueLossMatchesAnIndependentDoubleComputation()
    {
        using var backend = new CpuBackend(1);
        var agent = new PpoAgent(backend, 2, 2, Tiny, seed: 5);
        var (obs, _, _) = FixedBatch();
        float[] targets = [0.5f, -1.5f, 2.0f, 0.25f];
        var p = Read(agent.Critic.Parameters);
        agent.CriticStep(backend.FromArray(obs, 4, 2), backend.FromArray(targets, 4, 1));
        double expected = Enumerable.Range(0, 4).Average(i => Math.Pow(Forward(p, "net", 2, Row(obs, i, 2), Math.Tanh, Identity)[0] - targets[i], 2));
        Assert.Equal(expected, backend.ReadScalar(agent.LastValueLoss!), 5);
    }

    static RolloutBuffer RandomRollout(Backend backend, PpoAgent agent, int obsDim, int actionDim, PpoConfig config)
    {
        var rollout = new RolloutBuffer(backend, config.RolloutLength, obsDim, actionDim, config.MinibatchSize);
        var random = new HostRandom(11);
        var s = new float[obsDim];
        var next = new float[obsDim];
        var a = new float[actionDim];
        var lp = new float[actionDim];
        for (int t = 0; t < config.RolloutLength; t++)
        {
            for (int j = 0; j < obsDim; j++) { s[j] = random.Normal(); next[j] = random.Normal(); }
            agent.Act(s, a, lp);
            rollout.Add(s, a, lp, random.Normal(), next, dw: t % 13 == 12, done: t % 13 == 12 || t % 7 == 6);
        }
        return rollout;
    }

    [Fact]
    public void OneUpdateMovesEveryActorAndCriticParameter()
    {
        using var backend = new CpuBackend(1);
        var config = Tiny with { ActorHidden = [8], CriticHidden = [8] };
        var agent = new PpoAgent(backend, 3, 2, config, seed: 7);
        using var rollout = RandomRollout(backend, agent, 3, 2, config);
        float[] actorBefore = agent.Actor.Parameters.Values.ToArray(), criticBefore = agent.Critic.Parameters.Values.ToArray();
        agent.Update(rollout, config.RolloutLength);
        float[] actorAfter = agent.Actor.Parameters.Values.ToArray(), criticAfter = agent.Critic.Parameters.Values.ToArray();
        foreach (var e in agent.Actor.Parameters.Entries)
            for (int k = e.Offset; k < e.Offset + e.Length; k++) Assert.True(actorBefore[k] != actorAfter[k], $"actor {e.Name}[{k - e.Offset}] did not move");
        foreach (var e in agent.Critic.Parameters.Entries)
            for (int k = e.Offset; k < e.Offset + e.Length; k++) Assert.True(criticBefore[k] != criticAfter[k], $"critic {e.Name}[{k - e.Offset}] did not move");
        // Linear decay after the update: lr = lr_0 · (1 − t / T_total).
        Assert.Equal(config.ActorLr * (1 - 32.0 / 1000), agent.ActorOptimizer.LearningRate, 6);
    }

    [Fact]
    public void TwoRunsWithOneSeedAreBitIdentical()
    {
        byte[] RunOnce(string directory)
        {
            using var backend = new CpuBackend(1);
            PpoRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, OutputDirectory = directory,
                Overrides = ["total_steps=512", "rollout_length=256", "minibatch_size=64", "epochs=2", "actor_hidden=[16,16]", "critic_hidden=[16,16]", "evaluate_every=0", "evaluation_episodes=1"],
            });
            return File.ReadAllBytes(Path.Combine(directory, "ppo.safetensors"));
        }
        string root = Path.Combine(Path.GetTempPath(), "o2rl-ppo-det-" + Guid.NewGuid().ToString("N"));
        try
        {
            byte[] first = RunOnce(Path.Combine(root, "a")), second = RunOnce(Path.Combine(root, "b"));
            Assert.Equal(first, second);
            using var backend = new CpuBackend(1);
            var (actor, normalizer) = PpoRun.LoadActor(backend, Path.Combine(root, "a", "ppo.safetensors"));
            Assert.Equal(3, actor.ObsDim);
            Assert.Equal(3, normalizer.Dimension);
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, recursive: true); }
    }

    /// <summary>Observation [step count]; terminates (a true terminal) on its third step.</summary>
    sealed class TerminatesOnThirdStep : IEnvironment
    {
        int step;
        public string Id => "terminates-on-third-step";
        public BoxSpace ObservationSpace { get; } = BoxSpace.Uniform(1, -10f, 10f);
        public BoxSpace ActionSpace { get; } = BoxSpace.Uniform(1, -1f, 1f);
        public void Reset(Span<float> observation, int? seed = null) { step = 0; observation[0] = 0; }
        public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
        {
            observation[0] = ++step;
            return new StepResult(1.0, Terminated: step == 3, Truncated: false);
        }
        public void Dispose() { }
    }

    static (float[] Dw, float[] Done) CollectFlags(IEnvironment environment, int steps)
    {
        using var backend = new CpuBackend(1);
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        var config = Tiny with { RolloutLength = steps, MinibatchSize = steps / 4, Epochs = 1 };
        var agent = new PpoAgent(backend, obsDim, actionDim, config, seed: 1);
        var filter = new FixedObservationFilter(StateNormalizer.Identity(obsDim));
        using var rollout = new RolloutBuffer(backend, steps, obsDim, actionDim, config.MinibatchSize);
        using var evaluator = new Evaluator(new TerminatesOnThirdStep(), null, 0);
        new OnPolicyTrainer(environment, evaluator, agent, rollout, filter,
            new OnPolicyLoopOptions { TotalSteps = steps, EvaluateEvery = 0, EvaluateAtStart = false }, new MemoryMetrics()).Run();
        return (rollout.Dw.ToArray(), rollout.Done.ToArray());
    }

    [Fact]
    public void TimeLimitTruncationIsDoneButNotDwWhileATrueTerminalIsBoth()
    {
        using var pendulum = PolicyEnvironment.Make("Pendulum-v1", null);
        var (dw, done) = CollectFlags(pendulum, 256);
        Assert.All(dw, d => Assert.Equal(0f, d));
        Assert.Equal(1f, done[199]);
        Assert.Equal(1f, done.Sum());

        var (terminalDw, terminalDone) = CollectFlags(new TerminatesOnThirdStep(), 8);
        Assert.Equal([0f, 0f, 1f, 0f, 0f, 1f, 0f, 0f], terminalDw);
        Assert.Equal(terminalDw, terminalDone);

        // Terminated on the step that reaches the limit: the release's PPO sets dw by the step count (§5.4), so the
        // limit wins and the value is bootstrapped; done still cuts the recursion.
        var (limitDw, limitDone) = CollectFlags(new O2RL.Envs.Wrappers.TimeLimit(new TerminatesOnThirdStep(), 3), 6);
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 0f], limitDw);
        Assert.Equal([0f, 0f, 1f, 0f, 0f, 1f], limitDone);
        var (laterLimitDw, _) = CollectFlags(new O2RL.Envs.Wrappers.TimeLimit(new TerminatesOnThirdStep(), 4), 6);
        Assert.Equal([0f, 0f, 1f, 0f, 0f, 1f], laterLimitDw);
    }

    /// <summary>
    /// Pendulum-v1 from scratch with the shipped settings (64×64 networks, 200k steps, γ 0.9; see the YAML), about
    /// ten seconds of CPU. A random policy scores about −1,200 … −1,500 per episode and a policy that never swings
    /// up stays below ≈ −900 (it pays ≈ π² per step hanging down). Required: the best evaluation (mean of 10
    /// deterministic episodes) above −300, i.e. swung up and held in nearly every episode, and the mean of the last
    /// five evaluations (100k … 200k steps) above −600. Pendulum PPO evaluations swing by a few hundred between
    /// neighbouring checkpoints (an unlucky start state costs one long swing-up), so the later phase is judged by
    /// its mean rather than by its last point.
    /// </summary>
    [Fact]
    [Trait("Category", "Learning")]
    public void LearnsPendulumFromScratch()
    {
        using var backend = new CpuBackend();
        var metrics = new MemoryMetrics();
        PpoRun.Run(new RunContext { Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 1, Metrics = metrics });
        var curve = metrics.Series("eval/return");
        string text = string.Join(", ", curve.Select(p => $"{p.Step}:{p.Value:F0}"));
        TestContext.Current.TestOutputHelper?.WriteLine($"PPO Pendulum-v1 evaluation curve: {text}");
        Assert.Equal(11, curve.Count);
        Assert.True(curve[0].Value < -900, $"the untrained policy already scored {curve[0].Value:F0}");
        Assert.True(curve.Max(p => p.Value) > -300, $"PPO never passed −300 on Pendulum-v1; curve: {text}");
        double late = curve.Skip(6).Average(p => p.Value);
        Assert.True(late > -600, $"PPO's last five evaluations average {late:F0}; curve: {text}");
    }
}
