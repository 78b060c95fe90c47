using O2RL.Algorithms.Configs;
using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Training;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using Xunit;
using Ref = O2RL.Algorithms.Tests.SoftActorCriticReference;

namespace O2RL.Algorithms.Tests;

public sealed class O2SacTests
{
    const int ObsDim = 3, ActionDim = 2, B = 4;
    const double Gamma = 0.99;
    static readonly float[] S = [0.5f, -1f, 0.2f, 1.5f, 0.3f, -0.7f, -0.4f, 0.9f, 1.1f, 0f, -1.2f, 0.6f];
    static readonly float[] A = [0.3f, -0.8f, 0.9f, 0.1f, -0.5f, 0.4f, 0f, -0.2f];
    static readonly float[] R = [1f, -0.5f, 2f, 0.25f];
    static readonly float[] S2 = [0.4f, -0.9f, 0.3f, 1.2f, 0.5f, -0.6f, -0.1f, 1f, 0.8f, 0.2f, -1f, 0.4f];
    static readonly float[] M = [0f, 1f, 0f, 0f];

    static O2SacConfig TinyConfig => new()
    {
        BatchSize = B, CriticHidden = [6, 5], CriticLayerNorm = false, Alpha = 0.5f, Lambda = 1.5f,
        ThresholdStart = 0.1f, ThresholdEnd = 2f, ThresholdSteps = 100,
    };

    /// <summary>A learner with tiny networks whose targets differ from the critics (so target use is visible).</summary>
    static O2SacLearner TinyLearner(Backend backend, O2SacConfig? config = null)
    {
        var starting = new TanhGaussianActor(backend, ObsDim, ActionDim, seed: 17, hiddenDims: [5, 4]);
        var learner = new O2SacLearner(backend, starting, config ?? TinyConfig, seed: 3);
        var other = new O2SacLearner(backend, starting, config ?? TinyConfig, seed: 9);
        learner.Sac.TargetCritic.Parameters.CopyValuesFrom(other.Sac.Critic.Parameters);
        return learner;
    }

    static TransitionBatch Batch(Backend backend) => Ref.Batch(backend, S, A, R, S2, M, ObsDim, ActionDim);

