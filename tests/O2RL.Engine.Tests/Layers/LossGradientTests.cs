using O2RL.Engine;
using Xunit;

namespace O2RL.Engine.Tests;

/// <summary>Loss values and gradients against double-precision formulas and central differences.</summary>
public sealed class LossGradientTests
{
    static (float[] Prediction, float[] Target) Batch(int n, ulong seed)
    {
        var rng = new HostRandom(seed);
        return (Enumerable.Range(0, n).Select(_ => rng.Normal()).ToArray(), Enumerable.Range(0, n).Select(_ => rng.Normal()).ToArray());
    }

    [Fact]
    public void LossesMatchValuesWorkedByHand()
    {
        using var backend = new CpuBackend(1);
        var gradient = backend.Allocate(2); var loss = backend.Allocate(1);
        // MSE of p = (1, 3) against t = (0, 0): (1 + 9) / 2 = 5; ∂L/∂p = 2(p − t)/2 = (1, 3).
        backend.MseLoss(backend.FromArray([1f, 3f]), backend.FromArray([0f, 0f]), gradient, loss);
        Assert.Equal(5f, backend.ReadScalar(loss));
        Assert.Equal([1f, 3f], gradient.ToArray());
        // Expectile τ = 0.7 of p = (0, 1) against t = (1, −1): u = t − p = (1, −2), weights (0.7, 0.3);
        // L = (0.7·1 + 0.3·4) / 2 = 0.95; ∂L/∂p = −2·w·u/2 = (−0.7, 0.6).
        backend.ExpectileLoss(backend.FromArray([0f, 1f]), backend.FromArray([1f, -1f]), 0.7f, gradient, loss);
        Assert.Equal(0.95f, backend.ReadScalar(loss), 6);
        float[] g = gradient.ToArray();
        Assert.Equal(-0.7f, g[0], 6);
        Assert.Equal(0.6f, g[1], 6);
    }

    [Theory]
    [InlineData(1, 1f)]
    [InlineData(17, 1f)]
    [InlineData(257, 0.5f)]
    public void MseGradientMatchesFiniteDifferences(int n, float scale)
    {
        using var backend = new CpuBackend(1);
        var (p, t) = Batch(n, 3);
        var gradient = backend.Allocate(n); var loss = backend.Allocate(1);
        backend.MseLoss(backend.FromArray(p), backend.FromArray(t), gradient, loss, scale);
        double[] pd = DoubleReference.ToDouble(p), td = DoubleReference.ToDouble(t);
        double Loss(double[] x) => scale * x.Select((v, i) => (v - td[i]) * (v - td[i])).Average();
        Assert.Equal(Loss(pd), backend.ReadScalar(loss), 5);
        var expected = Enumerable.Range(0, n).Select(i => DoubleReference.CentralDifference(Loss, pd, i)).ToArray();
        DoubleReference.AssertClose(expected, gradient.ToArray(), 1e-4, 1e-7, "∂MSE/∂p");
    }

    [Theory]
    [InlineData(0.7f)]
    [InlineData(0.9f)]
    [InlineData(0.5f)]
    public void ExpectileGradientMatchesFiniteDifferences(float tau)
    {
        const int n = 33;
        using var backend = new CpuBackend(1);
        var (p, t) = Batch(n, 8);
        var gradient = backend.Allocate(n); var loss = backend.Allocate(1);
        backend.ExpectileLoss(backend.FromArray(p), backend.FromArray(t), tau, gradient, loss);
        double[] pd = DoubleReference.ToDouble(p), td = DoubleReference.ToDouble(t);
        double Loss(double[] x) => x.Select((v, i) => { double u = td[i] - v; return Math.Abs(tau - (u < 0 ? 1 : 0)) * u * u; }).Average();
        Assert.Equal(Loss(pd), backend.ReadScalar(loss), 5);
        var expected = Enumerable.Range(0, n).Select(i => DoubleReference.CentralDifference(Loss, pd, i)).ToArray();
        DoubleReference.AssertClose(expected, gradient.ToArray(), 1e-4, 1e-7, "∂expectile/∂p");
    }

    [Fact]
    public void ExpectileWeightsUnderestimatesByTau()
    {
        using var backend = new CpuBackend(1);
        var gradient = backend.Allocate(2); var loss = backend.Allocate(1);
        // u = t − p: +1 (prediction too low, weight τ) and −1 (too high, weight 1 − τ).
        backend.ExpectileLoss(backend.FromArray([0f, 2f]), backend.FromArray([1f, 1f]), 0.9f, gradient, loss);
        Assert.Equal((0.9f + 0.1f) / 2f, backend.ReadScalar(loss), 6);
        float[] g = gradient.ToArray();
        Assert.Equal(-0.9f, g[0], 6);
        Assert.Equal(0.1f, g[1], 6);
    }

