using System.Diagnostics;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.FineTuning.O2Td3;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using Xunit;

namespace O2RL.Algorithms.Tests;

public sealed class O2Td3Tests
{
    const int ObsDim = 3, ActionDim = 2, Batch = 6;
    const ulong Seed = 7;
    const double Tolerance = 1e-4;

    // Tiny networks without LayerNorm so the double-precision reference (Td3Reference) can recompute every loss; the
    // LayerNorm critic path is the shared QEnsemble's and is covered by the end-to-end runs below.
    static O2Td3Config TinyConfig => new()
    {
        BatchSize = Batch, CriticHidden = [6, 4], CriticLayerNorm = false, ActorLr = 1e-2f, CriticLr = 1e-2f,
        // σ_tp = 0.6 makes the noise clip (0.5) active on some coordinates and the distance cap σ_tp reachable.
        PolicyNoise = 0.6f, NoiseClip = 0.5f, Gamma = 0.9f, InitialLambda = 1.5f,
        // ε_t = t · 1e-9, so a test picks the threshold through the environment step it passes.
        ThresholdStart = 0f, ThresholdEnd = 1f, ThresholdSteps = 1_000_000_000,
    };

    static readonly float[] Obs = [0.1f, -0.4f, 0.9f, 1.2f, 0.3f, -0.7f, -0.5f, 0.8f, 0.2f, 0.0f, 0.6f, -1.1f, 0.4f, 0.4f, 0.4f, -0.9f, -0.2f, 0.5f];
    static readonly float[] Actions = [0.5f, -0.3f, -0.9f, 0.1f, 0.2f, 0.7f, -0.4f, -0.6f, 0.95f, 0.0f, 0.3f, -0.8f];
    static readonly float[] Rewards = [1.0f, -0.5f, 0.25f, 2.0f, -1.5f, 0.75f];
    static readonly float[] NextObs = [0.2f, -0.3f, 1.0f, 1.0f, 0.5f, -0.6f, -0.4f, 0.9f, 0.1f, 3.0f, -3.0f, 3.0f, 0.5f, 0.3f, 0.2f, -1.0f, 0.0f, 0.6f];
    // Rows 1 and 4 are true terminals (no bootstrap); the others bootstrap (as time-limit ends do).
    static readonly float[] Terminals = [0f, 1f, 0f, 0f, 1f, 0f];

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

    static DeterministicActor OfflineActor(Backend backend) => new(backend, ObsDim, ActionDim, seed: 11, hiddenDims: [5]);

    static O2Td3Agent MakeAgent(Backend backend, O2Td3Config? config = null) => new(backend, OfflineActor(backend), config ?? TinyConfig, Seed);

    // Moves parameters by N(0, scale²) noise so that networks that start as copies differ.
    static void Perturb(ParameterSet parameters, int seed, float scale)
    {
        var values = parameters.Values.ToArray();
        var random = new Random(seed);
        for (int i = 0; i < values.Length; i++) values[i] += scale * (float)(random.NextDouble() * 2 - 1);
        parameters.Backend.Upload(values, parameters.Values);
    }

    // The first standard normals of the stream Seeds.Derive(seed, stream).
    static float[] FirstNormals(Backend backend, ulong stream)
    {
        var epsilon = backend.Allocate(Batch, ActionDim);
        backend.RandomNormal(epsilon, Seeds.Derive(Seed, stream), 0);
        return epsilon.ToArray();
    }

