using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests;

public sealed class SacTests
{
    const int ObsDim = 3, ActionDim = 2, B = 4;
    static readonly float[] S = [0.5f, -1f, 0.2f, 1.5f, 0.3f, -0.7f, -0.4f, 0.9f, 1.1f, 0f, -1.2f, 0.6f];
    static readonly float[] A = [0.3f, -0.8f, 0.9f, 0.1f, -0.5f, 0.4f, 0f, -0.2f];
    static readonly float[] R = [1f, -0.5f, 2f, 0.25f];
    static readonly float[] S2 = [0.4f, -0.9f, 0.3f, 1.2f, 0.5f, -0.6f, -0.1f, 1f, 0.8f, 0.2f, -1f, 0.4f];
    static readonly float[] M = [0f, 1f, 0f, 0f];

    /// <summary>The learner with α = 0.5 and target critics that differ from the critics.</summary>
    static SoftActorCritic TinyLearner(Backend backend)
    {
        var sac = new SoftActorCritic(backend, ObsDim, ActionDim, SoftActorCriticReference.Tiny(), seed: 3);
        var other = new SoftActorCritic(backend, ObsDim, ActionDim, SoftActorCriticReference.Tiny(), seed: 9);
        sac.TargetCritic.Parameters.CopyValuesFrom(other.Critic.Parameters);
        backend.Upload([MathF.Log(0.5f)], sac.LogAlpha);
        return sac;
    }

    /// <summary>Double-precision L_π, L_α and L_Q of the SAC update from flat parameters and the update's noise.</summary>
    static (double Actor, double Alpha, double Critic) ReferenceLosses(SoftActorCriticReference.Net actor, SoftActorCriticReference.Net critic,
        SoftActorCriticReference.Net target, double logAlpha, float[] noise0, float[] noise1, double gamma = 0.99)
    {
        double alpha = Math.Exp(logAlpha);
        var s = SoftActorCriticReference.D(S); var s2 = SoftActorCriticReference.D(S2);
        var (act, logp) = SoftActorCriticReference.Sample(actor, s, B, ActionDim, noise0);
        var qPi = SoftActorCriticReference.Min(SoftActorCriticReference.Q(critic, s, act, B, ObsDim, ActionDim));
        double actorLoss = Enumerable.Range(0, B).Average(i => alpha * logp[i] - qPi[i]);
        double alphaLoss = -logAlpha * (logp.Average() - ActionDim);
        var (act2, logp2) = SoftActorCriticReference.Sample(actor, s2, B, ActionDim, noise1);
        var qNext = SoftActorCriticReference.Min(SoftActorCriticReference.Q(target, s2, act2, B, ObsDim, ActionDim));
        var y = Enumerable.Range(0, B).Select(i => R[i] + gamma * (1 - M[i]) * (qNext[i] - alpha * logp2[i])).ToArray();
        var q = SoftActorCriticReference.Q(critic, s, SoftActorCriticReference.D(A), B, ObsDim, ActionDim);
        double criticLoss = q.Sum(qe => Enumerable.Range(0, B).Average(i => (qe[i] - y[i]) * (qe[i] - y[i])));
        return (actorLoss, alphaLoss, criticLoss);
    }

