using Xunit;
using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Engine.Tests;

/// <summary>
/// Finite-difference checks of every layer through whole networks: the engine's float backward against central
/// differences of an independent double-precision forward, for L = Σ output ⊙ R with a fixed random R.
/// </summary>
public sealed class MlpGradientTests
{
    public static TheoryData<bool, Activation, Activation, int, bool> Cases => new()
    {
        { false, Activation.Relu, Activation.Identity, 1, false },
        { true, Activation.Relu, Activation.Identity, 1, false },
        { false, Activation.Tanh, Activation.Tanh, 1, false },
        { true, Activation.Tanh, Activation.Identity, 1, false },
        { false, Activation.Relu, Activation.Identity, 2, true },
        { true, Activation.Relu, Activation.Tanh, 3, true },
        { true, Activation.Relu, Activation.Identity, 2, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardMatchesFiniteDifferencesInDouble(bool layerNorm, Activation hidden, Activation output, int members, bool sharedInput)
    {
        const int batch = 5, inDim = 4, outDim = 3;
        using var backend = new CpuBackend(1);
        var spec = new MlpSpec(inDim, [7, 6], outDim)
        {
            LayerNorm = layerNorm, HiddenActivation = hidden, OutputActivation = output,
            HiddenInit = new LayerInit(InitScheme.Orthogonal, 1.3f),
        };
        var net = new Mlp(backend, spec, seed: 11, members);
        if (layerNorm) // move γ, β off their trivial init so their gradients are exercised
            foreach (var entry in net.Parameters.Entries.Where(e => e.Name.EndsWith(".weight") && e.Shape[^1] != inDim && e.Shape.Length <= 2 && e.Length % 7 == 0 && e.Length < 49))
                net.Parameters.Write(entry.Name, Enumerable.Range(0, entry.Length).Select(i => 0.8f + 0.05f * i).ToArray());

        var rng = new HostRandom(5);
        int inputRows = sharedInput || members == 1 ? batch : members * batch;
        float[] x = Enumerable.Range(0, inputRows * inDim).Select(_ => rng.Normal()).ToArray();
        float[] r = Enumerable.Range(0, members * batch * outDim).Select(_ => rng.Normal()).ToArray();
        var input = members > 1 && !sharedInput ? backend.FromArray(x, members, batch, inDim) : backend.FromArray(x, batch, inDim);
        var dOut = members > 1 ? backend.FromArray(r, members, batch, outDim) : backend.FromArray(r, batch, outDim);

        var y = net.Forward(input);
        net.ZeroGradients();
        var dx = net.Backward(dOut, needInputGradient: true)!;
        float[] gradients = net.Parameters.Gradients.ToArray();
        float[] inputGradient = dx.ToArray();

        var parameters = net.Parameters.Entries.ToDictionary(e => e.Name, e => DoubleReference.ToDouble(net.Parameters.Read(e.Name)));
        double[] xd = DoubleReference.ToDouble(x);
        double[] forward = DoubleReference.MlpForward(spec, members, parameters, xd, batch, sharedInput || members == 1);
        DoubleReference.AssertClose(forward, y.ToArray(), 1e-4, 1e-5, "forward");

        double Loss() => DoubleReference.Dot(DoubleReference.MlpForward(spec, members, parameters, xd, batch, sharedInput || members == 1), r);
        foreach (var entry in net.Parameters.Entries)
        {
            var values = parameters[entry.Name];
            var expected = new double[values.Length];
            for (int i = 0; i < values.Length; i++) expected[i] = DoubleReference.CentralDifference(_ => Loss(), values, i);
            DoubleReference.AssertClose(expected, gradients.AsSpan(entry.Offset, entry.Length), 2e-3, 2e-4, entry.Name);
        }
        var inputExpected = new double[xd.Length];
        for (int i = 0; i < xd.Length; i++) inputExpected[i] = DoubleReference.CentralDifference(_ => Loss(), xd, i);
        DoubleReference.AssertClose(inputExpected, inputGradient, 2e-3, 2e-4, "input gradient");
    }

    [Theory]
    [InlineData(Activation.Relu, 1, 1, false)]
    [InlineData(Activation.Tanh, 1, 2, false)]
    [InlineData(Activation.Relu, 2, 2, false)]
    [InlineData(Activation.Relu, 1, 1, true)]
    [InlineData(Activation.Tanh, 2, 2, true)]
    [InlineData(Activation.Relu, 2, 1, true)]
    public void FusedActivationBackwardEqualsTheSeparatePassBitForBit(Activation hidden, int members, int threads, bool layerNorm)
    {
        // Each hidden activation's backward in the next layer's input-gradient GEMM against ActivationBackward after it;
        // with LayerNorm also its forward in the LayerNorm pass against a separate activation layer.
        using var backend = new CpuBackend(threads);
        var spec = new MlpSpec(23, [64, 48, 40], 5) { HiddenActivation = hidden, OutputActivation = Activation.Tanh, LayerNorm = layerNorm };
        var fused = new Mlp(backend, spec, seed: 7, members);
        Mlp separate;
        Mlp.FuseActivationBackward = false;
        try { separate = new Mlp(backend, spec, seed: 7, members); }
        finally { Mlp.FuseActivationBackward = true; }

        var random = new DeviceRandom(9);
        var x = backend.Allocate(70, 23);
        var dy = members == 1 ? backend.Allocate(70, 5) : backend.Allocate(members, 70, 5);
        random.Normal(x); random.Normal(dy);
        if (layerNorm)
        {
            Assert.DoesNotContain(fused.Layers, l => l is ActivationLayer);
            Assert.Equal(3, separate.Layers.Count(l => l is ActivationLayer));
            // LayerNorm's γ must not stay 1 for the check to see its gradient path: perturb both alike.
            var perturbation = backend.Allocate(fused.Parameters.Values.Length);
            random.Normal(perturbation);
            backend.Binary(BinaryOp.Add, fused.Parameters.Values, perturbation, fused.Parameters.Values, 1f, 0.05f);
            separate.Parameters.CopyValuesFrom(fused.Parameters);
        }
        var gradients = new List<float[]>();
        var outputs = new List<float[]>();
        foreach (var net in new[] { fused, separate })
        {
            outputs.Add(net.Forward(x).ToArray());
            net.ZeroGradients();
            gradients.Add(net.Backward(dy, needInputGradient: true)!.ToArray());
            gradients.Add(net.Parameters.Gradients.ToArray());
        }
        Assert.Equal(outputs[1], outputs[0]);
        Assert.Equal(gradients[2], gradients[0]);
        Assert.Equal(gradients[3], gradients[1]);
        Assert.Contains(gradients[1], g => g != 0f);
    }

    [Theory]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Tanh)]
    public void ALayerNormWithItsActivationAndNoFusedSuccessorAppliesTheActivationBackwardItself(Activation activation)
    {
        // Used on its own (no Linear after it), the layer's backward takes ∂L/∂y of y = act(LayerNorm(x)).
        using var backend = new CpuBackend(1);
        int rows = 5, features = 7;
        var parameters = new ParameterSet(backend, LayerNormLayer.ParameterCount(features));
        var layer = new LayerNormLayer(parameters, "norm", features, activation: activation);
        var plain = new ParameterSet(backend, LayerNormLayer.ParameterCount(features));
        var reference = new LayerNormLayer(plain, "norm", features);
        var random = new DeviceRandom(4);
        random.Normal(parameters.Values);
        plain.CopyValuesFrom(parameters);
        var x = backend.Allocate(rows, features);
        var dy = backend.Allocate(rows, features);
        random.Normal(x); random.Normal(dy);

        var y = layer.Forward(x);
        var z = reference.Forward(x);
        var expectedY = backend.Allocate(rows, features);
        backend.ActivationForward(activation, z, expectedY);
        Assert.Equal(expectedY.ToArray(), y.ToArray());

        var dz = backend.Allocate(rows, features);
        backend.ActivationBackward(activation, y, dy, dz);
        parameters.ZeroGradients(); plain.ZeroGradients();
        var dx = layer.Backward(dy)!.ToArray();
        var expectedDx = reference.Backward(dz)!.ToArray();
        Assert.Equal(expectedDx, dx);
        Assert.Equal(plain.Gradients.ToArray(), parameters.Gradients.ToArray());
        Assert.Contains(dx, v => v != 0f);
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardPassesInDifferentSlots()
    {
        using var backend = new CpuBackend(1);
        var net = new Mlp(backend, new MlpSpec(3, [8], 2), seed: 3);
        var a = backend.FromArray([1, 2, 3, -1, 0.5f, 2], 2, 3);
        var b = backend.FromArray([0.3f, -2, 1, 4, 0.1f, -0.2f], 2, 3);
        var d = backend.FromArray([1, -1, 0.5f, 2], 2, 2);

        net.ZeroGradients();
        net.Forward(a, slot: 0); net.Backward(d, slot: 0);
        float[] fromA = net.Parameters.Gradients.ToArray();
        net.ZeroGradients();
        net.Forward(b, slot: 1); net.Backward(d, slot: 1);
        float[] fromB = net.Parameters.Gradients.ToArray();

        net.ZeroGradients();
        net.Forward(a, slot: 0); net.Forward(b, slot: 1);
        net.Backward(d, slot: 1); net.Backward(d, slot: 0);
        float[] both = net.Parameters.Gradients.ToArray();
        for (int i = 0; i < both.Length; i++) Assert.Equal(fromA[i] + fromB[i], both[i], 5);
    }

    [Fact]
    public void BackwardWithoutForwardInSlotFailsClearly()
    {
        using var backend = new CpuBackend(1);
        var net = new Mlp(backend, new MlpSpec(3, [4], 1), seed: 1);
        var ex = Assert.Throws<InvalidOperationException>(() => net.Backward(backend.Allocate(2, 1), slot: 3));
        Assert.Contains("slot 3", ex.Message);
    }

    [Fact]
    public void WrongInputWidthNamesTheLayer()
    {
        using var backend = new CpuBackend(1);
        var net = new Mlp(backend, new MlpSpec(3, [4], 1), seed: 1);
        var ex = Assert.Throws<ArgumentException>(() => net.Forward(backend.Allocate(2, 5)));
        Assert.Contains("net.0", ex.Message);
        Assert.Contains("expected 3", ex.Message);
    }
}

public sealed class PropagateOnlyTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BackwardWithoutParameterGradientsGivesTheSameInputGradientAndLeavesGradientsAlone(bool layerNorm)
    {
        using var backend = new CpuBackend(1);
        var net = new Ensemble(backend, new MlpSpec(5, [16, 16], 1) { LayerNorm = layerNorm }, members: 2, seed: 3);
        var x = backend.Allocate(8, 5); var dy = backend.Allocate(2, 8, 1);
        var random = new DeviceRandom(4); random.Normal(x); random.Normal(dy);
        net.Forward(x);
        net.ZeroGradients();
        float[] full = net.Backward(dy, needInputGradient: true)!.ToArray();
        Assert.Contains(net.Parameters.Gradients.ToArray(), g => g != 0f);
        net.ZeroGradients();
        float[] propagated = net.Backward(dy, needInputGradient: true, accumulateParameterGradients: false)!.ToArray();
        Assert.Equal(full, propagated);
        Assert.All(net.Parameters.Gradients.ToArray(), g => Assert.Equal(0f, g));
    }
}
