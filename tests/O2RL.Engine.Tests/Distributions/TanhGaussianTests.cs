using O2RL.Engine.Distributions;
using Xunit;
using static O2RL.Engine.Tests.Distributions.GradientCheck;

namespace O2RL.Engine.Tests.Distributions;

public sealed class TanhGaussianTests
{
    const int Batch = 5, Dim = 3, HeadWidth = 2 * Dim;
    const float Multiplier = 0.8f, Offset = -0.7f;
    static readonly double HalfLogTwoPi = 0.5 * Math.Log(2 * Math.PI);
    // The engine stores the external-action bound 1 − 1e-4 as a float; the reference uses that same value.
    static readonly double ExternalBound = (double)(float)(1 - 1e-4);

    // ───────────────── independent double-precision forward ─────────────────

    static double ReferenceLogStd(double m, double o, double rawLogStd) => Math.Clamp(m * rawLogStd + o, -20.0, 2.0);

    /// <summary>log N(u; μ, σ²) − log(1 − tanh²u), using 1 − tanh²u = 1/cosh²u (not the engine's softplus form).</summary>
    static double SquashedGaussianTerm(double u, double mean, double logStd)
    {
        double z = (u - mean) / Math.Exp(logStd);
        return -0.5 * z * z - logStd - HalfLogTwoPi + 2.0 * Math.Log(Math.Cosh(u));
    }

