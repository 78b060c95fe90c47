using Xunit;
using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Engine.Tests;

public sealed class InitAndOptimizerTests
{
    [Theory]
    [InlineData(6, 4)]
    [InlineData(4, 6)]
    [InlineData(5, 5)]
    public void OrthogonalInitHasOrthonormalRowsOrColumns(int rows, int cols)
    {
        var w = new float[rows * cols];
        Initializers.Orthogonal(rows, cols, 2f, new HostRandom(9), w);
        // WᵀW = g²I when rows ≥ cols, WWᵀ = g²I otherwise.
        int n = Math.Min(rows, cols);
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
            {
                double dot = 0;
                for (int k = 0; k < Math.Max(rows, cols); k++)
                    dot += rows >= cols ? w[k * cols + a] * w[k * cols + b] : w[a * cols + k] * w[b * cols + k];
                Assert.Equal(a == b ? 4.0 : 0.0, dot, 4);
            }
    }

    [Fact]
    public void DefaultAndXavierInitRespectTheirBounds()
    {
        using var backend = new CpuBackend(1);
        var spec = new MlpSpec(16, [32], 4) { OutputInit = new LayerInit(InitScheme.XavierUniform, 0.01f) };
        var net = new Mlp(backend, spec, seed: 1);
        float hiddenBound = 1f / MathF.Sqrt(16);
        Assert.All(net.Parameters.Read("net.0.weight"), v => Assert.InRange(v, -hiddenBound, hiddenBound));
        Assert.All(net.Parameters.Read("net.0.bias"), v => Assert.InRange(v, -hiddenBound, hiddenBound));
        float xavier = 0.01f * MathF.Sqrt(6f / (32 + 4));
        Assert.All(net.Parameters.Read("net.2.weight"), v => Assert.InRange(v, -xavier, xavier));
        Assert.All(net.Parameters.Read("net.2.bias"), v => Assert.Equal(0f, v));
        Assert.True(net.Parameters.Read("net.0.weight").Distinct().Count() > 400, "weights are not all the same draw");
    }

    [Fact]
    public void ParameterNamesFollowSequentialNumbering()
    {
        using var backend = new CpuBackend(1);
        var withNorm = new Mlp(backend, new MlpSpec(3, [8, 8], 1) { LayerNorm = true }, seed: 1);
        Assert.Equal(["net.0.weight", "net.0.bias", "net.1.weight", "net.1.bias", "net.3.weight", "net.3.bias", "net.4.weight", "net.4.bias", "net.6.weight", "net.6.bias"],
            withNorm.Parameters.Entries.Select(e => e.Name));
        var plain = new Mlp(backend, new MlpSpec(3, [8, 8], 1), seed: 1);
        Assert.Equal(["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias"], plain.Parameters.Entries.Select(e => e.Name));
        Assert.True(plain.Parameters.IsFullyAssigned && withNorm.Parameters.IsFullyAssigned);
    }

