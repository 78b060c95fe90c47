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
}