    static (double[] Action, double[] LogProb) ReferenceSample(double[] head, double m, double o, double[] noise)
    {
        int batch = head.Length / HeadWidth;
        var action = new double[batch * Dim];
        var logProb = new double[batch];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < Dim; j++)
            {
                double mean = head[b * HeadWidth + j];
                double logStd = ReferenceLogStd(m, o, head[b * HeadWidth + Dim + j]);
                double u = mean + Math.Exp(logStd) * noise[b * Dim + j];
                action[b * Dim + j] = Math.Tanh(u);
                logProb[b] += SquashedGaussianTerm(u, mean, logStd);
            }
        return (action, logProb);
    }

    static double[] ReferenceExternalLogProb(double[] head, double m, double o, double[] action)
    {
        int batch = head.Length / HeadWidth;
        var logProb = new double[batch];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < Dim; j++)
            {
                double u = Math.Atanh(Math.Clamp(action[b * Dim + j], -ExternalBound, ExternalBound));
                logProb[b] += SquashedGaussianTerm(u, head[b * HeadWidth + j], ReferenceLogStd(m, o, head[b * HeadWidth + Dim + j]));
            }
        return logProb;
    }

    static double Dot(double[] x, float[] weights)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i] * weights[i];
        return sum;
    }

    // ───────────────── set-up ─────────────────

    /// <summary>Means in (−1, 1) and raw log-stds giving log σ in (−1.9, 0.5), far from the [−20, 2] clamp.</summary>
    static float[] MakeHead(Random random, int batch)
    {
        var head = new float[batch * HeadWidth];
        var means = Uniform(random, batch * Dim, -1, 1);
        var raw = Uniform(random, batch * Dim, -1.5, 1.5);
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < Dim; j++)
            {
                head[b * HeadWidth + j] = means[b * Dim + j];
                head[b * HeadWidth + Dim + j] = raw[b * Dim + j];
            }
        return head;
    }

    sealed record Head(TanhGaussian Distribution, Tensor Multiplier, Tensor Offset, Tensor MultiplierGradient, Tensor OffsetGradient);

    static Head Trainable(Backend backend, float multiplier = Multiplier, float offset = Offset)
    {
        var m = backend.FromArray([multiplier], 1);
        var o = backend.FromArray([offset], 1);
        var dm = backend.Allocate(1);
        var dOffset = backend.Allocate(1);
        return new Head(new TanhGaussian(backend, Dim, m, o, dm, dOffset), m, o, dm, dOffset);
    }

    static double[] Range(double[] x, int start, int count) => x.AsSpan(start, count).ToArray();

    // ───────────────── forward ─────────────────

    [Fact]
    public void SampleMatchesTheDoublePrecisionForward()
    {
        var random = new Random(1);
        using var backend = new CpuBackend(1);
        var head = MakeHead(random, Batch);
        var noise = Normal(random, Batch * Dim, 2.5);
        var h = Trainable(backend);

        var (action, logProb) = h.Distribution.Sample(backend.FromArray(head, Batch, HeadWidth), backend.FromArray(noise, Batch, Dim));

        var expected = ReferenceSample(ToDouble(head), Multiplier, Offset, ToDouble(noise));
        AssertClose(expected.Action, action.ToArray(), 1e-5, 1.0, "action");
        AssertClose(expected.LogProb, logProb.ToArray(), 1e-5, 1.0, "log-prob");
        Assert.Equal([Batch, Dim], action.Shape);
        Assert.Equal([Batch], logProb.Shape);
    }

    [Fact]
    public void ExternalLogProbMatchesTheDoublePrecisionForwardIncludingClampedActions()
    {
        var random = new Random(2);
        using var backend = new CpuBackend(1);
        var head = MakeHead(random, Batch);
        var action = Uniform(random, Batch * Dim, -0.95, 0.95);
        action[1] = 1f; action[4] = -1f; action[8] = 0.99995f;   // outside ±(1 − 1e-4): scored at the bound
        var h = Trainable(backend);

        var logProb = h.Distribution.LogProb(backend.FromArray(head, Batch, HeadWidth), backend.FromArray(action, Batch, Dim));

        // Near the bound atanh amplifies the float rounding of the clamped action (1/(1 − a²) ≈ 5000).
        AssertClose(ReferenceExternalLogProb(ToDouble(head), Multiplier, Offset, ToDouble(action)), logProb.ToArray(), 2e-5, 1.0, "log-prob");
    }

    [Fact]
    public void SampleLogProbEqualsTheExternalLogProbOfTheSameAction()
    {
        var random = new Random(3);
        using var backend = new CpuBackend(1);
        var head = MakeHead(random, Batch);
        var noise = Normal(random, Batch * Dim, 1.0);
        // o = −1.5 keeps |u| below about 2.5, where atanh(tanh u) is well conditioned in float.
        var h = Trainable(backend, Multiplier, -1.5f);
        var headTensor = backend.FromArray(head, Batch, HeadWidth);

        var (action, sampled) = h.Distribution.Sample(headTensor, backend.FromArray(noise, Batch, Dim));
        var external = h.Distribution.LogProb(headTensor, action);

        Assert.All(action.ToArray(), a => Assert.True(Math.Abs(a) < 0.99, $"action {a} is too close to the clamp for this check"));
        AssertClose(ToDouble(sampled.ToArray()), external.ToArray(), 2e-4, 1.0, "external vs sampled log-prob");
    }

    [Fact]
    public void DeterministicActionIsTheClampedTanhOfTheMean()
    {
        using var backend = new CpuBackend(1);
        float[] means = [-12f, -4.9f, -0.3f, 0f, 0.7f, 12f];
        var head = new float[2 * HeadWidth];
        for (int i = 0; i < means.Length; i++) head[i / Dim * HeadWidth + i % Dim] = means[i];
        for (int b = 0; b < 2; b++) for (int j = 0; j < Dim; j++) head[b * HeadWidth + Dim + j] = 100f;   // raw log-std is ignored
        var h = Trainable(backend);

        var action = h.Distribution.DeterministicAction(backend.FromArray(head, 2, HeadWidth)).ToArray();

        for (int i = 0; i < means.Length; i++)
            Assert.Equal(Math.Clamp(Math.Tanh(means[i]), -0.9999, 0.9999), action[i], tolerance: 1e-6);
        Assert.Equal(0.9999f, action[5]);
        Assert.Equal(-0.9999f, action[0]);
    }

    // ───────────────── gradients ─────────────────

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void SampleBackwardMatchesDoubleFiniteDifferences(bool actionInLoss, bool logProbInLoss)
    {
        var random = new Random(4);
        using var backend = new CpuBackend(1);
        var head = MakeHead(random, Batch);
        var noise = Normal(random, Batch * Dim, 2.5);
        var actionWeights = Uniform(random, Batch * Dim, -1, 1);
        var logProbWeights = Uniform(random, Batch, -1, 1);
        var h = Trainable(backend);

        h.Distribution.Sample(backend.FromArray(head, Batch, HeadWidth), backend.FromArray(noise, Batch, Dim));
        var headGradient = h.Distribution.SampleBackward(
            actionInLoss ? backend.FromArray(actionWeights, Batch, Dim) : null,
            logProbInLoss ? backend.FromArray(logProbWeights, Batch) : null);

        // L = Σ w_a ⊙ a + Σ w_l ⊙ log π, as a function of (head, m, o).
        var noiseD = ToDouble(noise);
        double Loss(double[] x)
        {
            var (a, logProb) = ReferenceSample(Range(x, 0, Batch * HeadWidth), x[^2], x[^1], noiseD);
            return (actionInLoss ? Dot(a, actionWeights) : 0) + (logProbInLoss ? Dot(logProb, logProbWeights) : 0);
        }
        var numeric = CentralDifference(Loss, Concat(ToDouble(head), [Multiplier], [Offset]));

        AssertClose(Range(numeric, 0, Batch * HeadWidth), headGradient.ToArray(), 1e-3, 0.05, "∂L/∂head");
        AssertClose(numeric[^2], h.MultiplierGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂m");
        AssertClose(numeric[^1], h.OffsetGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂o");
    }

    [Fact]
    public void ExternalLogProbBackwardMatchesDoubleFiniteDifferences()
    {
        var random = new Random(5);
        using var backend = new CpuBackend(1);
        var head = MakeHead(random, Batch);
        var action = Uniform(random, Batch * Dim, -0.97, 0.97);
        var weights = Uniform(random, Batch, -1, 1);
        var h = Trainable(backend);

        h.Distribution.LogProb(backend.FromArray(head, Batch, HeadWidth), backend.FromArray(action, Batch, Dim));
        var (actionGradient, headGradient) = h.Distribution.LogProbBackward(backend.FromArray(weights, Batch), computeHeadGradient: true);

        int headLength = Batch * HeadWidth, actionLength = Batch * Dim;
        double Loss(double[] x)
        {
            var logProb = ReferenceExternalLogProb(Range(x, 0, headLength), x[headLength], x[headLength + 1], Range(x, headLength + 2, actionLength));
            return Dot(logProb, weights);
        }
        var numeric = CentralDifference(Loss, Concat(ToDouble(head), [Multiplier, Offset], ToDouble(action)));

        Assert.NotNull(headGradient);
        AssertClose(Range(numeric, 0, headLength), headGradient.ToArray(), 1e-3, 0.05, "∂L/∂head");
        AssertClose(numeric[headLength], h.MultiplierGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂m");
        AssertClose(numeric[headLength + 1], h.OffsetGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂o");
        AssertClose(Range(numeric, headLength + 2, actionLength), actionGradient.ToArray(), 1e-3, 0.05, "∂L/∂a");
    }

    [Fact]
    public void ExternalActionGradientIsZeroWhereTheActionWasClamped()
    {
        var random = new Random(6);
        using var backend = new CpuBackend(1);
        var head = MakeHead(random, Batch);
        var action = Uniform(random, Batch * Dim, -0.9, 0.9);
        int[] clamped = [0, 5, 7, 13];
        action[0] = 1f; action[5] = -1f; action[7] = 0.99993f; action[13] = -1.5f;
        var h = Trainable(backend);

        h.Distribution.LogProb(backend.FromArray(head, Batch, HeadWidth), backend.FromArray(action, Batch, Dim));
        var (actionGradient, _) = h.Distribution.LogProbBackward(backend.FromArray(Uniform(random, Batch, 0.5, 1), Batch), computeHeadGradient: false);

        var gradient = actionGradient.ToArray();
        for (int i = 0; i < gradient.Length; i++)
        {
            if (clamped.Contains(i)) Assert.Equal(0f, gradient[i]);
            else Assert.NotEqual(0f, gradient[i]);
        }
    }

    [Fact]
    public void LogStdClampPassesZeroGradient()
    {
        var random = new Random(7);
        using var backend = new CpuBackend(1);
        var head = MakeHead(random, Batch);
        // m·ρ + o = 0.8·5 − 0.7 = 3.3 > 2 and 0.8·(−30) − 0.7 = −24.7 < −20: both clamped.
        head[0 * HeadWidth + Dim + 1] = 5f;
        head[2 * HeadWidth + Dim + 0] = -30f;
        head[4 * HeadWidth + Dim + 2] = 5f;
        int[] clampedRaw = [0 * HeadWidth + Dim + 1, 2 * HeadWidth + Dim + 0, 4 * HeadWidth + Dim + 2];
        var noise = Normal(random, Batch * Dim, 1.0);
        var weights = Uniform(random, Batch, -1, 1);
        var actionWeights = Uniform(random, Batch * Dim, -1, 1);
        var h = Trainable(backend);

        h.Distribution.Sample(backend.FromArray(head, Batch, HeadWidth), backend.FromArray(noise, Batch, Dim));
        var headGradient = h.Distribution.SampleBackward(backend.FromArray(actionWeights, Batch, Dim), backend.FromArray(weights, Batch)).ToArray();
        foreach (int i in clampedRaw) Assert.Equal(0f, headGradient[i]);

        // m and o receive gradient only from the unclamped coordinates: compare with the double reference.
        var noiseD = ToDouble(noise);
        double Loss(double[] x)
        {
            var (a, logProb) = ReferenceSample(ToDouble(head), x[0], x[1], noiseD);
            return Dot(a, actionWeights) + Dot(logProb, weights);
        }
        var numeric = CentralDifference(Loss, [Multiplier, Offset]);
        AssertClose(numeric[0], h.MultiplierGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂m");
        AssertClose(numeric[1], h.OffsetGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂o");

        // The external path clamps the same way.
        var external = Trainable(backend);
        external.Distribution.LogProb(backend.FromArray(head, Batch, HeadWidth), backend.FromArray(Uniform(random, Batch * Dim, -0.5, 0.5), Batch, Dim));
        var (_, externalHeadGradient) = external.Distribution.LogProbBackward(backend.FromArray(weights, Batch), computeHeadGradient: true);
        var externalGradient = externalHeadGradient!.ToArray();
        foreach (int i in clampedRaw) Assert.Equal(0f, externalGradient[i]);
    }

    /// <summary>
    /// The O2SAC constraint term: the reference density of the online actor's reparameterised sample,
    /// differentiated through the action into the online head (pitfall 1), with the reference frozen.
    /// </summary>
    [Fact]
    public void ReferenceLogProbOfASampleDifferentiatesThroughTheActionIntoTheOnlineHead()
    {
        var random = new Random(8);
        using var backend = new CpuBackend(1);
        var onlineHead = MakeHead(random, Batch);
        var referenceHead = MakeHead(random, Batch);
        var noise = Normal(random, Batch * Dim, 2.0);
        var weights = Uniform(random, Batch, -1, 1);
        const float referenceMultiplier = 1.1f, referenceOffset = -0.4f;
        var online = Trainable(backend);
        var reference = new TanhGaussian(backend, Dim, backend.FromArray([referenceMultiplier], 1), backend.FromArray([referenceOffset], 1));

        var (action, _) = online.Distribution.Sample(backend.FromArray(onlineHead, Batch, HeadWidth), backend.FromArray(noise, Batch, Dim));
        reference.LogProb(backend.FromArray(referenceHead, Batch, HeadWidth), action);
        var (actionGradient, _) = reference.LogProbBackward(backend.FromArray(weights, Batch), computeHeadGradient: false);
        var headGradient = online.Distribution.SampleBackward(actionGradient, null);

        var noiseD = ToDouble(noise);
        var referenceHeadD = ToDouble(referenceHead);
        double Loss(double[] x)
        {
            var (a, _) = ReferenceSample(Range(x, 0, Batch * HeadWidth), x[^2], x[^1], noiseD);
            return Dot(ReferenceExternalLogProb(referenceHeadD, referenceMultiplier, referenceOffset, a), weights);
        }
        var numeric = CentralDifference(Loss, Concat(ToDouble(onlineHead), [Multiplier, Offset]));
        AssertClose(Range(numeric, 0, Batch * HeadWidth), headGradient.ToArray(), 1e-3, 0.05, "∂L/∂online head");
        AssertClose(numeric[^2], online.MultiplierGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂m");
        AssertClose(numeric[^1], online.OffsetGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂o");
    }

    /// <summary>Double log π of actions given by their pre-images u (no clamp, no atanh).</summary>
    static double[] ReferencePreImageLogProb(double[] head, double m, double o, double[] preImage)
    {
        int batch = head.Length / HeadWidth;
        var logProb = new double[batch];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < Dim; j++)
                logProb[b] += SquashedGaussianTerm(preImage[b * Dim + j], head[b * HeadWidth + j], ReferenceLogStd(m, o, head[b * HeadWidth + Dim + j]));
        return logProb;
    }

    /// <summary>
    /// The reference density scored at the online sample's pre-image u (O2SAC's reference_log_density = pre-image), with
    /// means far beyond atanh(1 − 1e-4) = 4.95 in some coordinates: the value is exact there, and its gradient reaches
    /// the online head through u (SampleBackward's pre-image gradient), where the action route carries nothing.
    /// </summary>
    [Fact]
    public void ReferenceLogProbAtThePreImageIsExactForSaturatedSamplesAndDifferentiatesThroughU()
    {
        var random = new Random(18);
        using var backend = new CpuBackend(1);
        var onlineHead = MakeHead(random, Batch);
        var referenceHead = MakeHead(random, Batch);
        foreach (var (row, column, mean) in new[] { (0, 0, 7.5f), (1, 2, -9f), (3, 1, 12f) })
        {
            onlineHead[row * HeadWidth + column] = mean;
            referenceHead[row * HeadWidth + column] = mean - 0.3f;
        }
        var noise = Normal(random, Batch * Dim, 1.5);
        var weights = Uniform(random, Batch, -1, 1);
        const float referenceMultiplier = 1.1f, referenceOffset = -0.4f;
        var online = Trainable(backend);
        var reference = new TanhGaussian(backend, Dim, backend.FromArray([referenceMultiplier], 1), backend.FromArray([referenceOffset], 1));

        online.Distribution.Sample(backend.FromArray(onlineHead, Batch, HeadWidth), backend.FromArray(noise, Batch, Dim));
        var preImage = online.Distribution.PreImage();
        var logProb = reference.LogProbAtPreImage(backend.FromArray(referenceHead, Batch, HeadWidth), preImage).ToArray();
        var (preImageGradient, _) = reference.LogProbBackward(backend.FromArray(weights, Batch), computeHeadGradient: false);
        var headGradient = online.Distribution.SampleBackward(null, null, preImageGradient);

        var noiseD = ToDouble(noise);
        var referenceHeadD = ToDouble(referenceHead);
        double[] PreImageOf(double[] head, double m, double o)
        {
            var u = new double[Batch * Dim];
            for (int b = 0; b < Batch; b++)
                for (int j = 0; j < Dim; j++)
                    u[b * Dim + j] = head[b * HeadWidth + j] + Math.Exp(ReferenceLogStd(m, o, head[b * HeadWidth + Dim + j])) * noiseD[b * Dim + j];
            return u;
        }
        var expectedU = PreImageOf(ToDouble(onlineHead), Multiplier, Offset);
        AssertClose(expectedU, preImage.ToArray(), 1e-6, 1e-5, "u = μ + σε");
        var expected = ReferencePreImageLogProb(referenceHeadD, referenceMultiplier, referenceOffset, expectedU);
        AssertClose(expected, logProb, 1e-4, 1e-5, "log π_ref at u");
        // The clamped route reads those rows as u = ±4.95 and misses by far (the reason for the pre-image route).
        var clamped = ReferenceExternalLogProb(referenceHeadD, referenceMultiplier, referenceOffset, expectedU.Select(Math.Tanh).ToArray());
        foreach (int row in new[] { 0, 1, 3 }) Assert.True(Math.Abs(clamped[row] - expected[row]) > 1, $"row {row}: clamped {clamped[row]}, exact {expected[row]}");

        double Loss(double[] x) =>
            Dot(ReferencePreImageLogProb(referenceHeadD, referenceMultiplier, referenceOffset, PreImageOf(Range(x, 0, Batch * HeadWidth), x[^2], x[^1])), weights);
        var numeric = CentralDifference(Loss, Concat(ToDouble(onlineHead), [Multiplier, Offset]));
        AssertClose(Range(numeric, 0, Batch * HeadWidth), headGradient.ToArray(), 1e-3, 0.05, "∂L/∂online head");
        AssertClose(numeric[^2], online.MultiplierGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂m");
        AssertClose(numeric[^1], online.OffsetGradient.ToArray()[0], 1e-3, 0.05, "∂L/∂o");
    }

    [Fact]
    public void LogProbAtThePreImageAgreesWithTheLogProbOfTheActionInsideTheClamp()
    {
        var random = new Random(19);
        using var backend = new CpuBackend(1);
        var head = MakeHead(random, Batch);
        var preImage = Uniform(random, Batch * Dim, -3, 3);
        var h = Trainable(backend);
        var tHead = backend.FromArray(head, Batch, HeadWidth);
        var atPreImage = h.Distribution.LogProbAtPreImage(tHead, backend.FromArray(preImage, Batch, Dim)).ToArray();
        var atAction = h.Distribution.LogProb(tHead, backend.FromArray(preImage.Select(MathF.Tanh).ToArray(), Batch, Dim)).ToArray();
        AssertClose(ToDouble(atAction), atPreImage, 1e-3, 1e-3, "log π at u against log π at tanh u");
        // Same density, also at a sampled action's own pre-image: the sample's log π (at π = π_ref the divergence is 0).
        var noise = Normal(random, Batch * Dim, 1.0);
        head[0] = 11f; head[HeadWidth + 1] = -8f;
        tHead = backend.FromArray(head, Batch, HeadWidth);
        var (_, sampleLogProb) = h.Distribution.Sample(tHead, backend.FromArray(noise, Batch, Dim));
        var sampleValues = sampleLogProb.ToArray();
        var same = Trainable(backend).Distribution;
        AssertClose(ToDouble(sampleValues), same.LogProbAtPreImage(tHead, h.Distribution.PreImage()).ToArray(), 1e-5, 1e-4, "log π_θ(ã) against log π_θ at ã's u");
    }

    [Fact]
    public void ParameterGradientsAccumulateAcrossBackwardPasses()
    {
        var random = new Random(9);
        using var backend = new CpuBackend(1);
        var head = backend.FromArray(MakeHead(random, Batch), Batch, HeadWidth);
        var noise = backend.FromArray(Normal(random, Batch * Dim, 2.0), Batch, Dim);
        var weights = backend.FromArray(Uniform(random, Batch, -1, 1), Batch);
        var h = Trainable(backend);

        h.Distribution.Sample(head, noise);
        h.Distribution.SampleBackward(null, weights);
        float once = h.OffsetGradient.ToArray()[0];
        h.Distribution.SampleBackward(null, weights);

        Assert.NotEqual(0f, once);
        Assert.Equal(2.0 * once, h.OffsetGradient.ToArray()[0], tolerance: 1e-6 * Math.Abs(once));
    }

    // ───────────────── determinism, buffers, validation ─────────────────

    [Fact]
    public void SameNoiseGivesIdenticalOutputs()
    {
        var random = new Random(10);
        using var backend = new CpuBackend(1);
        var head = backend.FromArray(MakeHead(random, Batch), Batch, HeadWidth);
        var noiseA = backend.Allocate(Batch, Dim);
        var noiseB = backend.Allocate(Batch, Dim);
        backend.RandomNormal(noiseA, seed: 42, counter: 1000);
        backend.RandomNormal(noiseB, seed: 42, counter: 1000);
        var first = Trainable(backend);
        var second = Trainable(backend);

        var (actionA, logProbA) = first.Distribution.Sample(head, noiseA);
        var (actionB, logProbB) = second.Distribution.Sample(head, noiseB);
        Assert.Equal(actionA.ToArray(), actionB.ToArray());
        Assert.Equal(logProbA.ToArray(), logProbB.ToArray());

        var expectedAction = actionA.ToArray();
        var (actionAgain, _) = first.Distribution.Sample(head, noiseA);
        Assert.Equal(expectedAction, actionAgain.ToArray());

        backend.RandomNormal(noiseB, seed: 42, counter: 2000);
        var (actionOther, _) = second.Distribution.Sample(head, noiseB);
        Assert.NotEqual(expectedAction, actionOther.ToArray());
    }

    [Fact]
    public void BatchSizesCanAlternateAndBackwardUsesTheLatestForward()
    {
        var random = new Random(11);
        using var backend = new CpuBackend(1);
        var bigHead = MakeHead(random, Batch);
        var smallHead = MakeHead(random, 2);
        var smallNoise = Normal(random, 2 * Dim, 2.0);
        var weights = Uniform(random, 2, -1, 1);
        var h = Trainable(backend);

        h.Distribution.Sample(backend.FromArray(bigHead, Batch, HeadWidth), backend.FromArray(Normal(random, Batch * Dim, 2.0), Batch, Dim));
        h.Distribution.Sample(backend.FromArray(smallHead, 2, HeadWidth), backend.FromArray(smallNoise, 2, Dim));
        var headGradient = h.Distribution.SampleBackward(null, backend.FromArray(weights, 2));

        var noiseD = ToDouble(smallNoise);
        double Loss(double[] x) => Dot(ReferenceSample(x, Multiplier, Offset, noiseD).LogProb, weights);
        AssertClose(CentralDifference(Loss, ToDouble(smallHead)), headGradient.ToArray(), 1e-3, 0.05, "∂L/∂head");
        Assert.Throws<ArgumentException>(() => h.Distribution.SampleBackward(null, backend.Allocate(Batch)));
    }

    [Fact]
    public void RepeatedCallsAllocateNothing()
    {
        var random = new Random(12);
        using var backend = new CpuBackend(1);
        var head = backend.FromArray(MakeHead(random, Batch), Batch, HeadWidth);
        var noise = backend.FromArray(Normal(random, Batch * Dim, 2.0), Batch, Dim);
        var actionGradient = backend.FromArray(Uniform(random, Batch * Dim, -1, 1), Batch, Dim);
        var logProbGradient = backend.FromArray(Uniform(random, Batch, -1, 1), Batch);
        var h = Trainable(backend);

        void Step()
        {
            var (action, _) = h.Distribution.Sample(head, noise);
            h.Distribution.SampleBackward(actionGradient, logProbGradient);
            h.Distribution.LogProb(head, action);
            h.Distribution.LogProbBackward(logProbGradient, computeHeadGradient: true);
            h.Distribution.DeterministicAction(head);
        }
        Step();
        Step();
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(Step));
    }

    [Fact]
    public void FrozenHeadGivesActionGradientsButNoHeadGradients()
    {
        var random = new Random(13);
        using var backend = new CpuBackend(1);
        var frozen = new TanhGaussian(backend, Dim, backend.FromArray([1f], 1), backend.FromArray([-1f], 1));
        var head = backend.FromArray(MakeHead(random, Batch), Batch, HeadWidth);

        Assert.False(frozen.IsTrainable);
        Assert.Throws<InvalidOperationException>(() => frozen.LogProbBackward(backend.Allocate(Batch), false));
        frozen.LogProb(head, backend.FromArray(Uniform(random, Batch * Dim, -0.5, 0.5), Batch, Dim));
        var (actionGradient, headGradient) = frozen.LogProbBackward(backend.FromArray(Uniform(random, Batch, 0.5, 1), Batch), computeHeadGradient: false);
        Assert.Null(headGradient);
        Assert.Contains(actionGradient.ToArray(), g => g != 0f);
        Assert.Throws<InvalidOperationException>(() => frozen.LogProbBackward(backend.Allocate(Batch), true));
        frozen.Sample(head, backend.Allocate(Batch, Dim));
        Assert.Throws<InvalidOperationException>(() => frozen.SampleBackward(null, backend.Allocate(Batch)));
    }

    [Fact]
    public void InvalidShapesThrowWithTheOffendingShape()
    {
        using var backend = new CpuBackend(1);
        var h = Trainable(backend);
        var head = backend.Allocate(Batch, HeadWidth);

        var wrongHead = Assert.Throws<ArgumentException>(() => h.Distribution.Sample(backend.Allocate(Batch, Dim), backend.Allocate(Batch, Dim)));
        Assert.Contains($"[{Batch}, {Dim}]", wrongHead.Message);
        var wrongNoise = Assert.Throws<ArgumentException>(() => h.Distribution.Sample(head, backend.Allocate(Batch + 1, Dim)));
        Assert.Contains($"[{Batch + 1}, {Dim}]", wrongNoise.Message);
        Assert.Throws<ArgumentException>(() => h.Distribution.LogProb(head, backend.Allocate(Batch, Dim + 1)));
        Assert.Throws<InvalidOperationException>(() => h.Distribution.SampleBackward(null, backend.Allocate(Batch)));
        h.Distribution.Sample(head, backend.Allocate(Batch, Dim));
        Assert.Throws<ArgumentException>(() => h.Distribution.SampleBackward(null, null));
        Assert.Throws<ArgumentException>(() => new TanhGaussian(backend, Dim, backend.Allocate(2), backend.Allocate(1)));
        using var other = new CpuBackend(1);
        Assert.Throws<ArgumentException>(() => h.Distribution.Sample(other.Allocate(Batch, HeadWidth), backend.Allocate(Batch, Dim)));
    }
}