    static double Softplus(double x) => Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x)));

    /// <summary>
    /// Double-precision log π(a|s) of given actions (clamped to ±(1 − 1e-4) before atanh); with
    /// <paramref name="atPreImage"/> the unclamped atanh a, which in double is the sample's own u for |u| up to ~18.
    /// </summary>
    static double[] LogProbOf(Ref.Net actor, double[] s, double[] a, int rows, bool atPreImage = false)
    {
        var head = Ref.Mlp(actor, 0, s, rows);
        double m = actor.Scalar("log_std_multiplier.constant"), o = actor.Scalar("log_std_offset.constant");
        var logProb = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < ActionDim; j++)
            {
                double mu = head[r * 2 * ActionDim + j], rho = head[r * 2 * ActionDim + ActionDim + j];
                double logStd = Math.Clamp(m * rho + o, -20, 2);
                double action = atPreImage ? a[r * ActionDim + j] : Math.Clamp(a[r * ActionDim + j], -(1 - 1e-4), 1 - 1e-4);
                double u = Math.Atanh(action), z = (u - mu) / Math.Exp(logStd);
                logProb[r] += -0.5 * z * z - logStd - 0.5 * Math.Log(2 * Math.PI) - 2 * (Math.Log(2) - u - Softplus(-2 * u));
            }
        return logProb;
    }

    /// <summary>clamp(tanh μ(s), ±0.9999) in double.</summary>
    static double[] DeterministicAction(Ref.Net actor, double[] s, int rows)
    {
        var head = Ref.Mlp(actor, 0, s, rows);
        var a = new double[rows * ActionDim];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < ActionDim; j++) a[r * ActionDim + j] = Math.Clamp(Math.Tanh(head[r * 2 * ActionDim + j]), -0.9999, 0.9999);
        return a;
    }

    static double SumOfMse(double[][] q, double[] y) => q.Sum(qe => Enumerable.Range(0, y.Length).Average(i => (qe[i] - y[i]) * (qe[i] - y[i])));

    static void AssertClose(double expected, float actual, string what, double relative = 1e-4) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected}, device {actual}");

    // ───────────────────────────── stage A ─────────────────────────────

    [Fact]
    public void AnAlignedActorUnderTheOfflineOneIsNamedWithBothScores()
    {
        string note = O2SacRun.AlignedBelowOfflineNote(38.6, 2.1);
        Assert.Contains("2.10 < 38.60", note);
        Assert.Contains("π_off stays π_ref", note);
        Assert.Contains("-300.00 < -150.00", O2SacRun.AlignedBelowOfflineNote(-150, -300));
        string aligned = O2SacRun.AlignedBelowOfflineNote(38.6, 37.2, alignedIsReference: true);
        Assert.Contains("37.20 < 38.60", aligned);
        Assert.Contains("π_ref all the same (initial_reference, initial_reference_tolerance)", aligned);
        Assert.DoesNotContain("π_off stays", aligned);
    }

    [Fact]
    public void StageACriticLossMatchesDoublePrecisionAndOnlyCriticsAndTargetsMove()
    {
        using var backend = new CpuBackend(1);
        var learner = TinyLearner(backend);
        var sac = learner.Sac;
        var offline = Ref.Net.Of(learner.OfflineActor.Parameters, 1);
        var critic = Ref.Net.Of(sac.Critic.Parameters, 2);
        var target = Ref.Net.Of(sac.TargetCritic.Parameters, 2);
        var actorBefore = sac.Actor.Parameters.Values.ToArray();
        var noise = Ref.Normal(backend, sac.UpdateRandom.Seed, sac.UpdateRandom.Counter, B * ActionDim);

        learner.PolicyEvaluationStep(Batch(backend));

        // y = r + γ(1 − m)[Q̄min(s′, ã′) − α_A log π_off(ã′|s′)], ã′ ~ π_off.
        var (a2, logp2) = Ref.Sample(offline, Ref.D(S2), B, ActionDim, noise);
        var qNext = Ref.Min(Ref.Q(target, Ref.D(S2), a2, B, ObsDim, ActionDim));
        var y = Enumerable.Range(0, B).Select(i => R[i] + Gamma * (1 - M[i]) * (qNext[i] - 0.5 * logp2[i])).ToArray();
        double expected = SumOfMse(Ref.Q(critic, Ref.D(S), Ref.D(A), B, ObsDim, ActionDim), y);
        AssertClose(expected, backend.ReadScalar(sac.CriticLoss), "stage A L_Q");
        // Actors untouched, α fixed, critics stepped, targets Polyak-averaged toward them.
        Assert.Equal(actorBefore, sac.Actor.Parameters.Values.ToArray());
        Assert.Equal(offline.Values.Select(v => (float)v), learner.OfflineActor.Parameters.Values.ToArray());
        Assert.Equal(MathF.Log(0.5f), backend.ReadScalar(sac.LogAlpha));
        Assert.NotEqual(critic.Values.Select(v => (float)v), sac.Critic.Parameters.Values.ToArray());
        var criticAfter = sac.Critic.Parameters.Values.ToArray();
        var targetAfter = sac.TargetCritic.Parameters.Values.ToArray();
        for (int i = 0; i < targetAfter.Length; i++)
            Assert.Equal(0.995 * target.Values[i] + 0.005 * criticAfter[i], targetAfter[i], 1e-6);
    }

    // ───────────────────────────── stage B ─────────────────────────────

    /// <summary>Double L_Q and L_π of one alignment step (α_A = 0.5).</summary>
    static (double Critic, double Actor) AlignmentReference(Ref.Net online, Ref.Net offline, Ref.Net critic, Ref.Net target, float[] noise0, float[] noise1)
    {
        var s = Ref.D(S);
        var anchor = DeterministicAction(offline, s, B);
        var anchorLogProb = LogProbOf(offline, s, anchor, B);
        var (candidate, _) = Ref.Sample(online, s, B, ActionDim, noise0);
        var candidateOfflineLogProb = LogProbOf(offline, s, candidate, B);       // no −50 floor in stage B
        var anchorValue = Ref.Min(Ref.Q(target, s, anchor, B, ObsDim, ActionDim));
        var candidateTarget = Ref.Min(Ref.Q(target, s, candidate, B, ObsDim, ActionDim));
        var y = Enumerable.Range(0, B).Select(i => Math.Min(anchorValue[i] - 0.5 * (anchorLogProb[i] - candidateOfflineLogProb[i]), candidateTarget[i])).ToArray();
        double criticLoss = SumOfMse(Ref.Q(critic, s, candidate, B, ObsDim, ActionDim), y) + SumOfMse(Ref.Q(critic, s, anchor, B, ObsDim, ActionDim), anchorValue);
        var (action, logProb) = Ref.Sample(online, s, B, ActionDim, noise1);
        var q = Ref.Min(Ref.Q(critic, s, action, B, ObsDim, ActionDim));
        return (criticLoss, Enumerable.Range(0, B).Average(i => 0.5 * logProb[i] - q[i]));
    }

    [Fact]
    public void StageBLossesMatchDoublePrecisionWithoutTheFloorAndTargetsStayFrozen()
    {
        using var backend = new CpuBackend(1);
        var learner = TinyLearner(backend);
        var sac = learner.Sac;
        // A very narrow π_off makes log π_off(â|s) of the online samples far below −50: a floor would change y_align.
        learner.OfflineActor.Parameters.Write("log_std_offset.constant", [-7f]);
        var online = Ref.Net.Of(sac.Actor.Parameters, 1);
        var offline = Ref.Net.Of(learner.OfflineActor.Parameters, 1);
        var critic = Ref.Net.Of(sac.Critic.Parameters, 2);
        var target = Ref.Net.Of(sac.TargetCritic.Parameters, 2);
        ulong counter = sac.UpdateRandom.Counter;
        var noise0 = Ref.Normal(backend, sac.UpdateRandom.Seed, counter, B * ActionDim);
        var noise1 = Ref.Normal(backend, sac.UpdateRandom.Seed, counter + B * ActionDim, B * ActionDim);
        Assert.True(LogProbOf(offline, Ref.D(S), Ref.Sample(online, Ref.D(S), B, ActionDim, noise0).Action, B).Min() < -50);

        learner.ValueAlignmentStep(Batch(backend).Observations);

        var expected = AlignmentReference(online, offline, critic, target, noise0, noise1);
        AssertClose(expected.Critic, backend.ReadScalar(learner.AlignmentLoss), "stage B L_Q");
        AssertClose(expected.Actor, backend.ReadScalar(sac.ActorLoss), "stage B L_π");
        // Critic gradient against central differences of the double loss.
        var gradient = sac.Critic.Parameters.Gradients.ToArray();
        double h = 1e-4;
        foreach (int i in new[] { 0, 9, 33, critic.Values.Length / 2 + 4, critic.Values.Length - 1 })
        {
            double[] plus = (double[])critic.Values.Clone(), minus = (double[])critic.Values.Clone();
            plus[i] += h; minus[i] -= h;
            double numeric = (AlignmentReference(online, offline, critic.With(plus), target, noise0, noise1).Critic
                - AlignmentReference(online, offline, critic.With(minus), target, noise0, noise1).Critic) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[i]) < 2e-3 * Math.Max(1, Math.Abs(numeric)), $"critic ∂L/∂θ[{i}]: numeric {numeric}, device {gradient[i]}");
        }
        // Targets frozen, π_off untouched, α fixed; actor and critics stepped.
        Assert.Equal(target.Values.Select(v => (float)v), sac.TargetCritic.Parameters.Values.ToArray());
        Assert.Equal(offline.Values.Select(v => (float)v), learner.OfflineActor.Parameters.Values.ToArray());
        Assert.Equal(MathF.Log(0.5f), backend.ReadScalar(sac.LogAlpha));
        Assert.NotEqual(online.Values.Select(v => (float)v), sac.Actor.Parameters.Values.ToArray());
        Assert.NotEqual(critic.Values.Select(v => (float)v), sac.Critic.Parameters.Values.ToArray());
        // The end of stage B copies the critics into the targets.
        learner.FinishAlignment();
        Assert.Equal(sac.Critic.Parameters.Values.ToArray(), sac.TargetCritic.Parameters.Values.ToArray());
    }

    // ───────────────────────────── stage C ─────────────────────────────

    /// <summary>Double L_π, L_α, L_Q and the dual weight w of one constrained update.</summary>
    static (double Actor, double Alpha, double Critic, double DualWeight) ConstrainedReference(Ref.Net actor, Ref.Net reference, Ref.Net critic, Ref.Net target,
        double logAlpha, double lambda, double threshold, float[] noise0, float[] noise1, bool atPreImage = false)
    {
        double alpha = Math.Exp(logAlpha);
        var s = Ref.D(S); var s2 = Ref.D(S2);
        var (action, logProb) = Ref.Sample(actor, s, B, ActionDim, noise0);
        var referenceLogProb = LogProbOf(reference, s, action, B, atPreImage).Select(v => Math.Max(-50, v)).ToArray();
        var q = Ref.Min(Ref.Q(critic, s, action, B, ObsDim, ActionDim));
        double actorLoss = Enumerable.Range(0, B).Average(i => alpha * logProb[i] - q[i] + lambda * (logProb[i] - referenceLogProb[i]));
        double alphaLoss = -logAlpha * (logProb.Average() - ActionDim);
        double dualWeight = Enumerable.Range(0, B).Average(i =>
        {
            double u = threshold - (logProb[i] - referenceLogProb[i]);
            return (u > 0 ? 0.3 : 0.7) * u;
        });
        var (action2, logProb2) = Ref.Sample(actor, s2, B, ActionDim, noise1);
        var referenceLogProb2 = LogProbOf(reference, s2, action2, B, atPreImage).Select(v => Math.Max(-50, v)).ToArray();
        var qNext = Ref.Min(Ref.Q(target, s2, action2, B, ObsDim, ActionDim));
        var y = Enumerable.Range(0, B).Select(i => R[i] + Gamma * (1 - M[i]) * (qNext[i] - alpha * logProb2[i] - lambda * (logProb2[i] - referenceLogProb2[i]))).ToArray();
        return (actorLoss, alphaLoss, SumOfMse(Ref.Q(critic, s, Ref.D(A), B, ObsDim, ActionDim), y), dualWeight);
    }

    /// <summary>A learner whose reference differs from its actor; a narrow reference puts some ℓ_ref below the floor.</summary>
    static O2SacLearner ConstrainedLearner(Backend backend, float referenceLogStdOffset, O2SacConfig? config = null)
    {
        var learner = TinyLearner(backend, config);
        var otherActor = new TanhGaussianActor(backend, ObsDim, ActionDim, seed: 41, hiddenDims: [5, 4]);
        learner.ReferenceActor.Parameters.CopyValuesFrom(otherActor.Parameters);
        learner.ReferenceActor.Parameters.Write("log_std_offset.constant", [referenceLogStdOffset]);
        return learner;
    }

    [Theory]
    [InlineData(-1f)]      // every ℓ_ref above the floor
    [InlineData(-3.2f)]    // a narrow reference: some ℓ_ref floored at −50 (no gradient there)
    public void StageCLossesMatchDoublePrecisionAndTheActorGradientFlowsThroughTheReferenceDensity(float referenceOffset)
    {
        using var backend = new CpuBackend(1);
        var learner = ConstrainedLearner(backend, referenceOffset);
        AssertConstrainedUpdateMatchesDouble(backend, learner, referenceOffset < -3 ? (1, B - 1) : (0, 0), atPreImage: false);
    }

    /// <summary>Sets the first action coordinate's mean to <paramref name="mean"/> at every state (last layer row and bias).</summary>
    static void SaturateFirstCoordinate(TanhGaussianActor actor, float mean)
    {
        string last = $"base_network.{2 * actor.Network.Spec.HiddenDims.Length}";
        var weight = actor.Parameters.Read($"{last}.weight");
        var bias = actor.Parameters.Read($"{last}.bias");
        int inputs = weight.Length / bias.Length;
        Array.Clear(weight, 0, inputs);   // row 0 of [2d, hidden]
        bias[0] = mean;
        actor.Parameters.Write($"{last}.weight", weight);
        actor.Parameters.Write($"{last}.bias", bias);
    }

    /// <summary>
    /// reference_log_density = pre-image: with both actors' first coordinate saturated (μ = 7, beyond atanh(1 − 1e-4) =
    /// 4.95), ℓ_ref is scored at each sample's own u, and the update matches the double reference that does so (losses
    /// and the pathwise gradient into the actor), while the release's clamped form gives other losses.
    /// </summary>
    [Fact]
    public void StageCWithTheReferenceAtThePreImageScoresASaturatedActorExactly()
    {
        using var backend = new CpuBackend(1);
        var learner = ConstrainedLearner(backend, -1f, TinyConfig with { ReferenceLogDensity = O2SacConfig.ReferenceAtPreImage });
        SaturateFirstCoordinate(learner.Sac.Actor, 7f);
        SaturateFirstCoordinate(learner.ReferenceActor, 6.5f);
        AssertConstrainedUpdateMatchesDouble(backend, learner, (0, 0), atPreImage: true);
    }

    /// <summary>
    /// At π_θ = π_ref the divergence log π_θ(ã) − ℓ_ref is 0; scored at the pre-image it stays near 0 for an actor
    /// whose means lie beyond 4.95, so λ falls (Div &lt; ε); the release's clamped form reads such samples as far from
    /// the actor itself, and λ rises.
    /// </summary>
    [Theory]
    [InlineData("pre-image", false)]
    [InlineData("action", true)]
    public void AtTheReferenceItselfLambdaRisesOnlyWhenSaturatedSamplesAreClampedFirst(string referenceLogDensity, bool lambdaRises)
    {
        using var backend = new CpuBackend(1);
        var learner = TinyLearner(backend, TinyConfig with { ReferenceLogDensity = referenceLogDensity });
        SaturateFirstCoordinate(learner.Sac.Actor, 9f);
        learner.ReplaceReference();
        float before = backend.ReadScalar(learner.Lambda.Lambda);
        learner.ConstrainedUpdate(Batch(backend), environmentStep: 0, updateIndex: 0);
        learner.Lambda.Refresh();
        float after = backend.ReadScalar(learner.Lambda.Lambda);
        Assert.True(lambdaRises ? after > before : after < before, $"{referenceLogDensity}: λ {before} → {after}");
    }

    [Fact]
    public void ReferenceLogDensityIsCheckedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => (new O2SacConfig() with { ReferenceLogDensity = "preimage" }).Validate());
        Assert.Contains("reference_log_density 'preimage'", error.Message, StringComparison.Ordinal);
        var parsed = ConfigLoader.Resolve(new O2SacConfig(), null, null, ["reference_log_density=pre-image"]);
        Assert.Equal(O2SacConfig.ReferenceAtPreImage, parsed.ReferenceLogDensity);
        Assert.Equal(O2SacConfig.ReferenceAtAction, new O2SacConfig().ReferenceLogDensity);
    }

    /// <summary>
    /// One constrained update at t = 40, k = 0 against <see cref="ConstrainedReference"/>: L_π, L_α, L_Q, L_λ and
    /// finite-difference actor and critic gradients; <paramref name="flooredRange"/> bounds how many ℓ_ref of the
    /// current-state sample lie under the −50 floor.
    /// </summary>
    static void AssertConstrainedUpdateMatchesDouble(CpuBackend backend, O2SacLearner learner, (int Min, int Max) flooredRange, bool atPreImage)
    {
        var sac = learner.Sac;
        var actor = Ref.Net.Of(sac.Actor.Parameters, 1);
        var reference = Ref.Net.Of(learner.ReferenceActor.Parameters, 1);
        var critic = Ref.Net.Of(sac.Critic.Parameters, 2);
        var target = Ref.Net.Of(sac.TargetCritic.Parameters, 2);
        ulong counter = sac.UpdateRandom.Counter;
        var noise0 = Ref.Normal(backend, sac.UpdateRandom.Seed, counter, B * ActionDim);
        var noise1 = Ref.Normal(backend, sac.UpdateRandom.Seed, counter + B * ActionDim, B * ActionDim);
        const long t = 40;
        double threshold = 0.1 + (2 - 0.1) * t / 100.0;
        double logAlpha = Math.Log(0.5), lambda = 1.5;
        var floored = LogProbOf(reference, Ref.D(S), Ref.Sample(actor, Ref.D(S), B, ActionDim, noise0).Action, B, atPreImage).Count(v => v < -50);
        Assert.InRange(floored, flooredRange.Min, flooredRange.Max);

        learner.ConstrainedUpdate(Batch(backend), t, updateIndex: 0);

        var expected = ConstrainedReference(actor, reference, critic, target, logAlpha, lambda, threshold, noise0, noise1, atPreImage);
        if (atPreImage)
        {
            // The release's clamped form is another function here: the test can tell the two apart.
            var clamped = ConstrainedReference(actor, reference, critic, target, logAlpha, lambda, threshold, noise0, noise1, atPreImage: false);
            Assert.True(Math.Abs(clamped.Critic - expected.Critic) > 1e-2 * Math.Abs(expected.Critic), $"L_Q {expected.Critic} (pre-image) against {clamped.Critic} (clamped)");
        }
        AssertClose(expected.Actor, backend.ReadScalar(sac.ActorLoss), "L_π");
        AssertClose(expected.Alpha, backend.ReadScalar(sac.AlphaLoss), "L_α");
        AssertClose(expected.Critic, backend.ReadScalar(sac.CriticLoss), "L_Q");
        AssertClose(lambda * expected.DualWeight, backend.ReadScalar(learner.Lambda.Loss), "L_λ");
        double h = 1e-4;
        var actorGradient = sac.Actor.Parameters.Gradients.ToArray();
        foreach (int i in new[] { 0, 7, 19, 30, actor.Values.Length - 5, actor.Values.Length - 2, actor.Values.Length - 1 })
        {
            double[] plus = (double[])actor.Values.Clone(), minus = (double[])actor.Values.Clone();
            plus[i] += h; minus[i] -= h;
            double numeric = (ConstrainedReference(actor.With(plus), reference, critic, target, logAlpha, lambda, threshold, noise0, noise1, atPreImage).Actor
                - ConstrainedReference(actor.With(minus), reference, critic, target, logAlpha, lambda, threshold, noise0, noise1, atPreImage).Actor) / (2 * h);
            Assert.True(Math.Abs(numeric - actorGradient[i]) < 2e-3 * Math.Max(1, Math.Abs(numeric)), $"actor ∂L/∂θ[{i}]: numeric {numeric}, device {actorGradient[i]}");
        }
        var criticGradient = sac.Critic.Parameters.Gradients.ToArray();
        foreach (int i in new[] { 0, 5, 30, critic.Values.Length / 2 + 3, critic.Values.Length - 1 })
        {
            double[] plus = (double[])critic.Values.Clone(), minus = (double[])critic.Values.Clone();
            plus[i] += h; minus[i] -= h;
            double numeric = (ConstrainedReference(actor, reference, critic.With(plus), target, logAlpha, lambda, threshold, noise0, noise1, atPreImage).Critic
                - ConstrainedReference(actor, reference, critic.With(minus), target, logAlpha, lambda, threshold, noise0, noise1, atPreImage).Critic) / (2 * h);
            Assert.True(Math.Abs(numeric - criticGradient[i]) < 2e-3 * Math.Max(1, Math.Abs(numeric)), $"critic ∂L/∂θ[{i}]: numeric {numeric}, device {criticGradient[i]}");
        }
    }

    [Fact]
    public void AlignmentActorLrStepsTheStageBActorOnlyAndStageCReturnsToActorLr()
    {
        using var backend = new CpuBackend(1);
        // alignment_actor_lr = 0: stage B aligns the critics to an actor that does not move; stage C moves it at actor_lr.
        var frozen = TinyLearner(backend, TinyConfig with { AlignmentActorLr = 0f });
        var actorBefore = frozen.Sac.Actor.Parameters.Values.ToArray();
        var criticBefore = frozen.Sac.Critic.Parameters.Values.ToArray();
        frozen.BeginAlignment();
        frozen.ValueAlignmentStep(Batch(backend).Observations);
        Assert.Equal(actorBefore, frozen.Sac.Actor.Parameters.Values.ToArray());
        Assert.NotEqual(criticBefore, frozen.Sac.Critic.Parameters.Values.ToArray());
        frozen.FinishAlignment();
        Assert.Equal(TinyConfig.ActorLr, frozen.Sac.ActorOptimizer.LearningRate);
        frozen.ConstrainedUpdate(Batch(backend), 10, 0);
        Assert.NotEqual(actorBefore, frozen.Sac.Actor.Parameters.Values.ToArray());

        // The same stage-B step at half the rate: Adam's first step is lr·m̂/(√v̂ + ε) with the same gradients, so every
        // actor parameter moves half as far; unset, it is actor_lr and bit-identical to setting actor_lr itself.
        (float[] Displacement, float[] After) StageBStep(float? alignmentActorLr)
        {
            var learner = TinyLearner(backend, TinyConfig with { AlignmentActorLr = alignmentActorLr });
            var before = learner.Sac.Actor.Parameters.Values.ToArray();
            learner.BeginAlignment();
            learner.ValueAlignmentStep(Batch(backend).Observations);
            var after = learner.Sac.Actor.Parameters.Values.ToArray();
            return ([.. before.Select((value, i) => after[i] - value)], after);
        }
        var (full, fullAfter) = StageBStep(null);
        var (half, _) = StageBStep(TinyConfig.ActorLr / 2);
        Assert.Equal(fullAfter, StageBStep(TinyConfig.ActorLr).After);
        int compared = 0;
        for (int i = 0; i < full.Length; i++)
        {
            if (Math.Abs(full[i]) < 0.5f * TinyConfig.ActorLr) continue;   // parameters without gradient (none expected) or rounding-dominated
            Assert.InRange(half[i] / full[i], 0.49, 0.51);
            compared++;
        }
        Assert.True(compared > full.Length / 2, $"only {compared} of {full.Length} actor parameters moved in stage B");

        var negative = Assert.Throws<ArgumentException>(() => (TinyConfig with { AlignmentActorLr = -1e-5f }).Validate());
        Assert.Contains("alignment_actor_lr", negative.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => (TinyConfig with { AlignmentActorLr = float.NaN }).Validate());
        var parsed = ConfigLoader.Resolve(new O2SacConfig(), null, null, ["alignment_actor_lr=0.00001"]);
        Assert.Equal(1e-5f, parsed.AlignmentActorLr);
        Assert.Null(ConfigLoader.Resolve(new O2SacConfig(), null, null, []).AlignmentActorLr);
    }

    [Fact]
    public void StageCMovesEveryTrainedParameterAndNeverTheReferenceOrOfflineActor()
    {
        using var backend = new CpuBackend(1);
        var learner = ConstrainedLearner(backend, -1f);
        var sac = learner.Sac;
        var trained = new[] { sac.Actor.Parameters, sac.Critic.Parameters, sac.TargetCritic.Parameters };
        var before = trained.Select(Ref.Snapshot).ToArray();
        var referenceBefore = learner.ReferenceActor.Parameters.Values.ToArray();
        var offlineBefore = learner.OfflineActor.Parameters.Values.ToArray();
        float logAlpha = backend.ReadScalar(sac.LogAlpha), logLambda = backend.ReadScalar(learner.Lambda.LogLambda);
        learner.ConstrainedUpdate(Batch(backend), 10, 0);
        var after = trained.Select(Ref.Snapshot).ToArray();
        for (int n = 0; n < before.Length; n++)
            foreach (var (name, values) in before[n])
                Assert.False(values.SequenceEqual(after[n][name]), $"network {n} parameter '{name}' did not move");
        Assert.NotEqual(logAlpha, backend.ReadScalar(sac.LogAlpha));
        Assert.NotEqual(logLambda, backend.ReadScalar(learner.Lambda.LogLambda));
        Assert.Equal(referenceBefore, learner.ReferenceActor.Parameters.Values.ToArray());
        Assert.Equal(offlineBefore, learner.OfflineActor.Parameters.Values.ToArray());
        // A replaced reference is a copy: it equals the actor now and stays put when the actor moves on.
        learner.ReplaceReference();
        var copied = learner.ReferenceActor.Parameters.Values.ToArray();
        Assert.Equal(sac.Actor.Parameters.Values.ToArray(), copied);
        learner.ConstrainedUpdate(Batch(backend), 11, 0);
        Assert.Equal(copied, learner.ReferenceActor.Parameters.Values.ToArray());
        Assert.NotEqual(copied, sac.Actor.Parameters.Values.ToArray());
    }

    [Theory]
    [InlineData(0f, true)]       // a very narrow reference floors ℓ_ref at −50: Div ≈ log π + 50 > ε, every slack violated, λ rises
    [InlineData(1000f, false)]   // every slack satisfied: λ falls
    public void LambdaStaysPositiveRisesOnViolationFallsWithSlackAndStepsOnlyOnTheFirstUpdate(float threshold, bool rises)
    {
        using var backend = new CpuBackend(1);
        var learner = TinyLearner(backend, TinyConfig with { ThresholdStart = threshold, ThresholdEnd = threshold, ThresholdSteps = 1 });
        if (rises) learner.ReferenceActor.Parameters.Write("log_std_offset.constant", [-19f]);
        var batch = Batch(backend);
        float lambda0 = learner.Lambda.ReadLambda();
        learner.ConstrainedUpdate(batch, 5, updateIndex: 1);
        Assert.Equal(lambda0, learner.Lambda.ReadLambda());
        for (int k = 0; k < 3; k++) learner.ConstrainedUpdate(batch, 6 + k, updateIndex: 0);
        float lambda1 = learner.Lambda.ReadLambda();
        Assert.True(lambda1 > 0f);
        Assert.True(rises ? lambda1 > lambda0 : lambda1 < lambda0, $"λ {lambda0} → {lambda1}");
        Assert.Equal(3, learner.Lambda.Optimizer.StepCount);
    }

    [Fact]
    public void StepsAllocateNothingAfterTheFirst()
    {
        using var backend = new CpuBackend(1);
        var learner = ConstrainedLearner(backend, -1f);
        var batch = Batch(backend);
        void All(int k)
        {
            learner.PolicyEvaluationStep(batch);
            learner.ValueAlignmentStep(batch.Observations);
            learner.ConstrainedUpdate(batch, 20, k);
        }
        All(0); All(1);
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(() => { for (int i = 0; i < 20; i++) All(i % 2); }));
    }

    [Fact]
    public void ThresholdFollowsTheConfigAndThePeriodicReferenceAblationQuartersItsEnd()
    {
        using var backend = new CpuBackend(1);
        var best = TinyLearner(backend, TinyConfig with { ThresholdStart = 0.125f, ThresholdEnd = 2f, ThresholdSteps = 100_000 });
        Assert.Equal(0.125f, best.Threshold.At(0));
        Assert.Equal(0.125f + 1.875f * 0.25f, best.Threshold.At(25_000), 1e-6f);
        Assert.Equal(2f, best.Threshold.At(250_000));
        var periodic = TinyLearner(backend, TinyConfig with { ThresholdStart = 0.125f, ThresholdEnd = 2f, ThresholdSteps = 100_000, ReferToOptimalPolicy = false });
        Assert.Equal(0.5f, periodic.Threshold.At(250_000));
    }

    [Fact]
    public void SingleCriticModeBuildsAndTrainsQ1Only()
    {
        using var backend = new CpuBackend(1);
        var learner = TinyLearner(backend, TinyConfig with { DoubleCritic = false });
        Assert.Equal(1, learner.Sac.Critic.Members);
        learner.PolicyEvaluationStep(Batch(backend));
        learner.ValueAlignmentStep(Batch(backend).Observations);
        learner.ConstrainedUpdate(Batch(backend), 1, 0);
        Assert.True(float.IsFinite(backend.ReadScalar(learner.Sac.CriticLoss)));
    }

    // ───────────────────────────── shipped configs ─────────────────────────────

    [Theory]
    [InlineData("Hopper-v2", "medium", 0.2f, 1f, 0.125f, 2f, true, 3, 1000, 100_000)]
    [InlineData("HalfCheetah-v2", "expert", 0.5f, 1f, 0.005f, 0.125f, true, 3, 1000, 100_000)]
    [InlineData("Walker2d-v2", "medium-expert", 0.5f, 1f, 0.005f, 0.125f, true, 3, 1000, 100_000)]
    [InlineData("antmaze-umaze-v2", "default", 0.2f, 1f, 0.125f, 2f, false, 5, 5000, 200_000)]
    [InlineData("antmaze-large-diverse-v2", "default", 0.5f, 2f, 0.125f, 2f, false, 5, 5000, 200_000)]
    public void ShippedConfigsFollowTheTaskTable(string env, string dataset, float alpha, float lambda, float epsilon0, float epsilonEnd,
        bool doubleCritic, int depth, int warmup, long online)
    {
        string? path = ConfigLoader.ShippedConfigPath(O2SacRun.Algorithm, env, dataset);
        Assert.NotNull(path);
        var c = ConfigLoader.Resolve(new O2SacConfig(), path, null, []);
        Assert.Equal((alpha, lambda, epsilon0, epsilonEnd, doubleCritic, depth, warmup, online),
            (c.Alpha, c.Lambda, c.ThresholdStart, c.ThresholdEnd, c.DoubleCritic, c.CriticHidden.Length, c.WarmupSteps, c.OnlineSteps));
        Assert.True(c.CriticLayerNorm);
        Assert.Equal(OfflineMixing.Half, c.BufferMode);
        Assert.Equal(env.StartsWith("antmaze", StringComparison.Ordinal) ? (10f, -5f, false, 1_000_000L) : (1f, 0f, true, 500_000L),
            (c.RewardScale, c.RewardBias, c.NormalizeStates, c.AlignmentSteps));
        Assert.Equal(18, Directory.GetFiles(Path.Combine(ConfigLoader.ShippedConfigRoot, O2SacRun.Algorithm), "*.yaml", SearchOption.AllDirectories)
            .Count(f => !f.Contains("pendulum", StringComparison.Ordinal)));
    }

    // ───────────────────────────── runs on Pendulum-v1 ─────────────────────────────

    /// <summary>The shipped Pendulum-v1 datasets.</summary>
    static string PendulumDataset(string level) =>
        ShippedDatasets.Find("Pendulum-v1", level) ?? throw new FileNotFoundException($"no shipped Pendulum-v1 {level} dataset under {ShippedDatasets.Root}");

    /// <summary>A small offline checkpoint on the Pendulum medium dataset (seed 2, 16-wide networks, no evaluation).</summary>
    static string SmallOfflineCheckpoint(Func<RunContext, RunResult> run, string name, params string[] overrides)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"o2rl-o2sac-{name}-" + Guid.NewGuid().ToString("N"));
        // Shared by every run test of this process, so it lives until the process ends, and no longer.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        };
        using var backend = new CpuBackend(1);
        return run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 2, DatasetPath = PendulumDataset("medium"),
            OutputDirectory = folder, Overrides = ["batch_size=32", "actor_hidden=[16,16]", "critic_hidden=[16,16]", .. overrides],
        }).CheckpointPath!;
    }

    /// <summary>A small CQL checkpoint (tanh-Gaussian actor; shared by the run tests).</summary>
    static readonly Lazy<string> SmallCqlCheckpoint = new(() => SmallOfflineCheckpoint(CqlRun.Run, "cql", "steps=100", "eval_every=0", "eval_episodes=1"));

    /// <summary>A small TD3+BC checkpoint (deterministic actor).</summary>
    static readonly Lazy<string> SmallTd3BcCheckpoint = new(() => SmallOfflineCheckpoint(Td3BcRun.Run, "td3bc", "max_steps=60", "evaluate_every=0", "evaluation_episodes=1"));

    static readonly string[] SmallRun =
    [
        "reevaluation_steps=30", "alignment_steps=30", "online_steps=400", "warmup_steps=200", "updates_per_step=2", "batch_size=32",
        "critic_hidden=[16,16,16]", "eval_every=200", "eval_episodes=2", "log_every=100",
    ];

    static RunResult SmallO2Sac(string? folder, MemoryMetrics metrics, params string[] extra)
    {
        using var backend = new CpuBackend(1);
        return O2SacRun.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 5, DatasetPath = PendulumDataset("medium"),
            InitialCheckpoint = SmallCqlCheckpoint.Value, OutputDirectory = folder, Metrics = metrics, Overrides = [.. SmallRun, .. extra],
        });
    }

    [Fact]
    public void EndToEndRunStartsTheCurveAtTheOfflineScoreAndResumesBitIdenticallyAfterEachStage()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2sac-" + Guid.NewGuid().ToString("N"));
        try
        {
            var metrics = new MemoryMetrics();
            var full = SmallO2Sac(Path.Combine(root, "full"), metrics);
            var curve = metrics.Series("eval/return");
            Assert.Equal(0, curve[0].Step);
            Assert.Equal(metrics.Series("eval/offline_score").Single().Value, curve[0].Value);
            Assert.Equal([0L, 200L, 400L], curve.Select(p => p.Step));
            Assert.True(double.IsFinite(full.FinalEvaluation!.MeanReturn));
            Assert.Single(metrics.Series("eval/aligned_score"));
            // A CQL actor (the paper's pairing) keeps SAC's target −d; its entropy is still reported.
            Assert.Equal(-1.0, metrics.Series("charts/target_entropy").Single().Value);
            Assert.True(double.IsFinite(metrics.Series("charts/policy_entropy").Single().Value));
            Assert.Equal(3, metrics.Series("charts/reference_replaced").Count);
            Assert.NotEmpty(metrics.Series("losses/lambda"));
            Assert.NotEmpty(metrics.Series("stage/b_actor_loss"));
            byte[] expected = File.ReadAllBytes(full.CheckpointPath!);
            var saved = SafetensorsFile.Read(full.CheckpointPath!);
            Assert.Equal("o2sac", saved.Metadata["algorithm"]);
            Assert.Contains("actor_reference.base_network.0.weight", saved.Tensors.Keys);

            // The offline mode evaluates the same policy on the same episodes: the same offline score.
            var offlineMetrics = new MemoryMetrics();
            var offline = SmallO2Sac(null, offlineMetrics, "mode=offline");
            Assert.Equal(metrics.Series("eval/offline_score").Single().Value, offline.FinalEvaluation!.MeanReturn);

            foreach (string stageFile in new[] { O2SacRun.StageAFile, O2SacRun.StageBFile })
            {
                string folder = Path.Combine(root, "resume-" + stageFile);
                Directory.CreateDirectory(folder);
                File.Copy(Path.Combine(root, "full", stageFile), Path.Combine(folder, stageFile));
                var resumedMetrics = new MemoryMetrics();
                var resumed = SmallO2Sac(folder, resumedMetrics);
                Assert.Equal(expected, File.ReadAllBytes(resumed.CheckpointPath!));
                Assert.Equal(curve, resumedMetrics.Series("eval/return"));
                if (stageFile == O2SacRun.StageBFile) Assert.Empty(resumedMetrics.Series("stage/b_qf_loss"));
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AFrozenStageBActorReachesStageCUnmovedAndResumesBitIdenticallyAfterEachStage()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2sac-alignment-lr-" + Guid.NewGuid().ToString("N"));
        try
        {
            // alignment_actor_lr = 0 through the whole run: stage B leaves the actor as stage A handed it over.
            var full = SmallO2Sac(Path.Combine(root, "full"), new MemoryMetrics(), "alignment_actor_lr=0");
            var stageA = SafetensorsFile.Read(Path.Combine(root, "full", O2SacRun.StageAFile));
            var stageB = SafetensorsFile.Read(Path.Combine(root, "full", O2SacRun.StageBFile));
            var actorNames = stageA.Tensors.Keys.Where(k => k.StartsWith("actor.", StringComparison.Ordinal)).ToArray();
            Assert.NotEmpty(actorNames);
            foreach (string name in actorNames) Assert.Equal(stageA.Tensors[name].Data, stageB.Tensors[name].Data);
            var criticNames = stageA.Tensors.Keys.Where(k => k.StartsWith("critic.", StringComparison.Ordinal)).ToArray();
            Assert.NotEmpty(criticNames);
            Assert.Contains(criticNames, name => !stageA.Tensors[name].Data.SequenceEqual(stageB.Tensors[name].Data));
            // Stage C moved it at actor_lr.
            var final = SafetensorsFile.Read(full.CheckpointPath!);
            Assert.Contains(actorNames, name => !final.Tensors[name].Data.SequenceEqual(stageB.Tensors[name].Data));

            // A run resumed after either stage applies the same rates: the same final checkpoint, byte for byte.
            byte[] expected = File.ReadAllBytes(full.CheckpointPath!);
            foreach (string stageFile in new[] { O2SacRun.StageAFile, O2SacRun.StageBFile })
            {
                string folder = Path.Combine(root, "resume-" + stageFile);
                Directory.CreateDirectory(folder);
                File.Copy(Path.Combine(root, "full", stageFile), Path.Combine(folder, stageFile));
                var resumed = SmallO2Sac(folder, new MemoryMetrics(), "alignment_actor_lr=0");
                Assert.Equal(expected, File.ReadAllBytes(resumed.CheckpointPath!));
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void InitialReferenceAlignedStartsStageCFromTheAlignedActorEvenWhenItScoredBelowTheOfflineOne()
    {
        (double Offline, double Aligned, double Chosen) InitialChoice(params string[] extra)
        {
            using var backend = new CpuBackend(1);
            var metrics = new MemoryMetrics();
            O2SacRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 5, DatasetPath = PendulumDataset("medium"),
                InitialCheckpoint = SmallCqlCheckpoint.Value, Metrics = metrics,
                Overrides = [.. SmallRun, "online_steps=200", "warmup_steps=100", "eval_every=200", .. extra],
            });
            return (metrics.Series("eval/offline_score").Single().Value, metrics.Series("eval/aligned_score").Single().Value,
                metrics.Series("charts/reference_replaced").Single(p => p.Step == 0).Value);
        }
        // alignment_steps=1 with a large α_A: the aligned actor is the offline one moved once, and scores below it here.
        var release = InitialChoice("alignment_steps=1", "alpha=5");
        Assert.True(release.Aligned <= release.Offline, $"precondition: the aligned actor ({release.Aligned}) must not beat π_off ({release.Offline})");
        Assert.Equal(0, release.Chosen);
        var aligned = InitialChoice("alignment_steps=1", "alpha=5", "initial_reference=aligned");
        Assert.Equal((release.Offline, release.Aligned), (aligned.Offline, aligned.Aligned));
        Assert.Equal(1, aligned.Chosen);
        // A tolerance wide enough to cover the gap takes it as well (the fraction is of |π_off's score|).
        double gap = (release.Offline - release.Aligned) / Math.Abs(release.Offline);
        Assert.True(gap < 0.9, $"precondition: the gap ({gap}) must leave room for a tolerance in [0, 1]");
        Assert.Equal(1, InitialChoice("alignment_steps=1", "alpha=5", FormattableString.Invariant($"initial_reference_tolerance={gap + 0.05}")).Chosen);
        Assert.Throws<ArgumentException>(() => (new O2SacConfig() with { InitialReferenceTolerance = -0.5f }).Validate());
        var error = Assert.Throws<ArgumentException>(() => (new O2SacConfig() with { InitialReference = "align" }).Validate());
        Assert.Contains("initial_reference 'align'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThePeriodicReferenceAblationReplacesEveryTenthEvaluationOnTheHopperExpertTasks()
    {
        // §1.6: the release's every-n rule uses n = 10 (with the actor's gradient clipped to 0.25) on hopper-*expert*,
        // whatever update_n says; elsewhere n = update_n (1 here: every evaluation replaces π_ref).
        double[] Replacements(string? scoreTask)
        {
            using var backend = new CpuBackend(1);
            var metrics = new MemoryMetrics();
            O2SacRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 5, DatasetPath = PendulumDataset("medium"), ScoreTaskId = scoreTask,
                InitialCheckpoint = SmallCqlCheckpoint.Value, Metrics = metrics,
                Overrides = [.. SmallRun, "refer_to_optimal_policy=false", "update_n=1", "eval_every=100", "online_steps=1000", "eval_episodes=1"],
            });
            return [.. metrics.Series("charts/reference_replaced").Where(p => p.Step > 0).Select(p => p.Value)];
        }
        double[] everyEvaluation = Replacements(null), hopperExpert = Replacements("hopper-medium-expert-v2");
        Assert.Equal(10, everyEvaluation.Length);
        Assert.All(everyEvaluation, replaced => Assert.Equal(1, replaced));
        Assert.Equal(10, hopperExpert.Length);
        Assert.Equal(1, hopperExpert.Sum());
    }

    [Fact]
    public void AConvertedDeterministicActorTakesItsTargetEntropyFromTheAlignedPolicyAndKeepsItOnResume()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2sac-entropy-" + Guid.NewGuid().ToString("N"));
        RunResult Run(string? folder, MemoryMetrics metrics, params string[] extra)
        {
            using var backend = new CpuBackend(1);
            return O2SacRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 5, DatasetPath = PendulumDataset("medium"),
                InitialCheckpoint = SmallTd3BcCheckpoint.Value, OutputDirectory = folder, Metrics = metrics, Overrides = [.. SmallRun, .. extra],
            });
        }
        try
        {
            var metrics = new MemoryMetrics();
            var full = Run(Path.Combine(root, "full"), metrics);
            double target = metrics.Series("charts/target_entropy").Single().Value;
            double entropy = metrics.Series("charts/policy_entropy").Single().Value;
            // σ ≈ 0.1 in pre-tanh space (½ ln(2πe·0.01) = −0.88, less the tanh correction); H̄ is 2 nats per dimension below.
            Assert.InRange(entropy, -3.0, -0.5);
            Assert.Equal(entropy - 2.0, target, 5);
            // The measurement moves no training stream and is repeated after a resume: resuming after stage B is bit-identical.
            string folder = Path.Combine(root, "resume");
            Directory.CreateDirectory(folder);
            File.Copy(Path.Combine(root, "full", O2SacRun.StageBFile), Path.Combine(folder, O2SacRun.StageBFile));
            var resumed = Run(folder, new MemoryMetrics());
            Assert.Equal(File.ReadAllBytes(full.CheckpointPath!), File.ReadAllBytes(resumed.CheckpointPath!));

            var releaseRule = new MemoryMetrics();
            Run(null, releaseRule, "target_entropy_rule=action-dim", "online_steps=0");
            Assert.Equal(-1.0, releaseRule.Series("charts/target_entropy").Single().Value);
            var noMargin = new MemoryMetrics();
            Run(null, noMargin, "target_entropy_margin=0", "online_steps=0");
            Assert.Equal(entropy, noMargin.Series("charts/target_entropy").Single().Value, 5);
            Assert.Throws<ArgumentException>(() => Run(null, new MemoryMetrics(), "target_entropy_margin=-1"));
            // deterministic_source_std sets the converted actor's σ₀: three times wider is about ln 3 nats more entropy.
            var wider = new MemoryMetrics();
            Run(null, wider, "deterministic_source_std=0.3", "online_steps=0");
            Assert.InRange(wider.Series("charts/policy_entropy").Single().Value - entropy, 0.6, 1.3);
            var configured = new MemoryMetrics();
            Run(null, configured, "target_entropy=-2.5", "online_steps=0");
            Assert.Equal(-2.5, configured.Series("charts/target_entropy").Single().Value);
            // The naive baseline measures the loaded actor with the same rule.
            var naive = new MemoryMetrics();
            Run(null, naive, "mode=naive", "warmup_steps=1000");
            Assert.InRange(naive.Series("charts/target_entropy").Single().Value, -5.0, -2.5);
            Assert.Throws<ArgumentException>(() => Run(null, new MemoryMetrics(), "target_entropy_rule=sometimes"));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AConvertedDeterministicStartNamesTheEvidenceAndSuggestsTheSettingThatHeldUnlessItIsSet()
    {
        string Progress(string checkpoint, params string[] extra)
        {
            using var backend = new CpuBackend(1);
            var progress = new StringWriter();
            O2SacRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 5, DatasetPath = PendulumDataset("medium"),
                InitialCheckpoint = checkpoint, Metrics = new MemoryMetrics(), Progress = progress, Overrides = [.. SmallRun, "online_steps=0", .. extra],
            });
            return progress.ToString();
        }
        const string Pointer = "the paper's release never starts O2SAC from a deterministic actor";
        string defaults = Progress(SmallTd3BcCheckpoint.Value);
        Assert.Contains(Pointer, defaults);
        Assert.Contains("converted-deterministic-o2sac.md", defaults);
        Assert.Contains(O2SacRun.ConvertedDeterministicSuggestion, defaults);
        // Part of the setting is not the setting: the suggestion stays.
        Assert.Contains(O2SacRun.ConvertedDeterministicSuggestion, Progress(SmallTd3BcCheckpoint.Value, "alpha=0.001", "reference_log_density=pre-image"));
        // A run that uses it (the tolerance, or the aligned reference it widens to) gets the pointer alone.
        foreach (string reference in new[] { "initial_reference_tolerance=0.1", "initial_reference=aligned" })
        {
            string suggested = Progress(SmallTd3BcCheckpoint.Value, "alpha=0.001", "reference_log_density=pre-image", reference);
            Assert.Contains(Pointer, suggested);
            Assert.DoesNotContain(O2SacRun.ConvertedDeterministicSuggestion, suggested);
        }
        // The paper's pairing (a CQL tanh-Gaussian actor) and the baselines print nothing of it.
        Assert.DoesNotContain(Pointer, Progress(SmallCqlCheckpoint.Value));
        Assert.DoesNotContain(Pointer, Progress(SmallTd3BcCheckpoint.Value, "mode=naive", "warmup_steps=1000"));
    }

    [Fact]
    public void NaiveBaselineLoadsCompatibleCriticsAndScratchStartsFresh()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2sac-naive-" + Guid.NewGuid().ToString("N"));
        try
        {
            var cql = SafetensorsFile.Read(SmallCqlCheckpoint.Value);
            // CQL's critics have no LayerNorm: with the matching architecture and no update (warm-up past the end)
            // the naive run keeps the loaded actor and critics.
            var naive = SmallO2Sac(Path.Combine(root, "naive"), new MemoryMetrics(), "mode=naive", "critic_hidden=[16,16]", "critic_layer_norm=false", "warmup_steps=1000");
            var saved = SafetensorsFile.Read(naive.CheckpointPath!);
            foreach (var name in cql.Tensors.Keys.Where(k => k.StartsWith("actor.", StringComparison.Ordinal) || k.StartsWith("critic.", StringComparison.Ordinal)))
                Assert.Equal(cql.Tensors[name].Data, saved.Tensors[name].Data);
            // The config's LayerNorm critics differ from CQL's: naive fine-tuning still continues with CQL's critics,
            // in their own architecture (plain SAC carries on from the offline learner's actor AND critics).
            var adopted = SafetensorsFile.Read(SmallO2Sac(Path.Combine(root, "adopted"), new MemoryMetrics(), "mode=naive", "warmup_steps=1000").CheckpointPath!);
            foreach (var name in cql.Tensors.Keys.Where(k => k.StartsWith("actor.", StringComparison.Ordinal) || k.StartsWith("critic.", StringComparison.Ordinal)))
                Assert.Equal(cql.Tensors[name].Data, adopted.Tensors[name].Data);
            Assert.False(Online.SacCheckpoint.CriticLayerNorm(adopted));
            var scratch = SafetensorsFile.Read(SmallO2Sac(Path.Combine(root, "scratch"), new MemoryMetrics(), "mode=scratch").CheckpointPath!);
            Assert.NotEqual(cql.Tensors["actor.base_network.0.weight"].Data, scratch.Tensors["actor.base_network.0.weight"].Data);
            Assert.Throws<ArgumentException>(() => SmallO2Sac(null, new MemoryMetrics(), "mode=bogus"));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void NormalisationOfAnotherDatasetIsRejected()
    {
        using var backend = new CpuBackend(1);
        var error = Assert.Throws<InvalidDataException>(() => O2SacRun.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "random", Seed = 5, DatasetPath = PendulumDataset("random"),
            InitialCheckpoint = SmallCqlCheckpoint.Value, Overrides = SmallRun,
        }));
        Assert.Contains("normalisation", error.Message);
    }

    [Fact]
    [Trait("Category", "Learning")]
    public void FineTunesAPendulumCqlActorWithTheShippedSettings()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2sac-learn-" + Guid.NewGuid().ToString("N"));
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var backend = new CpuBackend();
            // CQL with its shipped Pendulum "medium" settings (3k steps, 2 × 64), then O2SAC with the shipped Pendulum file.
            var cql = CqlRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 3, DatasetPath = PendulumDataset("medium"),
                OutputDirectory = Path.Combine(root, "cql"),
            });
            double cqlSeconds = clock.Elapsed.TotalSeconds;
            var metrics = new MemoryMetrics();
            var result = O2SacRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 3, DatasetPath = PendulumDataset("medium"),
                InitialCheckpoint = cql.CheckpointPath, Metrics = metrics,
            });
            var evals = metrics.Series("eval/return");
            string curve = string.Join(", ", evals.Select(e => $"{e.Step}:{e.Value:F0}"));
            double offline = metrics.Series("eval/offline_score").Single().Value, aligned = metrics.Series("eval/aligned_score").Single().Value;
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"CQL {cqlSeconds:F0}s; O2SAC offline {offline:F0}, aligned {aligned:F0}, curve {curve}; total {clock.Elapsed.TotalSeconds:F0}s; " +
                $"update ms: stage A {metrics.Last("time/stage_a_update"):F2}, stage B {metrics.Last("time/stage_b_update"):F2}, stage C {metrics.Last("time/update"):F2}");
            Assert.Equal(offline, evals[0].Value);
            Assert.True(double.IsFinite(result.FinalEvaluation!.MeanReturn));
            Assert.True(evals.Skip(1).Max(e => e.Value) >= offline - 50, $"fine-tuning should not lose the offline policy; curve {curve}");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