    static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= Tolerance * Math.Max(1.0, Math.Abs(expected)), $"{what}: expected {expected:R}, got {actual:R}");

    // The alternative reading of the spec must be clearly off (1 %), far beyond the float error AssertClose allows.
    static void AssertFar(double rejected, double actual, string what) =>
        Assert.True(Math.Abs(rejected - actual) > 0.01 * Math.Abs(rejected) + 1e-6, $"{what}: {actual:R} should differ from {rejected:R}");

    static double[] Row(float[] data, int i, int width) => Td3Reference.Row(data, i, width);

    // ───────────────────────────── stage A ─────────────────────────────

    [Fact]
    public void StageAEvaluatesTheOfflineActorAndPolyaksOnlyTheCriticTargets()
    {
        using var backend = new CpuBackend(1);
        var config = TinyConfig;
        var agent = MakeAgent(backend, config);
        Perturb(agent.Networks.CriticTarget.Parameters, 1, 0.3f);
        var offline = new Td3Reference(agent.OfflineActor.Parameters);
        var critic = new Td3Reference(agent.Networks.Critic.Parameters);
        var criticTarget = new Td3Reference(agent.Networks.CriticTarget.Parameters);
        var targetBefore = agent.Networks.CriticTarget.Parameters.Values.ToArray();
        var actorBefore = agent.Networks.Actor.Parameters.Values.ToArray();
        var epsilon = FirstNormals(backend, 3);
        Assert.Contains(epsilon, e => Math.Abs(0.6 * e) > 0.5);

        agent.EvaluationStep(MakeBatch(backend));

        // y with μ̄ = μ_off, then L_Q on the pre-step critics.
        var y = Td3Reference.Target(offline, criticTarget, NextObs, Rewards, Terminals, epsilon, ObsDim, ActionDim, config.Gamma, config.PolicyNoise, config.NoiseClip);
        AssertClose(Td3Reference.CriticLoss(critic, Obs, Actions, y, ObsDim, ActionDim), backend.ReadScalar(agent.Operators.CriticLoss), "stage A L_Q");
        // Q̄ ← (1 − τ)Q̄ + τQ (every step); μ̄, μ_θ, μ_off, μ_ref untouched; n_it not advanced.
        var criticAfter = agent.Networks.Critic.Parameters.Values.ToArray();
        var targetAfter = agent.Networks.CriticTarget.Parameters.Values.ToArray();
        for (int i = 0; i < targetAfter.Length; i++)
            Assert.Equal((1 - config.Tau) * targetBefore[i] + config.Tau * criticAfter[i], targetAfter[i], 1e-6f);
        Assert.Equal(agent.OfflineActor.Parameters.Values.ToArray(), agent.Networks.ActorTarget.Parameters.Values.ToArray());
        Assert.Equal(actorBefore, agent.Networks.Actor.Parameters.Values.ToArray());
        Assert.Equal(actorBefore, agent.Reference.Parameters.Values.ToArray());
        Assert.Equal(0, agent.IterationCount);
    }

    // ───────────────────────────── stage B ─────────────────────────────

    [Fact]
    public void AlignmentLossesMatchDoublePrecisionComputation()
    {
        using var backend = new CpuBackend(1);
        var config = TinyConfig;
        var agent = MakeAgent(backend, config);
        // μ_θ ≠ μ_off and Q̄ ≠ Q, so the anchor, the noisy actions and the per-critic caps are all distinct.
        Perturb(agent.Networks.Actor.Parameters, 2, 0.4f);
        Perturb(agent.Networks.CriticTarget.Parameters, 3, 0.4f);
        CentreAnchorValues(agent);
        var offline = new Td3Reference(agent.OfflineActor.Parameters);
        var actor = new Td3Reference(agent.Networks.Actor.Parameters);
        var critic = new Td3Reference(agent.Networks.Critic.Parameters);
        var target = new Td3Reference(agent.Networks.CriticTarget.Parameters);
        var xi = FirstNormals(backend, 6);
        var targetsBefore = agent.Networks.CriticTarget.Parameters.Values.ToArray();
        var actorTargetBefore = agent.Networks.ActorTarget.Parameters.Values.ToArray();

        double sigma = config.PolicyNoise, clip = config.NoiseClip, beta = config.DistanceBeta;
        double refine = 0, fix = 0, actorQ = 0;
        bool negativeAnchor = false, positiveAnchor = false, capped = false, perCriticDiffers = false;
        for (int i = 0; i < Batch; i++)
        {
            var s = Row(Obs, i, ObsDim);
            var aOff = offline.Forward(s, tanhOutput: true);
            var aOn = actor.Forward(s, tanhOutput: true);
            double vStar = Math.Min(target.Forward([.. s, .. aOff], 0)[0], target.Forward([.. s, .. aOff], 1)[0]);
            var aNoisy = new double[ActionDim];
            double squared = 0;
            for (int j = 0; j < ActionDim; j++)
            {
                aNoisy[j] = Math.Clamp(aOn[j] + Math.Clamp(sigma * xi[i * ActionDim + j], -clip, clip), -1, 1);
                squared += Math.Pow(aNoisy[j] - aOff[j], 2);
            }
            double rawDelta = Math.Sqrt(squared / ActionDim), delta = Math.Min(rawDelta, sigma);
            capped |= rawDelta > sigma;
            double shrink = 1 + beta * delta * delta;
            double yDist = vStar < 0 ? vStar * shrink : vStar / shrink;
            negativeAnchor |= vStar < 0; positiveAnchor |= vStar >= 0;
            Assert.True(yDist <= vStar + 1e-12);
            for (int e = 0; e < 2; e++)
            {
                double capValue = target.Forward([.. s, .. aNoisy], e)[0];
                double y = Math.Min(yDist, capValue);
                perCriticDiffers |= capValue < yDist;
                refine += Math.Pow(critic.Forward([.. s, .. aNoisy], e)[0] - y, 2) / Batch;
                fix += Math.Pow(critic.Forward([.. s, .. aOff], e)[0] - vStar, 2) / Batch;
            }
            actorQ += critic.Forward([.. s, .. aOn], 0)[0] / Batch;
        }
        Assert.True(negativeAnchor && positiveAnchor, "the batch should cover both signs of V*");
        Assert.True(capped, "some noisy action should hit the distance cap");
        Assert.True(perCriticDiffers, "some Q̄_i(s, a_n) should be below y_dist");

        agent.AlignmentStep(MakeBatch(backend));

        AssertClose(refine + fix, backend.ReadScalar(agent.AlignmentCriticLoss), "L_refine + L_fixed");
        // The actor loss uses the pre-step Q_1 (the actor steps before the critics).
        AssertClose(-actorQ, backend.ReadScalar(agent.Operators.ActorLoss), "stage B L_π");
        Assert.Equal(1, agent.IterationCount);
        // Targets are frozen throughout stage B; μ_off and μ_ref never move.
        Assert.Equal(targetsBefore, agent.Networks.CriticTarget.Parameters.Values.ToArray());
        Assert.Equal(actorTargetBefore, agent.Networks.ActorTarget.Parameters.Values.ToArray());
        Assert.Equal(agent.OfflineActor.Parameters.Values.ToArray(), agent.Reference.Parameters.Values.ToArray());
    }

    // Shifts both target critics' output biases by −median V*, so the batch has anchors of both signs (both y_dist branches).
    static void CentreAnchorValues(O2Td3Agent agent)
    {
        var offline = new Td3Reference(agent.OfflineActor.Parameters);
        var target = new Td3Reference(agent.Networks.CriticTarget.Parameters);
        var anchors = new double[Batch];
        for (int i = 0; i < Batch; i++)
        {
            var s = Row(Obs, i, ObsDim);
            double[] input = [.. s, .. offline.Forward(s, tanhOutput: true)];
            anchors[i] = Math.Min(target.Forward(input, 0)[0], target.Forward(input, 1)[0]);
        }
        var sorted = anchors.Order().ToArray();
        double middle = (sorted[Batch / 2 - 1] + sorted[Batch / 2]) / 2;
        var parameters = agent.Networks.CriticTarget.Parameters;
        var outputBias = parameters.Entries[^1];
        var values = parameters.Values.ToArray();
        for (int i = outputBias.Offset; i < outputBias.Offset + outputBias.Length; i++) values[i] -= (float)middle;
        parameters.Backend.Upload(values, parameters.Values);
    }

    [Fact]
    public void AlignmentTrainsActorAndCriticsAndItsEndCopiesThemIntoTheTargets()
    {
        using var backend = new CpuBackend(1);
        var agent = MakeAgent(backend);
        var offlineBefore = agent.OfflineActor.Parameters.Values.ToArray();
        var actorBefore = agent.Networks.Actor.Parameters.Values.ToArray();
        var criticBefore = agent.Networks.Critic.Parameters.Values.ToArray();
        var batch = MakeBatch(backend);
        agent.AlignmentStep(batch);
        agent.AlignmentStep(batch);
        AssertAllMoved(actorBefore, agent.Networks.Actor.Parameters, "actor");
        AssertAllMoved(criticBefore, agent.Networks.Critic.Parameters, "critics");
        Assert.Equal(offlineBefore, agent.OfflineActor.Parameters.Values.ToArray());

        agent.FinishAlignment();
        Assert.Equal(agent.Networks.Actor.Parameters.Values.ToArray(), agent.Networks.ActorTarget.Parameters.Values.ToArray());
        Assert.Equal(agent.Networks.Critic.Parameters.Values.ToArray(), agent.Networks.CriticTarget.Parameters.Values.ToArray());
        Assert.Equal(offlineBefore, agent.OfflineActor.Parameters.Values.ToArray());
    }

    static void AssertAllMoved(float[] before, ParameterSet parameters, string what)
    {
        var after = parameters.Values.ToArray();
        foreach (var entry in parameters.Entries)
        {
            bool moved = false;
            for (int i = entry.Offset; i < entry.Offset + entry.Length; i++) moved |= before[i] != after[i];
            Assert.True(moved, $"{what}: parameter {entry.Name} did not move");
        }
    }

    // ───────────────────────────── stage C ─────────────────────────────

    // An agent after "alignment": μ_θ, μ̄, μ_ref, Q, Q̄ all different, n_it odd so the next update is a delayed one.
    static O2Td3Agent StageCAgent(Backend backend, O2Td3Config? config = null)
    {
        var agent = MakeAgent(backend, config);
        Perturb(agent.Networks.Actor.Parameters, 4, 0.3f);
        Perturb(agent.Networks.ActorTarget.Parameters, 5, 0.3f);
        Perturb(agent.Networks.CriticTarget.Parameters, 6, 0.3f);
        agent.IterationCount = 1;
        agent.BeginOnline();
        return agent;
    }

    [Fact]
    public void StageCTargetSubtractsOneBatchScalarPenaltyFromTheOnlineActor()
    {
        using var backend = new CpuBackend(1);
        var config = TinyConfig;
        var agent = StageCAgent(backend, config);
        var actor = new Td3Reference(agent.Networks.Actor.Parameters);
        var actorTarget = new Td3Reference(agent.Networks.ActorTarget.Parameters);
        var reference = new Td3Reference(agent.Reference.Parameters);
        var critic = new Td3Reference(agent.Networks.Critic.Parameters);
        var criticTarget = new Td3Reference(agent.Networks.CriticTarget.Parameters);
        var epsilon = FirstNormals(backend, 3);

        // P′ = mean over B·d of (μ_θ(s′) − μ_ref(s′))²: one scalar, and with the ONLINE actor (not μ̄).
        double penalty = 0, penaltyWithTargetActor = 0;
        var perSample = new double[Batch];
        for (int i = 0; i < Batch; i++)
        {
            var s1 = Row(NextObs, i, ObsDim);
            var mu = actor.Forward(s1, tanhOutput: true);
            var muBar = actorTarget.Forward(s1, tanhOutput: true);
            var muRef = reference.Forward(s1, tanhOutput: true);
            for (int j = 0; j < ActionDim; j++)
            {
                penalty += Math.Pow(mu[j] - muRef[j], 2) / (Batch * ActionDim);
                penaltyWithTargetActor += Math.Pow(muBar[j] - muRef[j], 2) / (Batch * ActionDim);
                perSample[i] += Math.Pow(mu[j] - muRef[j], 2) / ActionDim;
            }
        }
        double lambda = config.InitialLambda;
        var y = Td3Reference.Target(actorTarget, criticTarget, NextObs, Rewards, Terminals, epsilon, ObsDim, ActionDim, config.Gamma, config.PolicyNoise, config.NoiseClip);
        var yPerSample = (double[])y.Clone();
        for (int i = 0; i < Batch; i++)
        {
            y[i] -= config.Gamma * (1 - Terminals[i]) * lambda * penalty;
            yPerSample[i] -= config.Gamma * (1 - Terminals[i]) * lambda * perSample[i];
        }
        double expected = Td3Reference.CriticLoss(critic, Obs, Actions, y, ObsDim, ActionDim);

        agent.Update(MakeBatch(backend), environmentStep: 5_000_000, updateIndex: 0);

        AssertClose(penalty, backend.ReadScalar(agent.TargetPenalty), "P′");
        AssertFar(penaltyWithTargetActor, backend.ReadScalar(agent.TargetPenalty), "P′ with the target actor");
        AssertClose(expected, backend.ReadScalar(agent.Operators.CriticLoss), "stage C L_Q");
        AssertFar(Td3Reference.CriticLoss(critic, Obs, Actions, yPerSample, ObsDim, ActionDim), backend.ReadScalar(agent.Operators.CriticLoss), "L_Q with a per-sample penalty");
    }

    [Fact]
    public void StageCActorLossUsesTheUpdatedCriticAndTheDualStepWeighsEveryCoordinate()
    {
        using var backend = new CpuBackend(1);
        var config = TinyConfig;
        var agent = StageCAgent(backend, config);
        var actor = new Td3Reference(agent.Networks.Actor.Parameters);
        var reference = new Td3Reference(agent.Reference.Parameters);
        var criticBefore = new Td3Reference(agent.Networks.Critic.Parameters);

        // Div_ij = (a_ref − a_cur)² per sample and coordinate; ε_t at their median makes some slack and some violation.
        var divergence = new double[Batch * ActionDim];
        for (int i = 0; i < Batch; i++)
        {
            var s = Row(Obs, i, ObsDim);
            var a = actor.Forward(s, tanhOutput: true);
            var r = reference.Forward(s, tanhOutput: true);
            for (int j = 0; j < ActionDim; j++) divergence[i * ActionDim + j] = Math.Pow(r[j] - a[j], 2);
        }
        double median = divergence.Order().ElementAt(divergence.Length / 2);
        long step = (long)Math.Round(median * 1e9);
        double epsilonT = agent.Threshold(step);
        Assert.Contains(divergence, v => v > epsilonT);
        Assert.Contains(divergence, v => v < epsilonT);
        double Weight(double u) => (u > 0 ? 1 - config.LambdaTau : config.LambdaTau) * u;
        double w = divergence.Average(v => Weight(epsilonT - v));
        double wPerSample = Enumerable.Range(0, Batch).Average(i => Weight(epsilonT - (divergence[2 * i] + divergence[2 * i + 1]) / 2));
        var logLambdaBefore = agent.Lagrange.LogLambda.ToArray()[0];

        agent.Update(MakeBatch(backend), step, 0);
        var criticAfter = new Td3Reference(agent.Networks.Critic.Parameters);

        // L_λ = λ·w, mean over all B·d slacks (not per sample).
        double lambda = config.InitialLambda;
        AssertClose(lambda * w, backend.ReadScalar(agent.Lagrange.Loss), "L_λ");
        AssertFar(lambda * wPerSample, backend.ReadScalar(agent.Lagrange.Loss), "L_λ with per-sample slack");
        Assert.NotEqual(logLambdaBefore, agent.Lagrange.LogLambda.ToArray()[0]);

        // L_π = −κ·mean Q_1(s, μ_θ(s)) + λ·mean (a_ref − μ_θ(s))², κ = 1/mean|Q_1|, Q_1 the critic AFTER this update's step.
        float[] refActions = new float[Batch * ActionDim];
        for (int i = 0; i < Batch; i++)
        {
            var r = reference.Forward(Row(Obs, i, ObsDim), tanhOutput: true);
            for (int j = 0; j < ActionDim; j++) refActions[i * ActionDim + j] = (float)r[j];
        }
        double expected = Td3Reference.ActorLoss(actor, criticAfter, Obs, refActions, ObsDim, ActionDim, alpha: 1.0, weight: lambda);
        double withOldCritic = Td3Reference.ActorLoss(actor, criticBefore, Obs, refActions, ObsDim, ActionDim, alpha: 1.0, weight: lambda);
        AssertClose(expected, backend.ReadScalar(agent.Operators.ActorLoss), "stage C L_π");
        AssertFar(withOldCritic, backend.ReadScalar(agent.Operators.ActorLoss), "L_π with the pre-step critic");
    }

    [Theory]
    [InlineData(0L, true)]         // ε = 0: every coordinate violates the constraint → λ rises
    [InlineData(900_000_000L, false)] // ε = 0.9: slack everywhere → λ falls
    public void LambdaIsPositiveAndRisesWhenViolatedAndFallsWithSlack(long environmentStep, bool rises)
    {
        using var backend = new CpuBackend(1);
        var agent = StageCAgent(backend);
        agent.Update(MakeBatch(backend), environmentStep, 0);
        agent.Lagrange.Refresh();
        float lambda = agent.Lagrange.Lambda.ToArray()[0];
        Assert.True(lambda > 0f);
        if (rises) Assert.True(lambda > TinyConfig.InitialLambda, $"λ {lambda} should rise");
        else Assert.True(lambda < TinyConfig.InitialLambda, $"λ {lambda} should fall");
    }

    [Fact]
    public void StageCMovesEveryTrainedNetworkAndNeverTheReferenceOrTheOfflineActor()
    {
        using var backend = new CpuBackend(1);
        var agent = StageCAgent(backend);
        var before = Snapshot(agent);
        agent.Update(MakeBatch(backend), 10_000_000, 0);
        AssertAllMoved(before.Actor, agent.Networks.Actor.Parameters, "actor");
        AssertAllMoved(before.Critic, agent.Networks.Critic.Parameters, "critics");
        AssertAllMoved(before.ActorTarget, agent.Networks.ActorTarget.Parameters, "target actor");
        AssertAllMoved(before.CriticTarget, agent.Networks.CriticTarget.Parameters, "target critics");
        Assert.NotEqual(before.LogLambda, agent.Lagrange.LogLambda.ToArray()[0]);
        Assert.Equal(before.Reference, agent.Reference.Parameters.Values.ToArray());
        Assert.Equal(before.Offline, agent.OfflineActor.Parameters.Values.ToArray());
    }

    sealed record AgentSnapshot(float[] Actor, float[] ActorTarget, float[] Critic, float[] CriticTarget, float[] Reference, float[] Offline, float LogLambda);

    static AgentSnapshot Snapshot(O2Td3Agent agent) => new(agent.Networks.Actor.Parameters.Values.ToArray(), agent.Networks.ActorTarget.Parameters.Values.ToArray(),
        agent.Networks.Critic.Parameters.Values.ToArray(), agent.Networks.CriticTarget.Parameters.Values.ToArray(), agent.Reference.Parameters.Values.ToArray(),
        agent.OfflineActor.Parameters.Values.ToArray(), agent.Lagrange.LogLambda.ToArray()[0]);

    [Theory]
    [InlineData(4)] // even stage B (like 500k): the first online update is critic-only, the second is full
    [InlineData(3)] // odd stage B: the first online update is already a delayed one
    public void DelayedUpdateParityIsInheritedFromStageBAndNotFromStageA(int alignmentSteps)
    {
        using var backend = new CpuBackend(1);
        var agent = MakeAgent(backend);
        var batch = MakeBatch(backend);
        for (int i = 0; i < 5; i++) agent.EvaluationStep(batch);
        Assert.Equal(0, agent.IterationCount);
        for (int i = 0; i < alignmentSteps; i++) agent.AlignmentStep(batch);
        Assert.Equal(alignmentSteps, agent.IterationCount);
        agent.FinishAlignment();
        agent.BeginOnline();

        bool firstIsFull = alignmentSteps % 2 == 1;
        for (int update = 0; update < 2; update++)
        {
            var before = Snapshot(agent);
            agent.Update(batch, 10_000_000 + update, 0);
            bool full = update == 0 ? firstIsFull : !firstIsFull;
            Assert.NotEqual(before.Critic, agent.Networks.Critic.Parameters.Values.ToArray());
            Assert.Equal(full, !before.Actor.SequenceEqual(agent.Networks.Actor.Parameters.Values.ToArray()));
            Assert.Equal(full, !before.ActorTarget.SequenceEqual(agent.Networks.ActorTarget.Parameters.Values.ToArray()));
            Assert.Equal(full, !before.CriticTarget.SequenceEqual(agent.Networks.CriticTarget.Parameters.Values.ToArray()));
            Assert.Equal(full, before.LogLambda != agent.Lagrange.LogLambda.ToArray()[0]);
        }
        Assert.Equal(alignmentSteps + 2, agent.IterationCount);
    }

    [Fact]
    public void ThresholdLoosensLinearlyAndStaysAtItsEnd()
    {
        using var backend = new CpuBackend(1);
        var agent = MakeAgent(backend, new O2Td3Config { BatchSize = Batch, CriticHidden = [4] });
        Assert.Equal(0.0025f, agent.Threshold(0), 6);
        Assert.Equal(0.0025f + (0.04f - 0.0025f) * 0.25f, agent.Threshold(25_000), 6);
        Assert.Equal(0.04f, agent.Threshold(100_000), 6);
        Assert.Equal(0.04f, agent.Threshold(250_000), 6);
    }

    // ───────────────────────────── acting ─────────────────────────────

    [Fact]
    public void ActingAddsUnclippedNoiseAndTheFaithfulPolicyOffersTheNoiseFreeAction()
    {
        using var backend = new CpuBackend(1);
        var agent = MakeAgent(backend, TinyConfig with { ExplorationNoise = 3f });
        var policy = Assert.IsType<NoiseFreeStoringPolicy>(agent.Policy);
        float[] observation = [0.3f, -0.2f, 0.5f];
        var mu = new float[ActionDim];
        policy.Act(observation, mu, deterministic: true);
        bool beyondBounds = false;
        var action = new float[ActionDim];
        var stored = new float[ActionDim];
        for (int k = 0; k < 20; k++)
        {
            policy.Act(observation, action, deterministic: false);
            policy.CopyNoiseFreeAction(stored);
            Assert.Equal(mu, stored);
            Assert.NotEqual(mu, action);
            beyondBounds |= action.Any(a => Math.Abs(a) > 1f);
        }
        Assert.True(beyondBounds, "σ_e = 3 should produce executed actions outside [−1, 1]: the agent must not clip them");

        Assert.IsAssignableFrom<INoiseFreeActionSource>(agent.Policy);

        // The recommended switch stores the executed action: the bare acting policy offers no noise-free action.
        var executed = MakeAgent(backend, TinyConfig with { StoreExecutedAction = true });
        Assert.IsType<O2Td3ActingPolicy>(executed.Policy);
        Assert.False(executed.Policy is INoiseFreeActionSource);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheOnlineLoopStoresTheNoiseFreeActionUnlessAskedToStoreTheExecutedOne(bool storeExecuted)
    {
        using var backend = new CpuBackend(1);
        // σ_e = 3 pushes most executed actions outside [−1, 1]; μ_θ(s) = tanh(·) never leaves it.
        var config = TinyConfig with { ExplorationNoise = 3f, StoreExecutedAction = storeExecuted, BatchSize = 8 };
        var agent = new O2Td3Agent(backend, new DeterministicActor(backend, 3, 1, seed: 11, hiddenDims: [5]), config, Seed);
        using var environment = PolicyEnvironment.Make("Pendulum-v1", null);
        using var evaluator = new Evaluator(PolicyEnvironment.Make("Pendulum-v1", null), null, 1);
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 3, 1, 1000, 8, new DeviceRandom(1));
        var options = new OffPolicyLoopOptions { TotalSteps = 50, WarmupSteps = 1000, EvaluateEvery = 0, LogEvery = 0, Seed = 3 };
        new OffPolicyTrainer(environment, evaluator, agent, sampler, options, new MemoryMetrics()).Run();
        Assert.Equal(50, sampler.Online.Count);
        var stored = sampler.Online.DownloadColumns(sampler.Online.Layout.ActionColumn, 1).Take(50).ToArray();
        if (storeExecuted) Assert.Contains(stored, a => Math.Abs(a) > 1f);
        else Assert.All(stored, a => Assert.InRange(a, -1f, 1f));
    }

    [Fact]
    public void TheLoggedLambdaIsTheOneAfterTheLastDualStep()
    {
        using var backend = new CpuBackend(1);
        var config = TinyConfig with { BatchSize = 8 };
        var agent = new O2Td3Agent(backend, new DeterministicActor(backend, 3, 1, seed: 11, hiddenDims: [5]), config, Seed);
        using var environment = PolicyEnvironment.Make("Pendulum-v1", null);
        using var evaluator = new Evaluator(PolicyEnvironment.Make("Pendulum-v1", null), null, 1);
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 3, 1, 1000, 8, new DeviceRandom(1));
        // 20 warm-up steps, then 6 updates: the policy-delayed half of them step λ.
        var options = new OffPolicyLoopOptions { TotalSteps = 26, WarmupSteps = 20, EvaluateEvery = 0, LogEvery = 0, Seed = 3 };
        new OffPolicyTrainer(environment, evaluator, agent, sampler, options, new MemoryMetrics()).Run();
        float afterStep = agent.Lagrange.ReadLambda(), usedByLastActorLoss = backend.ReadScalar(agent.Lagrange.Lambda);
        Assert.NotEqual(afterStep, usedByLastActorLoss);
        var metrics = new MemoryMetrics();
        agent.LogMetrics(metrics, 26);
        // As O2SAC logs it: λ = exp ℓ after the step, not the pre-step value the actor loss used.
        Assert.Equal(afterStep, (float)metrics.Last("losses/lambda"));
    }

    // ───────────────────────────── config ─────────────────────────────

    [Fact]
    public void DefaultsAndShippedConfigsFollowTheTaskTable()
    {
        var defaults = new O2Td3Config();
        Assert.Equal((0.1f, 0.0025f, 0.04f, 100_000L), (defaults.ExplorationNoise, defaults.ThresholdStart, defaults.ThresholdEnd, defaults.ThresholdSteps));
        Assert.Equal((1e-4f, 3e-4f, 0.2f, 0.5f, 2), (defaults.ActorLr, defaults.CriticLr, defaults.PolicyNoise, defaults.NoiseClip, defaults.PolicyDelay));
        Assert.Equal((500_000L, 500_000L, 1_000, 100_000L, 1), (defaults.ReevaluationSteps, defaults.AlignmentSteps, defaults.WarmupSteps, defaults.OnlineSteps, defaults.UpdatesPerStep));
        Assert.Equal((1f, 1f, 0.7f), (defaults.DistanceBeta, defaults.InitialLambda, defaults.LambdaTau));
        Assert.Equal([256, 256], defaults.CriticHidden);
        Assert.True(defaults.CriticLayerNorm && defaults.ReferWithOptimalPi && !defaults.StoreExecutedAction);
        Assert.Equal(OfflineMixing.Half, defaults.BufferMode);
        Assert.Equal("ocr-cft", defaults.Mode);

        O2Td3Config Shipped(string env, string dataset) =>
            ConfigLoader.Resolve(new O2Td3Config(), ConfigLoader.ShippedConfigPath("o2td3", env, dataset) ?? throw new FileNotFoundException($"{env}/{dataset}"), null, []);
        foreach (string env in new[] { "HalfCheetah-v2", "Hopper-v2", "Walker2d-v2" })
        {
            foreach (string dataset in new[] { "medium", "medium-replay" })
            {
                var c = Shipped(env, dataset);
                Assert.Equal((0.1f, 0.0025f, 0.04f, true, 500_000L, 100_000L), (c.ExplorationNoise, c.ThresholdStart, c.ThresholdEnd, c.CriticLayerNorm, c.AlignmentSteps, c.OnlineSteps));
            }
            foreach (string dataset in new[] { "medium-expert", "expert" })
            {
                var c = Shipped(env, dataset);
                Assert.Equal((0.05f, 2.5e-5f, 6.25e-4f, true), (c.ExplorationNoise, c.ThresholdStart, c.ThresholdEnd, c.CriticLayerNorm));
            }
        }
        foreach (var (env, dataset) in new[] { ("antmaze-umaze-v2", "umaze"), ("antmaze-umaze-diverse-v2", "umaze-diverse") })
        {
            var c = Shipped(env, dataset);
            Assert.Equal((false, 1f, -1f, 1_000_000L, 200_000L, 5_000, 100), (c.CriticLayerNorm, c.RewardScale, c.RewardShift, c.AlignmentSteps, c.OnlineSteps, c.EvaluateEvery, c.EvaluationEpisodes));
        }
        Assert.NotNull(ConfigLoader.ShippedConfigPath("o2td3", "Pendulum-v1", "medium"));
    }

    [Fact]
    public void TheUpdateEveryNAblationAdjustsThresholdAndTheListedTasks()
    {
        var faithful = new O2Td3Config();
        Assert.Same(faithful, faithful.ForTask("hopper-expert-v2"));
        var ablation = new O2Td3Config { ReferWithOptimalPi = false };
        var hopper = ablation.ForTask("hopper-medium-expert-v2");
        Assert.Equal((0.01f, 10, 0.25f), (hopper.ThresholdEnd, hopper.UpdateEvery, hopper.ActorMaxGradientNorm));
        var walkerExpert = ablation.ForTask("walker2d-expert-v2");
        Assert.Equal((10, 0.25f), (walkerExpert.UpdateEvery, walkerExpert.ActorMaxGradientNorm));
        var walkerMediumExpert = ablation.ForTask("walker2d-medium-expert-v2");
        Assert.Equal((0.01f, 1, (float?)null), (walkerMediumExpert.ThresholdEnd, walkerMediumExpert.UpdateEvery, walkerMediumExpert.ActorMaxGradientNorm));
        Assert.Throws<ArgumentException>(() => (faithful with { Mode = "fancy" }).Validate());
    }

    // ───────────────────────────── stage files and runs ─────────────────────────────

    [Fact]
    public void StageFileRestoresAnAgentThatContinuesBitIdentically()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2td3-stagefile-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new CpuBackend(1);
            var batch = MakeBatch(backend);
            var original = MakeAgent(backend);
            for (int i = 0; i < 3; i++) original.EvaluationStep(batch);
            for (int i = 0; i < 3; i++) original.AlignmentStep(batch);
            original.FinishAlignment();
            original.BeginOnline();
            original.Update(batch, 1_000_000, 0); // advances λ's Adam too
            string path = Path.Combine(root, O2Td3StageFile.FileName('b'));
            var scores = new O2Td3Score(-500.5, null);
            O2Td3StageFile.Save(path, original, new O2Td3StageProgress("b", scores, new O2Td3Score(-400.25, 12.5), 42), "{}", null, "Pendulum-v1");

            var restored = MakeAgent(backend);
            var progress = O2Td3StageFile.Load(path, restored);
            Assert.Equal(("b", scores, new O2Td3Score(-400.25, 12.5), 42UL), (progress.Stage, progress.OfflineScore, progress.AlignedScore!.Value, progress.OfflineSamplerCounter));
            Assert.Equal(original.IterationCount, restored.IterationCount);
            restored.BeginOnline();
            foreach (var agent in new[] { original, restored })
            {
                agent.AlignmentStep(batch);
                agent.Update(batch, 2_000_000, 0);
                agent.Update(batch, 2_000_001, 0);
            }
            var a = Snapshot(original);
            var b = Snapshot(restored);
            Assert.Equal(a.Actor, b.Actor);
            Assert.Equal(a.ActorTarget, b.ActorTarget);
            Assert.Equal(a.Critic, b.Critic);
            Assert.Equal(a.CriticTarget, b.CriticTarget);
            Assert.Equal(a.LogLambda, b.LogLambda);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    static string WriteDataset(string folder, TransitionDataset dataset)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "pendulum-medium.hdf5");
        D4rlHdf5.Write(dataset, path);
        return path;
    }

    // A small TD3+BC checkpoint on a Pendulum dataset: what O2TD3 starts from.
    static (string Dataset, string Checkpoint) OfflineStart(string root, Backend backend, int episodes = 3)
    {
        string dataset = WriteDataset(root, Td3BcTests.PendulumDataset(episodes, seed: 1, noiseStd: 0.3, randomShare: 0.2));
        var result = Td3BcRun.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = dataset, OutputDirectory = Path.Combine(root, "td3bc"),
            Overrides = ["max_steps=100", "batch_size=32", "actor_hidden=[16,16]", "critic_hidden=[16,16]", "evaluate_every=0", "evaluation_episodes=1", "log_every=50"],
        });
        return (dataset, result.CheckpointPath!);
    }

    static readonly string[] QuickOverrides =
    [
        "reevaluation_steps=40", "alignment_steps=30", "online_steps=400", "warmup_steps=100", "batch_size=32", "critic_hidden=[16,16]",
        "evaluate_every=200", "evaluation_episodes=1", "log_every=100", "threshold_steps=400",
    ];

    static RunResult RunO2Td3(Backend backend, string dataset, string checkpoint, string? folder, MemoryMetrics metrics, params string[] extra) =>
        O2Td3Run.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = dataset, InitialCheckpoint = checkpoint, OutputDirectory = folder,
            Metrics = metrics, Overrides = [.. QuickOverrides, .. extra],
        });

    static Dictionary<string, float[]> Tensors(string path) => SafetensorsFile.Read(path).Tensors.ToDictionary(t => t.Key, t => t.Value.Data);

    static void AssertSameTensors(string expectedPath, string actualPath)
    {
        var expected = Tensors(expectedPath);
        var actual = Tensors(actualPath);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var name in expected.Keys) Assert.True(expected[name].SequenceEqual(actual[name]), $"{Path.GetFileName(actualPath)}: tensor {name} differs");
    }

    [Fact]
    public void ResumingAfterStageAOrStageBEqualsTheUninterruptedRun()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2td3-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new CpuBackend(1);
            var (dataset, checkpoint) = OfflineStart(root, backend);
            string full = Path.Combine(root, "full");
            var uninterrupted = RunO2Td3(backend, dataset, checkpoint, full, new MemoryMetrics());
            foreach (string file in new[] { "stage-a.safetensors", "stage-b.safetensors", "o2td3.safetensors", "config.json" })
                Assert.True(File.Exists(Path.Combine(full, file)), file);
            // The stage files hold the targets (critic AND actor), μ_off, μ_ref, optimiser moments and log λ.
            var stageA = SafetensorsFile.Read(Path.Combine(full, "stage-a.safetensors"));
            foreach (string name in new[] { "critic_target.network.0.weight", "actor_target.net.0.weight", "offline_actor.net.0.weight", "reference.net.0.weight",
                "optimizer.critic.first_moment", "optimizer.actor.second_moment", "optimizer.lambda.first_moment", "log_lambda" })
                Assert.Contains(name, stageA.Tensors.Keys);
            Assert.Equal("0", stageA.Metadata["iteration_count"]);
            Assert.Equal("30", SafetensorsFile.Read(Path.Combine(full, "stage-b.safetensors")).Metadata["iteration_count"]);

            foreach (string stage in new[] { "stage-a", "stage-b" })
            {
                string resumed = Path.Combine(root, "from-" + stage);
                Directory.CreateDirectory(resumed);
                File.Copy(Path.Combine(full, stage + ".safetensors"), Path.Combine(resumed, stage + ".safetensors"));
                var metrics = new MemoryMetrics();
                var result = RunO2Td3(backend, dataset, checkpoint, resumed, metrics);
                AssertSameTensors(Path.Combine(full, "stage-b.safetensors"), Path.Combine(resumed, "stage-b.safetensors"));
                AssertSameTensors(Path.Combine(full, "o2td3.safetensors"), result.CheckpointPath!);
                Assert.Equal(uninterrupted.FinalEvaluation!.MeanReturn, result.FinalEvaluation!.MeanReturn);
                Assert.Equal(0, metrics.Series("eval/return")[0].Step);
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void OnATaskWithReferenceScoresTheTableGetsTheNormalisedAlignedScore()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2td3-normalized-" + Guid.NewGuid().ToString("N"));
        string scoreTask = "pendulum-test-" + Guid.NewGuid().ToString("N");
        try
        {
            using var backend = new CpuBackend(1);
            var (dataset, checkpoint) = OfflineStart(root, backend);
            string folder = Path.Combine(root, "run");
            var metrics = new MemoryMetrics();
            // Pendulum returns scored against reference scores registered for it: any task with references takes this path.
            // (A D4RL id of another body, e.g. hopper-medium-v2, is refused by the evaluator.)
            NormalizedScores.Register(scoreTask, -1500, -150);
            var result = O2Td3Run.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = dataset, InitialCheckpoint = checkpoint, OutputDirectory = folder,
                Metrics = metrics, Overrides = QuickOverrides, ScoreTaskId = scoreTask,
            });
            double raw = metrics.Last(FineTuneTable.AlignedScore);
            double normalized = metrics.Last(FineTuneTable.AlignedNormalizedScore);
            Assert.Equal(NormalizedScores.Normalize(scoreTask, raw), normalized, 6);
            // The offline score is the raw return, as the curve's first raw point.
            Assert.Equal(metrics.Series("eval/return")[0].Value, metrics.Last(FineTuneTable.OfflineScore));
            Assert.NotNull(result.FinalEvaluation!.NormalizedMean);
        }
        finally
        {
            NormalizedScores.Unregister(scoreTask);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void TwoRunsWithOneSeedAreBitIdenticalAndTheCurveStartsAtTheOfflineScore()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2td3-e2e-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new CpuBackend(1);
            var (dataset, checkpoint) = OfflineStart(root, backend);
            var clock = Stopwatch.StartNew();
            var metrics = new MemoryMetrics();
            var first = RunO2Td3(backend, dataset, checkpoint, Path.Combine(root, "a"), metrics);
            var second = RunO2Td3(backend, dataset, checkpoint, Path.Combine(root, "b"), new MemoryMetrics());
            AssertSameTensors(first.CheckpointPath!, second.CheckpointPath!);

            // The curve starts with the loaded actor's score, measured as an independent evaluation would.
            var (actor, normalizer) = Td3Checkpoint.LoadActor(backend, checkpoint);
            using var evaluator = new Evaluator(PolicyEnvironment.Make("Pendulum-v1", normalizer), "Pendulum-v1", Envs.EnvRandom.DeriveSeed(4, 1_000_003));
            double offline = evaluator.Evaluate(new DeterministicActorPolicy(actor, 0f, true, new DeviceRandom(0)), 1).MeanReturn;
            var curve = metrics.Series("eval/return");
            Assert.Equal((0L, offline), (curve[0].Step, curve[0].Value));
            Assert.Equal(offline, metrics.Last("eval/offline_score"));
            Assert.Equal([0L, 200L, 400L], curve.Select(p => p.Step));
            Assert.All(curve, p => Assert.True(double.IsFinite(p.Value)));
            foreach (string name in new[] { "stage/a_qf_loss", "stage/b_qf_loss", "stage/b_actor_loss", "eval/aligned_score", "losses/qf_loss", "losses/actor_loss",
                "losses/lambda", "losses/lambda_loss", "charts/threshold", "charts/reference_replaced" })
                Assert.Contains(metrics.Rows, r => r.Name == name && double.IsFinite(r.Value));
            Assert.All(metrics.Series("losses/lambda"), p => Assert.True(p.Value > 0));
            // The initial reference choice (§1.6) is logged at step 0, as O2SAC's: the aligned actor only when strictly better.
            var initialChoice = metrics.Series("charts/reference_replaced")[0];
            Assert.Equal(0L, initialChoice.Step);
            Assert.Equal(metrics.Last("eval/aligned_score") > offline ? 1.0 : 0.0, initialChoice.Value);
            TestContext.Current.SendDiagnosticMessage($"O2TD3 quick Pendulum run: {clock.Elapsed.TotalSeconds:F1} s for two runs; curve {string.Join(", ", curve.Select(p => $"{p.Step}: {p.Value:F0}"))}");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void BaselinesRunInTheSameHarness()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2td3-baselines-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new CpuBackend(1);
            var (dataset, checkpoint) = OfflineStart(root, backend);

            // offline: only the loaded actor's score.
            var offlineMetrics = new MemoryMetrics();
            var offline = RunO2Td3(backend, dataset, checkpoint, null, offlineMetrics, "mode=offline");
            Assert.Single(offlineMetrics.Series("eval/return"));
            Assert.DoesNotContain(offlineMetrics.Rows, r => r.Name.StartsWith("losses/", StringComparison.Ordinal));

            // naive: plain TD3 from the loaded actor; its curve starts at the same offline score.
            var naiveMetrics = new MemoryMetrics();
            var naive = RunO2Td3(backend, dataset, checkpoint, Path.Combine(root, "naive"), naiveMetrics, "mode=naive");
            Assert.Equal(offline.FinalEvaluation!.MeanReturn, naiveMetrics.Series("eval/return")[0].Value);
            Assert.Contains(naiveMetrics.Rows, r => r.Name == "losses/actor_loss");
            Assert.DoesNotContain(naiveMetrics.Rows, r => r.Name == "stage/a_qf_loss" || r.Name == "losses/lambda");
            Assert.True(double.IsFinite(naive.FinalEvaluation!.MeanReturn));

            // scratch: plain TD3 from random weights (no checkpoint needed).
            var scratch = O2Td3Run.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = dataset, Overrides = [.. QuickOverrides, "mode=scratch", "scratch_actor_hidden=[16,16]"],
            });
            Assert.True(double.IsFinite(scratch.FinalEvaluation!.MeanReturn));

            // naive with O2TD3's own critic settings (LayerNorm on, as in every shipped config, and wider): the TD3+BC
            // critics (2 × 16, no LayerNorm) are loaded in their own architecture. With the warm-up longer than the run
            // no update happens, so the final checkpoint holds exactly the loaded critics and their targets.
            var progress = new StringWriter();
            var loaded = O2Td3Run.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = dataset, InitialCheckpoint = checkpoint, Progress = progress,
                OutputDirectory = Path.Combine(root, "naive-critics"),
                Overrides = [.. QuickOverrides, "mode=naive", "critic_layer_norm=true", "critic_hidden=[32,32]", "online_steps=150", "warmup_steps=1000"],
            });
            Assert.Contains("loaded the checkpoint's actor and critics", progress.ToString());
            var file = SafetensorsFile.Read(checkpoint);
            var saved = SafetensorsFile.Read(loaded.CheckpointPath!);
            var criticNames = file.Tensors.Keys.Where(k => k.StartsWith("critic", StringComparison.Ordinal)).ToList();
            Assert.Contains("critic_target.network.0.weight", criticNames);
            foreach (string name in criticNames) Assert.Equal(file.Tensors[name].Data, saved.Tensors[name].Data);

            // HasCompatibleCritics: the TD3+BC critics fit plain TD3 networks only with their own critic settings.
            var withLayerNorm = new Td3Networks(backend, 3, 1, [16, 16], [16, 16], criticLayerNorm: true, 1e-3f, 1e-3f, 1);
            var withoutLayerNorm = new Td3Networks(backend, 3, 1, [16, 16], [16, 16], criticLayerNorm: false, 1e-3f, 1e-3f, 1);
            Assert.False(O2Td3Run.HasCompatibleCritics(file, withLayerNorm));
            Assert.True(O2Td3Run.HasCompatibleCritics(file, withoutLayerNorm));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void TheSharedEvaluationInstanceQuirkEndsTheTrainingEpisodeAfterEachEvaluation()
    {
        // ALGORITHMS.md §8: the release evaluates on the training instance mid-episode; the training episode then ends on
        // its next step. Pendulum episodes last 200 steps; evaluations at 150 and 300 cut them to 151 and 150 steps.
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2td3-shared-eval-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new CpuBackend(1);
            var (dataset, checkpoint) = OfflineStart(root, backend);
            string[] run = ["mode=naive", "evaluate_every=150", "evaluation_episodes=1"];
            var separate = new MemoryMetrics();
            RunO2Td3(backend, dataset, checkpoint, null, separate, run);
            var shared = new MemoryMetrics();
            RunO2Td3(backend, dataset, checkpoint, null, shared, [.. run, "shared_eval_env=true"]);

            Assert.Equal([(200L, 200.0), (400L, 200.0)], separate.Series("charts/episodic_length").Select(p => (p.Step, p.Value)));
            Assert.Equal([(151L, 151.0), (301L, 150.0)], shared.Series("charts/episodic_length").Select(p => (p.Step, p.Value)));
            // The first evaluation sees the same policy and the same seeded episode either way.
            var separateCurve = separate.Series("eval/return");
            var sharedCurve = shared.Series("eval/return");
            Assert.Equal([0L, 150L, 300L, 400L], sharedCurve.Select(p => p.Step));
            Assert.Equal(separateCurve.Take(2), sharedCurve.Take(2));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void APyTorchTd3BcActorIsNormalisedWithTheDatasetConstants()
    {
        // CORL's TD3+BC trains on states normalised with the dataset's mean and std + 1e-3 but saves only the
        // state_dict. The same actor saved that way (no "actor." prefix, no obs_mean/obs_std, no metadata) must see the
        // states our checkpoint's constants give it: same offline score, and a note saying where the constants came from.
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2td3-pytorch-norm-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new CpuBackend(1);
            var (dataset, checkpoint) = OfflineStart(root, backend);
            var ours = SafetensorsFile.Read(checkpoint);
            Assert.Contains("obs_mean", ours.Tensors.Keys);
            string pytorch = Path.Combine(root, "td3bc-actor-state-dict.safetensors");
            SafetensorsFile.Write(pytorch, ours.Tensors.Values
                .Where(t => t.Name.StartsWith("actor.net.", StringComparison.Ordinal))
                .Select(t => new NamedTensor(t.Name["actor.".Length..], t.Shape, t.Data)).ToList(), null);

            double OfflineScore(string start, StringWriter? progress = null)
            {
                var metrics = new MemoryMetrics();
                O2Td3Run.Run(new RunContext
                {
                    Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = dataset, InitialCheckpoint = start, Metrics = metrics,
                    Progress = progress, Overrides = [.. QuickOverrides, "mode=offline", "evaluation_episodes=2"],
                });
                return metrics.Series("eval/return")[0].Value;
            }
            var progress = new StringWriter();
            double fromPyTorch = OfflineScore(pytorch, progress);
            Assert.Equal(OfflineScore(checkpoint), fromPyTorch, 3);
            Assert.Contains("normalised with the dataset's mean and std", progress.ToString());

            // Without the dataset's constants (normalize_states=false) the same file sees raw states and acts differently.
            var raw = new MemoryMetrics();
            O2Td3Run.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = dataset, InitialCheckpoint = pytorch, Metrics = raw,
                Overrides = [.. QuickOverrides, "mode=offline", "evaluation_episodes=2", "normalize_states=false"],
            });
            Assert.NotEqual(fromPyTorch, raw.Series("eval/return")[0].Value);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    [Trait("Category", "Learning")]
    public void FineTunesTheShippedPendulumMediumConfigFromTd3Bc()
    {
        // The shipped settings end to end: TD3+BC (configs/td3_bc/pendulum-v1/default.yaml) on the shipped medium dataset, then
        // O2TD3 with configs/o2td3/pendulum-v1/default.yaml (stage A 3,000, stage B 2,000, 15,000 online steps, 2 × 64 critics).
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2td3-learning-" + Guid.NewGuid().ToString("N"));
        try
        {
            string dataset = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset");
            using var backend = new CpuBackend(2);
            var clock = Stopwatch.StartNew();
            var offline = Td3BcRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 0, DatasetPath = dataset, OutputDirectory = Path.Combine(root, "td3bc"),
            });
            double offlineSeconds = clock.Elapsed.TotalSeconds;
            var metrics = new MemoryMetrics();
            var tuned = O2Td3Run.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 0, DatasetPath = dataset, InitialCheckpoint = offline.CheckpointPath,
                OutputDirectory = Path.Combine(root, "o2td3"), Metrics = metrics,
            });
            var curve = metrics.Series("eval/return");
            double start = curve[0].Value, final = tuned.FinalEvaluation!.MeanReturn;
            TestContext.Current.SendDiagnosticMessage(
                $"O2TD3 Pendulum-v1 medium: TD3+BC {offlineSeconds:F0} s; offline {start:F0}, aligned {metrics.Last("eval/aligned_score"):F0}, " +
                $"curve {string.Join(", ", curve.Select(p => $"{p.Step}: {p.Value:F0}"))}; λ {metrics.Last("losses/lambda"):F3}; total {clock.Elapsed.TotalSeconds:F0} s");
            Assert.Equal(0, curve[0].Step);
            Assert.All(curve, p => Assert.True(double.IsFinite(p.Value)));
            // Constrained fine-tuning must not collapse: the final policy stays within 150 of the offline return or better.
            Assert.True(final >= start - 150, $"final return {final:F0} collapsed below the offline return {start:F0}");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
