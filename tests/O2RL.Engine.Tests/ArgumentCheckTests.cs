using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Kernels;
using Xunit;

namespace O2RL.Engine.Tests;

/// <summary>
/// Bad arguments to the public engine API: each used to crash the process, corrupt memory or give a silently wrong
/// result, and must now throw a .NET exception whose message names the problem. The checks live in the shared
/// <see cref="Backend"/> and layer code, so the CPU backend stands for all.
/// </summary>
public sealed class ArgumentCheckTests : IDisposable
{
    readonly CpuBackend backend = new(1);

    public void Dispose() => backend.Dispose();

    [Fact]
    public void OffsetsNearIntMaxValueAreOutOfRangeNotAnAccessViolation()
    {
        // offset + length wrapped negative in 32-bit arithmetic, passed the check, and the kernels read outside the array.
        var t = backend.FromArray([1, 2, 3, 4], 4);
        Assert.Contains("is outside a tensor of 4 elements", Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(int.MaxValue, 2)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.ReadScalar(t, int.MaxValue));
        var matrix = backend.Allocate(2, 3);
        Assert.Contains("outside a matrix of 2 rows", Assert.Throws<ArgumentOutOfRangeException>(() => matrix.SliceRows(int.MaxValue, 2)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => matrix.SliceRows(1, int.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.CopyColumns(backend.Allocate(2, 3), 1, backend.Allocate(2, 3), 1, int.MaxValue));
        Assert.Equal([3f, 4f], t.Slice(2, 2).ToArray());
    }

    [Fact]
    public void AnOutputGradientOfAnotherLayoutIsRefusedNamingTheLayer()
    {
        var input = backend.FromArray(new float[12], 4, 3);
        foreach (var activation in new[] { Activation.Tanh, Activation.Identity })
        {
            var mlp = new Mlp(backend, new MlpSpec(3, [8], 2) { OutputActivation = activation }, seed: 1);
            mlp.Forward(input);
            // [2, 4] has the output's 8 elements transposed: with an output activation it used to be accepted.
            var error = Assert.Throws<ArgumentException>(() => mlp.Backward(backend.Allocate(2, 4)));
            Assert.Contains("output gradient [2, 4] does not match the output [4, 2]", error.Message);
            Assert.Throws<ArgumentException>(() => mlp.Backward(backend.Allocate(3, 2)));
            mlp.Backward(backend.Allocate(4, 2));
        }
        // A [B, 1] head needs a [B, 1] gradient: a GEMM cannot read a rank-1 one.
        var critic = new Mlp(backend, new MlpSpec(3, [8], 1), seed: 2);
        critic.Forward(input);
        Assert.Contains("output gradient [4] does not match the output [4, 1]", Assert.Throws<ArgumentException>(() => critic.Backward(backend.Allocate(4))).Message);
        critic.Backward(backend.Allocate(4, 1));
    }

    [Fact]
    public void LossesRefuseATransposedTargetAndAnEmptyBatch()
    {
        var gradient = backend.Allocate(4, 2);
        var loss = backend.Allocate(1);
        var error = Assert.Throws<ArgumentException>(() => backend.MseLoss(backend.Allocate(4, 2), backend.Allocate(2, 4), gradient, loss));
        Assert.Contains("prediction [4, 2] and target [2, 4] have the same length but different layouts", error.Message);
        Assert.Throws<ArgumentException>(() => backend.ExpectileLoss(backend.Allocate(4, 2), backend.Allocate(2, 4), 0.7f, gradient, loss));
        // Vectors pair alike whichever way they are shaped.
        backend.MseLoss(backend.FromArray([1, 2, 3, 4], 4, 1), backend.FromArray([1, 2, 3, 5], 1, 4), backend.Allocate(4), loss);
        Assert.Equal(0.25f, backend.ReadScalar(loss));
        backend.MseLoss(backend.FromArray([1, 2, 3, 4], 4, 1), backend.FromArray([1, 2, 3, 5], 4), backend.Allocate(4, 1), loss);
        Assert.Equal(0.25f, backend.ReadScalar(loss));
        // 0/0 used to be logged as a NaN loss.
        Assert.Contains("empty batch", Assert.Throws<ArgumentException>(() => backend.MseLoss(backend.Allocate(0, 1), backend.Allocate(0, 1), backend.Allocate(0, 1), loss)).Message);
    }

    [Fact]
    public void OptimiserSettingsThatWouldMakeEveryParameterNaNAreRefused()
    {
        var mlp = new Mlp(backend, new MlpSpec(3, [8], 2), seed: 1);
        Assert.Contains("β1 must be in [0, 1)", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(mlp.Parameters, 1e-3f, beta1: 1f)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(mlp.Parameters, 1e-3f, beta2: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(mlp.Parameters, 1e-3f, epsilon: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(mlp.Parameters, float.PositiveInfinity));
        Assert.Contains("must match parameters", Assert.Throws<ArgumentException>(() => new Adam(backend.Allocate(10), backend.Allocate(5), 1e-3f)).Message);

        var adam = new Adam(mlp.Parameters, 1e-3f);
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = float.NaN);
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = -5f);
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.MaxGradientNorm = 0f);
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.StepCount = -1);
        Assert.Equal(1e-3f, adam.LearningRate);
        adam.LearningRate = 0f; // frozen networks are allowed
        adam.MaxGradientNorm = null;
        adam.Step();
        Assert.All(mlp.Parameters.Values.ToArray(), v => Assert.True(float.IsFinite(v)));

        var target = new Mlp(backend, new MlpSpec(3, [8], 2), seed: 2);
        Assert.Contains("Polyak τ must be in [0, 1]", Assert.Throws<ArgumentOutOfRangeException>(() => target.Parameters.PolyakFrom(mlp.Parameters, float.NaN)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.RandomUniform(backend.Allocate(4), 1, 0, low: 1f, high: 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.RandomNormal(backend.Allocate(4), 1, 0, std: float.NaN));
    }

    [Fact]
    public void ATensorOfAnotherBackendInstanceIsNamedAsSuch()
    {
        // The message used to say "lives on cpu (1 thread), not on cpu (1 thread)".
        using var other = new CpuBackend(1);
        var mlp = new Mlp(backend, new MlpSpec(3, [8], 2), seed: 1);
        var error = Assert.Throws<ArgumentException>(() => mlp.Forward(other.Allocate(4, 3)));
        Assert.Contains("belongs to another backend instance", error.Message);
    }

    [Fact]
    public void EveryOpOfADisposedBackendThrowsObjectDisposed()
    {
        var disposed = new CpuBackend(2);
        var x = disposed.Allocate(256, 256);
        disposed.Dispose();
        disposed.Dispose(); // twice is harmless
        Assert.True(disposed.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => disposed.Allocate(4));
        Assert.Throws<ObjectDisposedException>(() => disposed.Fill(x, 1f));
        Assert.Throws<ObjectDisposedException>(() => disposed.Gemm(x, false, x, false, x));
    }

    [Fact]
    public void DivergedWeightsInACheckpointAreRefusedNamingTheTensor()
    {
        var mlp = new Mlp(backend, new MlpSpec(3, [8], 2), seed: 1);
        var tensors = mlp.Parameters.ToNamedTensors("actor").ToList();
        var broken = tensors.Select(t => t.Name == "actor.net.2.bias"
            ? new NamedTensor(t.Name, t.Shape, [.. t.Data.Take(1), float.NaN])
            : t).ToList();
        var checkpoint = new Checkpoint(broken.ToDictionary(t => t.Name), new Dictionary<string, string>());
        var before = mlp.Parameters.Values.ToArray();
        var error = Assert.Throws<ArgumentException>(() => mlp.Parameters.LoadFrom(checkpoint, "actor"));
        Assert.Contains("tensor 'actor.net.2.bias' has the non-finite value NaN at element 1", error.Message);
        Assert.Equal(before, mlp.Parameters.Values.ToArray());
    }

    [Fact]
    public void ANullHiddenLayerListIsNamed()
    {
        var error = Assert.Throws<ArgumentException>(() => new MlpSpec(3, null!, 2).Validate());
        Assert.Contains("HiddenDims is null", error.Message);
    }
}