    [Fact]
    public void ExpectileRejectsTauOutsideTheOpenInterval()
    {
        using var backend = new CpuBackend(1);
        var x = backend.Allocate(3);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => backend.ExpectileLoss(x, x, 1f, backend.Allocate(3), backend.Allocate(1)));
        Assert.Contains("(0, 1)", ex.Message);
    }

    /// <summary>
    /// SAC's fused actor loss L_π = mean[α·log π − min_e Q_e] and temperature loss L_α = −log α·(mean log π + H̄):
    /// values and ∂L_π/∂Q, ∂L_π/∂log π, ∂L_α/∂log α against double-precision central differences (the minimum is
    /// differentiable away from ties, which random values avoid).
    /// </summary>
    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 17)]
    [InlineData(3, 33)]
    public void SoftActorLossGradientsMatchFiniteDifferences(int critics, int batch)
    {
        using var backend = new CpuBackend(1);
        var rng = new HostRandom(11);
        float[] q = [.. Enumerable.Range(0, critics * batch).Select(_ => rng.Normal())];
        float[] logProb = [.. Enumerable.Range(0, batch).Select(_ => rng.Normal() - 1f)];
        const float alpha = 0.4f, logAlpha = -0.9f, targetEntropy = -3f;
        var qGradient = backend.Allocate(critics, batch); var logProbGradient = backend.Allocate(batch);
        var loss = backend.Allocate(1); var logAlphaGradient = backend.Allocate(1); var alphaLoss = backend.Allocate(1);
        backend.SoftActorLoss(backend.FromArray(q, critics, batch), backend.FromArray(logProb), backend.FromArray([alpha]), qGradient, logProbGradient, loss,
            backend.FromArray([logAlpha]), targetEntropy, logAlphaGradient, alphaLoss);

        // x = [Q (E·B), log π (B), log α]
        double[] x = [.. DoubleReference.ToDouble(q), .. DoubleReference.ToDouble(logProb), logAlpha];
        double ActorLoss(double[] v) => Enumerable.Range(0, batch)
            .Average(i => alpha * v[critics * batch + i] - Enumerable.Range(0, critics).Min(e => v[e * batch + i]));
        double AlphaLoss(double[] v) => -v[^1] * (Enumerable.Range(0, batch).Average(i => v[critics * batch + i]) + targetEntropy);
        Assert.Equal(ActorLoss(x), backend.ReadScalar(loss), 5);
        Assert.Equal(AlphaLoss(x), backend.ReadScalar(alphaLoss), 5);
        var expected = Enumerable.Range(0, critics * batch + batch).Select(i => DoubleReference.CentralDifference(ActorLoss, x, i)).ToArray();
        DoubleReference.AssertClose(expected[..(critics * batch)], qGradient.ToArray(), 1e-4, 1e-7, "∂L_π/∂Q");
        DoubleReference.AssertClose(expected[(critics * batch)..], logProbGradient.ToArray(), 1e-4, 1e-7, "∂L_π/∂log π");
        DoubleReference.AssertClose([DoubleReference.CentralDifference(AlphaLoss, x, x.Length - 1)], logAlphaGradient.ToArray(), 1e-4, 1e-7, "∂L_α/∂log α");
    }

    /// <summary>
    /// SAC's fused TD loss L_Q = Σ_e mean_i (Q_e,i − y_i)² with y = r + γ(1 − m)[min_e Q̄_e − α·log π′ − c] held
    /// constant: value and ∂L_Q/∂Q against double-precision central differences, and y itself.
    /// </summary>
    [Theory]
    [InlineData(1, 1, 4)]
    [InlineData(2, 2, 17)]
    [InlineData(10, 10, 9)]
    public void SoftTdLossGradientMatchesFiniteDifferences(int critics, int nextCritics, int batch)
    {
        using var backend = new CpuBackend(1);
        var rng = new HostRandom(12);
        float[] Draw(int n) => [.. Enumerable.Range(0, n).Select(_ => rng.Normal())];
        float[] q = Draw(critics * batch), nextQ = Draw(nextCritics * batch), nextLogProb = Draw(batch), cost = Draw(batch), rewards = Draw(batch);
        float[] terminals = [.. Enumerable.Range(0, batch).Select(i => i % 3 == 1 ? 1f : 0f)];
        const float alpha = 0.25f, gamma = 0.9f;
        var gradient = backend.Allocate(critics, batch); var loss = backend.Allocate(1); var meanQ = backend.Allocate(1); var target = backend.Allocate(batch);
        backend.SoftTdLoss(backend.FromArray(q, critics, batch), backend.FromArray(nextQ, nextCritics, batch), backend.FromArray(nextLogProb), backend.FromArray([alpha]),
            backend.FromArray(cost), backend.FromArray(rewards), backend.FromArray(terminals), gamma, gradient, loss, meanQ, target);

        double[] y = [.. Enumerable.Range(0, batch).Select(i => rewards[i] + (double)gamma * (1 - terminals[i])
            * (Enumerable.Range(0, nextCritics).Min(e => (double)nextQ[e * batch + i]) - (double)alpha * nextLogProb[i] - cost[i]))];
        DoubleReference.AssertClose(y, target.ToArray(), 1e-5, 1e-6, "y");
        double[] x = DoubleReference.ToDouble(q);
        double Loss(double[] v) => Enumerable.Range(0, critics).Sum(e => Enumerable.Range(0, batch).Average(i => (v[e * batch + i] - y[i]) * (v[e * batch + i] - y[i])));
        Assert.Equal(Loss(x), backend.ReadScalar(loss), 4);
        Assert.Equal(x.Average(), backend.ReadScalar(meanQ), 5);
        var expected = Enumerable.Range(0, x.Length).Select(i => DoubleReference.CentralDifference(Loss, x, i)).ToArray();
        DoubleReference.AssertClose(expected, gradient.ToArray(), 1e-4, 1e-6, "∂L_Q/∂Q");
    }
}