    [Fact]
    public void LossesMatchDoublePrecisionReferenceAndGradientsMatchFiniteDifferences()
    {
        using var backend = new CpuBackend(1);
        var sac = TinyLearner(backend);
        var batch = SoftActorCriticReference.Batch(backend, S, A, R, S2, M, ObsDim, ActionDim);
        var actor = SoftActorCriticReference.Net.Of(sac.Actor.Parameters, 1);
        var critic = SoftActorCriticReference.Net.Of(sac.Critic.Parameters, 2);
        var target = SoftActorCriticReference.Net.Of(sac.TargetCritic.Parameters, 2);
        ulong counter = sac.UpdateRandom.Counter;
        var noise0 = SoftActorCriticReference.Normal(backend, sac.UpdateRandom.Seed, counter, B * ActionDim);
        var noise1 = SoftActorCriticReference.Normal(backend, sac.UpdateRandom.Seed, counter + B * ActionDim, B * ActionDim);

        sac.RefreshAlpha();
        sac.ActorLossBackward(batch.Observations, temperatureGradient: true);
        var (nextQ, _, nextLogProb) = sac.NextStateSample(batch.NextObservations);
        var (_, dq, _) = sac.TdLoss(batch, nextQ, nextLogProb);
        sac.CriticBackward(dq);

        var expected = ReferenceLosses(actor, critic, target, Math.Log(0.5), noise0, noise1);
        Assert.Equal(expected.Actor, backend.ReadScalar(sac.ActorLoss), 1e-4 * Math.Max(1, Math.Abs(expected.Actor)));
        Assert.Equal(expected.Alpha, backend.ReadScalar(sac.AlphaLoss), 1e-4 * Math.Max(1, Math.Abs(expected.Alpha)));
        Assert.Equal(expected.Critic, backend.ReadScalar(sac.CriticLoss), 1e-4 * Math.Max(1, Math.Abs(expected.Critic)));
        // ∂L_α/∂log α = −(mean log π − d).
        double h = 1e-4;
        double alphaNumeric = (ReferenceLosses(actor, critic, target, Math.Log(0.5) + h, noise0, noise1).Alpha - ReferenceLosses(actor, critic, target, Math.Log(0.5) - h, noise0, noise1).Alpha) / (2 * h);
        Assert.Equal(alphaNumeric, backend.ReadScalar(sac.LogAlphaGradient), 1e-3);

        // Actor and critic gradients (each from its own loss only) against central differences of the reference.
        float[] actorGradient = sac.Actor.Parameters.Gradients.ToArray(), criticGradient = sac.Critic.Parameters.Gradients.ToArray();
        foreach (int i in new[] { 0, 7, 19, actor.Values.Length - 3, actor.Values.Length - 2, actor.Values.Length - 1 })
        {
            double[] plus = (double[])actor.Values.Clone(), minus = (double[])actor.Values.Clone();
            plus[i] += h; minus[i] -= h;
            double numeric = (ReferenceLosses(actor.With(plus), critic, target, Math.Log(0.5), noise0, noise1).Actor
                - ReferenceLosses(actor.With(minus), critic, target, Math.Log(0.5), noise0, noise1).Actor) / (2 * h);
            Assert.True(Math.Abs(numeric - actorGradient[i]) < 2e-3 * Math.Max(1, Math.Abs(numeric)), $"actor ∂L/∂θ[{i}]: numeric {numeric}, device {actorGradient[i]}");
        }
        foreach (int i in new[] { 0, 5, 30, critic.Values.Length / 2 + 3, critic.Values.Length - 1 })
        {
            double[] plus = (double[])critic.Values.Clone(), minus = (double[])critic.Values.Clone();
            plus[i] += h; minus[i] -= h;
            double numeric = (ReferenceLosses(actor, critic.With(plus), target, Math.Log(0.5), noise0, noise1).Critic
                - ReferenceLosses(actor, critic.With(minus), target, Math.Log(0.5), noise0, noise1).Critic) / (2 * h);
            Assert.True(Math.Abs(numeric - criticGradient[i]) < 2e-3 * Math.Max(1, Math.Abs(numeric)), $"critic ∂L/∂θ[{i}]: numeric {numeric}, device {criticGradient[i]}");
        }
    }

    static Online.SacAgent TinyAgent(Backend backend, ulong seed) =>
        new(backend, ObsDim, ActionDim, new Configs.SacConfig { ActorHidden = [5, 4], CriticHidden = [6, 5], BatchSize = B }, seed);

    [Fact]
    public void OneUpdateMovesEveryParameterOfEveryTrainedNetwork()
    {
        using var backend = new CpuBackend(1);
        var agent = TinyAgent(backend, 5);
        var sac = agent.Learner;
        var batch = SoftActorCriticReference.Batch(backend, S, A, R, S2, M, ObsDim, ActionDim);
        var before = new[] { sac.Actor.Parameters, sac.Critic.Parameters, sac.TargetCritic.Parameters }.Select(SoftActorCriticReference.Snapshot).ToArray();
        float logAlphaBefore = backend.ReadScalar(sac.LogAlpha);
        // Acting must not touch any parameter or the update noise stream.
        ulong counter = sac.UpdateRandom.Counter;
        agent.Policy.Act([0.1f, 0.2f, 0.3f], new float[ActionDim], deterministic: false);
        Assert.Equal(counter, sac.UpdateRandom.Counter);
        agent.Update(batch, 1, 0);
        var after = new[] { sac.Actor.Parameters, sac.Critic.Parameters, sac.TargetCritic.Parameters }.Select(SoftActorCriticReference.Snapshot).ToArray();
        for (int n = 0; n < before.Length; n++)
            foreach (var (name, values) in before[n])
                Assert.False(values.SequenceEqual(after[n][name]), $"network {n} parameter '{name}' did not move");
        Assert.NotEqual(logAlphaBefore, backend.ReadScalar(sac.LogAlpha));
    }

    [Fact]
    public void FixedTemperatureStaysFixed()
    {
        using var backend = new CpuBackend(1);
        var agent = new Online.SacAgent(backend, ObsDim, ActionDim, new Configs.SacConfig { ActorHidden = [5], CriticHidden = [6], Alpha = 0.2f, AutoAlpha = false }, 2);
        agent.Update(SoftActorCriticReference.Batch(backend, S, A, R, S2, M, ObsDim, ActionDim), 1, 0);
        Assert.Equal(MathF.Log(0.2f), backend.ReadScalar(agent.Learner.LogAlpha));
    }