    [Fact]
    public void AdamMatchesPyTorchFormulaOverSeveralSteps()
    {
        using var backend = new CpuBackend(1);
        float[] p0 = [0.5f, -1f, 2f, 0f, 3f];
        var p = backend.FromArray(p0);
        var g = backend.Allocate(5);
        var adam = new Adam(p, g, learningRate: 0.01f);
        double[] pd = Array.ConvertAll(p0, v => (double)v), m = new double[5], v = new double[5];
        for (int t = 1; t <= 4; t++)
        {
            float[] grad = [0.1f * t, -0.3f, 1f / t, 2f, -0.05f];
            backend.Upload(grad, g);
            adam.Step();
            for (int i = 0; i < 5; i++)
            {
                m[i] = 0.9 * m[i] + 0.1 * grad[i];
                v[i] = 0.999 * v[i] + 0.001 * grad[i] * grad[i];
                double mHat = m[i] / (1 - Math.Pow(0.9, t)), vHat = v[i] / (1 - Math.Pow(0.999, t));
                pd[i] -= 0.01 * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
        }
        DoubleReference.AssertClose(pd, p.ToArray(), 1e-5, 1e-6, "Adam parameters");
    }

    [Fact]
    public void EveryParameterMovesAfterOneAdamStep()
    {
        using var backend = new CpuBackend(1);
        var net = new Ensemble(backend, new MlpSpec(5, [16, 16], 1) { LayerNorm = true }, members: 2, seed: 4);
        var adam = new Adam(net.Parameters, 1e-3f);
        float[] before = net.Parameters.Values.ToArray();
        var rng = new DeviceRandom(1);
        var x = backend.Allocate(256, 5); rng.Normal(x);
        var target = backend.Allocate(2, 256, 1); rng.Normal(target);
        var dy = backend.Allocate(2, 256, 1); var loss = backend.Allocate(1);
        var y = net.Forward(x);
        backend.MseLoss(y, target, dy, loss);
        net.ZeroGradients();
        net.Backward(dy);
        adam.Step();
        float[] after = net.Parameters.Values.ToArray();
        foreach (var entry in net.Parameters.Entries)
            for (int i = 0; i < entry.Length; i++)
                Assert.True(before[entry.Offset + i] != after[entry.Offset + i], $"{entry.Name}[{i}] did not move");
    }

    [Fact]
    public void AStepThenPolyakIsAStepThenPolyakFrom()
    {
        // A critic's step and its target update in one call, against Step then PolyakFrom on a twin network, with
        // clipping on: the same bits in both networks and both targets.
        using var backend = new CpuBackend(1);
        var spec = new MlpSpec(5, [16, 16], 1) { LayerNorm = true };
        Ensemble Net(ulong seed) => new(backend, spec, members: 2, seed: seed);
        var (netOne, netTwo, targetOne, targetTwo) = (Net(4), Net(4), Net(7), Net(7));
        var adamOne = new Adam(netOne.Parameters, 1e-3f) { MaxGradientNorm = 0.5f };
        var adamTwo = new Adam(netTwo.Parameters, 1e-3f) { MaxGradientNorm = 0.5f };
        var rng = new DeviceRandom(1);
        var x = backend.Allocate(64, 5); rng.Normal(x);
        var target = backend.Allocate(2, 64, 1); rng.Normal(target);
        var dy = backend.Allocate(2, 64, 1); var loss = backend.Allocate(1);
        float[] targetBefore = targetOne.Parameters.Values.ToArray();
        for (int step = 0; step < 3; step++)
            foreach (var (net, adam, next) in new[] { (netOne, adamOne, targetOne), (netTwo, adamTwo, targetTwo) })
            {
                backend.MseLoss(net.Forward(x), target, dy, loss);
                net.ZeroGradients();
                net.Backward(dy);
                if (net == netOne) adam.StepThenPolyak(next.Parameters, 0.005f);
                else { adam.Step(); next.Parameters.PolyakFrom(net.Parameters, 0.005f); }
            }
        Assert.Equal(netTwo.Parameters.Values.ToArray(), netOne.Parameters.Values.ToArray());
        Assert.Equal(targetTwo.Parameters.Values.ToArray(), targetOne.Parameters.Values.ToArray());
        Assert.NotEqual(targetBefore, targetOne.Parameters.Values.ToArray());
        Assert.Equal(3, adamOne.StepCount);
        // A target of another size is refused before anything moves.
        var other = new Ensemble(backend, new MlpSpec(5, [8], 1), members: 2, seed: 1);
        Assert.Contains("Polyak target", Assert.Throws<ArgumentException>(() => adamOne.StepThenPolyak(other.Parameters, 0.005f)).Message);
        Assert.Equal(3, adamOne.StepCount);
    }

    [Fact]
    public void GradientClippingCapsTheGlobalNorm()
    {
        using var backend = new CpuBackend(1);
        var p = backend.Allocate(4);
        var g = backend.FromArray([3f, 4f, 0f, 0f]);
        var adam = new Adam(p, g, 0.1f) { MaxGradientNorm = 1f };
        adam.Step();
        Assert.Equal(5f, backend.ReadScalar(adam.GradientNorm), 5);
        float[] clipped = g.ToArray();
        Assert.Equal(1.0, Math.Sqrt(clipped.Sum(v => (double)v * v)), 4);
    }

    [Fact]
    public void TrainingIsBitIdenticalForOneSeed()
    {
        float[] Train()
        {
            using var backend = new CpuBackend(2);
            var net = new Mlp(backend, new MlpSpec(17, [64, 64], 1) { LayerNorm = true, HiddenInit = new LayerInit(InitScheme.Orthogonal) }, seed: 7);
            var adam = new Adam(net.Parameters, 3e-4f);
            var rng = new DeviceRandom(42);
            var x = backend.Allocate(64, 17); var target = backend.Allocate(64, 1);
            var dy = backend.Allocate(64, 1); var loss = backend.Allocate(1);
            for (int step = 0; step < 20; step++)
            {
                rng.Normal(x); rng.Uniform(target, -1, 1);
                var y = net.Forward(x);
                backend.MseLoss(y, target, dy, loss);
                net.ZeroGradients();
                net.Backward(dy);
                adam.Step();
            }
            return net.Parameters.Values.ToArray();
        }
        Assert.Equal(Train(), Train());
    }

    [Fact]
    public void AnMlpLearnsASmoothFunction()
    {
        using var backend = new CpuBackend(1);
        var net = new Mlp(backend, new MlpSpec(1, [32, 32], 1), seed: 2);
        var adam = new Adam(net.Parameters, 3e-3f);
        var x = backend.Allocate(128, 1); var target = backend.Allocate(128, 1);
        var dy = backend.Allocate(128, 1); var loss = backend.Allocate(1);
        var rng = new DeviceRandom(3);
        float last = float.NaN;
        for (int step = 0; step < 600; step++)
        {
            rng.Uniform(x, -2, 2);
            backend.Unary(UnaryOp.Tanh, x, target);        // learn y = tanh(x)·0.5 + 0.25
            backend.Unary(UnaryOp.Affine, target, target, 0.5f, 0.25f);
            backend.MseLoss(net.Forward(x), target, dy, loss);
            net.ZeroGradients();
            net.Backward(dy);
            adam.Step();
            last = backend.ReadScalar(loss);
        }
        Assert.True(last < 2e-3f, $"final MSE {last}");
    }
}

public sealed class AllocationTests
{
    [Fact]
    public void TrainingStepsAllocateNothingAfterTheFirst()
    {
        using var backend = new CpuBackend(2);
        var critic = new Ensemble(backend, new MlpSpec(23, [64, 64], 1) { LayerNorm = true }, members: 2, seed: 1);
        var actor = new Mlp(backend, new MlpSpec(17, [64, 64], 6) { OutputActivation = O2RL.Kernels.Activation.Tanh }, seed: 2);
        var criticAdam = new Adam(critic.Parameters, 3e-4f) { MaxGradientNorm = 10f };
        var actorAdam = new Adam(actor.Parameters, 3e-4f);
        var random = new DeviceRandom(3);
        var x = backend.Allocate(256, 23); var s = backend.Allocate(256, 17);
        var target = backend.Allocate(2, 256, 1); var dq = backend.Allocate(2, 256, 1); var loss = backend.Allocate(1);
        var da = backend.Allocate(256, 6);
        void Step()
        {
            random.Normal(x); random.Normal(s); random.Normal(target); random.Normal(da);
            backend.MseLoss(critic.Forward(x), target, dq, loss);
            critic.ZeroGradients();
            critic.Backward(dq, needInputGradient: true);
            criticAdam.Step();
            actor.Forward(s, slot: 1);
            actor.ZeroGradients();
            actor.Backward(da, slot: 1);
            actorAdam.Step();
            critic.Parameters.PolyakFrom(critic.Parameters, 0.005f);
        }
        for (int i = 0; i < 3; i++) Step();
        long allocated = O2RL.Tests.AllocationMeter.BytesAllocated(() => { for (int i = 0; i < 20; i++) Step(); });
        Assert.True(allocated == 0, $"{allocated} bytes allocated in 20 steady-state steps");
    }
}