    [Fact]
    public void AnAgentBuiltDirectlyRefusesSettingsOutOfRange()
    {
        // Built without a run (a user's own loop), the agent checks its own settings; a batch of 0 was accepted before and
        // failed deep in the first update. The loop's settings (total_steps …) stay the caller's: 0 steps is not refused here.
        using var backend = new CpuBackend(1);
        Online.SacAgent Build(Configs.SacConfig config) => new(backend, ObsDim, ActionDim, config, 1);
        Assert.Contains("batch_size", Assert.Throws<ArgumentException>(() => Build(new Configs.SacConfig { BatchSize = 0 })).Message);
        Assert.Contains("target_entropy", Assert.Throws<ArgumentException>(() => Build(new Configs.SacConfig { TargetEntropy = float.NaN })).Message);
        Assert.Contains("actor_hidden", Assert.Throws<ArgumentException>(() => Build(new Configs.SacConfig { ActorHidden = [] })).Message);
        Assert.Contains("gamma", Assert.Throws<ArgumentException>(() => Build(new Configs.SacConfig { Gamma = 1.5f })).Message);
        Assert.NotNull(Build(new Configs.SacConfig { ActorHidden = [5], CriticHidden = [6], TotalSteps = 0 }).Learner);

        var ppo = Assert.Throws<ArgumentException>(() => new Online.PpoAgent(backend, ObsDim, ActionDim, new Configs.PpoConfig { ClipRatio = 1f }, 1));
        Assert.Contains("clip_ratio", ppo.Message);
        Assert.Contains("actor_lr", Assert.Throws<ArgumentException>(() => new Online.PpoAgent(backend, ObsDim, ActionDim, new Configs.PpoConfig { ActorLr = -1f }, 1)).Message);
    }

    [Fact]
    public void TrueTerminalDoesNotBootstrapButTruncationDoes()
    {
        using var backend = new CpuBackend(1);
        var sac = TinyLearner(backend);
        // The same transition twice: stored as a true terminal (m = 1) and as a time-limit end (m = 0).
        float[] s = [.. S[..3], .. S[..3]], a = [.. A[..2], .. A[..2]], s2 = [.. S2[..3], .. S2[..3]];
        var batch = SoftActorCriticReference.Batch(backend, s, a, [1.5f, 1.5f], s2, [1f, 0f], ObsDim, ActionDim);
        sac.RefreshAlpha();
        var (nextQ, _, nextLogProb) = sac.NextStateSample(batch.NextObservations);
        float[] q2 = nextQ.ToArray(), logp2 = nextLogProb.ToArray();
        // V(s′) = min_e Q̄_e(s′, ã′) − α·log π(ã′|s′), α = 0.5.
        float[] v = [.. Enumerable.Range(0, 2).Select(i => MathF.Min(q2[i], q2[2 + i]) - 0.5f * logp2[i])];
        float[] y = sac.TdLoss(batch, nextQ, nextLogProb).Target.ToArray();
        Assert.NotEqual(0f, v[0]);
        Assert.Equal(1.5f, y[0]);                                   // y = r
        Assert.Equal(1.5f + 0.99f * v[1], y[1], 1e-5f);              // y = r + γ·V(s′)
    }

    [Fact]
    public void TwoRunsWithOneSeedAreBitIdentical()
    {
        string[] overrides = ["total_steps=400", "warmup_steps=200", "batch_size=32", "actor_hidden=[16,16]", "critic_hidden=[16,16]", "eval_every=400", "eval_episodes=1", "log_every=100"];
        byte[] RunOnce(string folder)
        {
            using var backend = new CpuBackend(1);
            SacRun.Run(new RunContext { Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, OutputDirectory = folder, Overrides = overrides });
            return File.ReadAllBytes(Path.Combine(folder, "sac.safetensors"));
        }
        string root = Path.Combine(Path.GetTempPath(), "o2rl-sac-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = RunOnce(Path.Combine(root, "a"));
            var second = RunOnce(Path.Combine(root, "b"));
            Assert.Equal(first, second);
            var (actor, normalizer) = SacRun.LoadActor(Path.Combine(root, "a", "sac.safetensors"), new CpuBackend(1));
            Assert.Equal([16, 16], actor.Network.Spec.HiddenDims);
            Assert.Equal([0f, 0f, 0f], normalizer.Mean);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    [Trait("Category", "Learning")]
    public void LearnsPendulumWithin20kSteps()
    {
        // Shipped Pendulum-v1 settings: 2×64 networks (not the paper's 2×256) keep this test near a minute on 2 shared cores.
        using var backend = new CpuBackend();
        var metrics = new MemoryMetrics();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = SacRun.Run(new RunContext { Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 1, Metrics = metrics });
        var evals = metrics.Series("eval/return");
        string curve = string.Join(", ", evals.Select(e => $"{e.Step}:{e.Value:F0}"));
        TestContext.Current.TestOutputHelper?.WriteLine($"SAC Pendulum-v1: {curve} in {clock.Elapsed.TotalSeconds:F0}s, update {metrics.Last("time/update"):F2} ms");
        Assert.True(evals.Max(e => e.Value) >= -300, $"best evaluation return should reach −300 within 20k steps; curve {curve}");
    }
}
