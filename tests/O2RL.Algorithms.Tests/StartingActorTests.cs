using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.Networks;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>Starting actors from our checkpoints and PyTorch state_dicts, and every cross-family conversion.</summary>
public sealed class StartingActorTests : IDisposable
{
    const int ObsDim = 5, ActionDim = 3, Batch = 7;
    static readonly int[] Hidden = [16, 12];
    readonly CpuBackend backend = new(1);
    readonly string folder = Directory.CreateTempSubdirectory("o2rl-starting-").FullName;

    public void Dispose() { backend.Dispose(); Directory.Delete(folder, recursive: true); }

    Tensor Observations()
    {
        var random = new Random(3);
        var values = new float[Batch * ObsDim];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
        return backend.FromArray(values, Batch, ObsDim);
    }

    /// <summary>Random weights with a visible spread (default inits make tiny outputs).</summary>
    static void Scramble(ParameterSet parameters, int seed)
    {
        var random = new Random(seed);
        foreach (var entry in parameters.Entries)
        {
            var values = new float[entry.Length];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() - 0.5);
            parameters.Write(entry.Name, values);
        }
    }

    string Save(ParameterSet parameters, bool pytorchLayout, string name, Dictionary<string, string>? metadata = null, IEnumerable<NamedTensor>? extra = null)
    {
        string path = Path.Combine(folder, name + ".safetensors");
        var tensors = parameters.ToNamedTensors(pytorchLayout ? "" : "actor").ToList();
        if (extra is not null) tensors.AddRange(extra);
        SafetensorsFile.Write(path, tensors, metadata);
        return path;
    }

    (ParameterSet Parameters, Func<Tensor, float[]> Act) Source(ActorFamily family)
    {
        switch (family)
        {
            case ActorFamily.TanhGaussian:
            {
                var actor = new TanhGaussianActor(backend, ObsDim, ActionDim, 1, hiddenDims: Hidden);
                Scramble(actor.Parameters, 11);
                return (actor.Parameters, obs => actor.DeterministicAction(obs).ToArray());
            }
            case ActorFamily.Deterministic:
            {
                var actor = new DeterministicActor(backend, ObsDim, ActionDim, 1, Hidden);
                Scramble(actor.Parameters, 12);
                return (actor.Parameters, obs => actor.Forward(obs).ToArray());
            }
            default:
            {
                var actor = new GaussianActor(backend, ObsDim, ActionDim, 1, -20f, hiddenDims: Hidden);
                Scramble(actor.Parameters, 13);
                return (actor.Parameters, obs => actor.Mean(obs).ToArray());
            }
        }
    }

    public static TheoryData<ActorFamily, ActorFamily, bool> Pairs()
    {
        var data = new TheoryData<ActorFamily, ActorFamily, bool>();
        foreach (var source in Enum.GetValues<ActorFamily>())
            foreach (var target in Enum.GetValues<ActorFamily>())
                foreach (bool pytorch in new[] { false, true })
                    data.Add(source, target, pytorch);
        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void EveryConversion_KeepsTheDeterministicAction(ActorFamily source, ActorFamily target, bool pytorchLayout)
    {
        var (parameters, act) = Source(source);
        // Ours record their algorithm; a PyTorch state_dict records none.
        string path = Save(parameters, pytorchLayout, $"{source}-{pytorchLayout}", pytorchLayout ? null : new() { ["algorithm"] = "test" });
        var starting = StartingActor.Load(path);
        Assert.Equal(source, starting.Family);
        Assert.Equal(pytorchLayout ? "pytorch" : "o2rl", starting.Layout);
        Assert.Equal(pytorchLayout, starting.FromPyTorch);
        Assert.Equal((ObsDim, ActionDim), (starting.ObsDim, starting.ActionDim));
        Assert.Equal(Hidden, starting.HiddenDims);

        var obs = Observations();
        float[] expected = act(obs);
        float[] actual = target switch
        {
            ActorFamily.TanhGaussian => starting.ToTanhGaussian(backend, 0.2f).DeterministicAction(obs).ToArray(),
            ActorFamily.Deterministic => starting.ToDeterministic(backend).Forward(obs).ToArray(),
            _ => starting.ToGaussian(backend, -10f, 0.2f).Mean(obs).ToArray(),
        };
        // The tanh-Gaussian's deterministic action is clamped to ±0.9999; everything else is the same tanh.
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(Math.Clamp(expected[i], -0.9999f, 0.9999f), Math.Clamp(actual[i], -0.9999f, 0.9999f), 5);
        Assert.Contains(starting.IsDirect(target) ? "directly" : "converted", starting.DescribeTransfer(target));
    }

    [Fact]
    public void IntoTanhGaussian_TheSpreadComesFromTheGaussiansLogStdOrTheInitialStd()
    {
        var (gaussian, _) = Source(ActorFamily.Gaussian);
        gaussian.Write("log_std", [-1f, -25f, 0.5f]);
        var fromGaussian = StartingActor.Load(Save(gaussian, true, "g")).ToTanhGaussian(backend);
        float[] bias = fromGaussian.Parameters.Read("base_network.4.bias");
        Assert.Equal([-1f, -20f, 0.5f], bias[ActionDim..]);
        Assert.All(fromGaussian.Parameters.Read("base_network.4.weight")[(ActionDim * Hidden[^1])..], w => Assert.Equal(0f, w));
        Assert.Equal([1f], fromGaussian.Parameters.Read("log_std_multiplier.constant"));
        Assert.Equal([0f], fromGaussian.Parameters.Read("log_std_offset.constant"));

        var (deterministic, _) = Source(ActorFamily.Deterministic);
        var fromDeterministic = StartingActor.Load(Save(deterministic, false, "d")).ToTanhGaussian(backend, initialStd: 0.3f);
        Assert.All(fromDeterministic.Parameters.Read("base_network.4.bias")[ActionDim..], b => Assert.Equal(MathF.Log(0.3f), b, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => StartingActor.Load(Save(deterministic, false, "d2")).ToTanhGaussian(backend, initialStd: 0f));
    }

    [Fact]
    public void APyTorchTanhGaussianWithZeroDimensionalScalarsLoadsForFineTuning()
    {
        // CORL's Scalar module saves log_std_multiplier / log_std_offset as 0-dim tensors (shape []), not [1].
        var (tanhGaussian, act) = Source(ActorFamily.TanhGaussian);
        tanhGaussian.Write("log_std_multiplier.constant", [1.5f]);
        tanhGaussian.Write("log_std_offset.constant", [-0.25f]);
        string path = Path.Combine(folder, "corl-scalars.safetensors");
        SafetensorsFile.Write(path, [.. tanhGaussian.ToNamedTensors("").Select(t => t.Name.EndsWith(".constant", StringComparison.Ordinal)
            ? new NamedTensor(t.Name, [], t.Data) : t)]);
        Assert.Empty(SafetensorsFile.Read(path).Tensors["log_std_offset.constant"].Shape);
        var starting = StartingActor.Load(path);
        Assert.Equal(("pytorch", ActorFamily.TanhGaussian), (starting.Layout, starting.Family));
        var actor = starting.ToTanhGaussian(backend);
        Assert.Equal([1.5f], actor.Parameters.Read("log_std_multiplier.constant"));
        Assert.Equal([-0.25f], actor.Parameters.Read("log_std_offset.constant"));
        var obs = Observations();
        Assert.Equal(act(obs), actor.DeterministicAction(obs).ToArray());
    }

    [Fact]
    public void IntoGaussian_LogStdIsTheTanhGaussiansStateIndependentPart()
    {
        var (tanhGaussian, _) = Source(ActorFamily.TanhGaussian);
        tanhGaussian.Write("log_std_multiplier.constant", [2f]);
        tanhGaussian.Write("log_std_offset.constant", [-0.5f]);
        float[] bias = tanhGaussian.Read("base_network.4.bias");
        var gaussian = StartingActor.Load(Save(tanhGaussian, false, "tg")).ToGaussian(backend, -10f);
        float[] logStd = gaussian.Parameters.Read("log_std");
        for (int j = 0; j < ActionDim; j++) Assert.Equal(Math.Clamp(2f * bias[ActionDim + j] - 0.5f, -10f, 2f), logStd[j], 6);
    }

    [Fact]
    public void Normalizer_IsReadFromTensorsOrFromMetadata()
    {
        var (parameters, _) = Source(ActorFamily.Deterministic);
        float[] mean = [1, 2, 3, 4, 5], std = [0.5f, 1, 1.5f, 2, 2.5f];
        var fromTensors = StartingActor.Load(Save(parameters, false, "t", extra:
            [new NamedTensor("obs_mean", [ObsDim], mean), new NamedTensor("obs_std", [ObsDim], std)]));
        Assert.Equal(mean, fromTensors.Normalizer!.Mean);
        var fromMetadata = StartingActor.Load(Save(parameters, false, "m",
            new Dictionary<string, string> { ["obs_mean"] = "1,2,3,4,5", ["obs_std"] = "0.5,1,1.5,2,2.5", ["algorithm"] = "td3_bc" }));
        Assert.Equal(std, fromMetadata.Normalizer!.Std);
        Assert.Equal("td3_bc", fromMetadata.Algorithm);
        Assert.Null(StartingActor.Load(Save(parameters, true, "none")).Normalizer);
        var wrong = Assert.Throws<CheckpointFormatException>(() => StartingActor.Load(Save(parameters, false, "w",
            new Dictionary<string, string> { ["obs_mean"] = "1,2", ["obs_std"] = "1,1" })));
        Assert.Contains("obs_mean has 2", wrong.Message);
    }

    [Fact]
    public void UnknownLayout_AndMismatchedDimensions_FailClearly()
    {
        string path = Path.Combine(folder, "other.safetensors");
        SafetensorsFile.Write(path, [new NamedTensor("encoder.layer.weight", [4, 3], new float[12])]);
        var error = Assert.Throws<CheckpointFormatException>(() => StartingActor.Load(path));
        Assert.Contains("encoder.layer.weight [4, 3]", error.Message);
        Assert.Throws<FileNotFoundException>(() => StartingActor.Load(Path.Combine(folder, "missing.safetensors")));

        var (parameters, _) = Source(ActorFamily.Gaussian);
        var starting = StartingActor.Load(Save(parameters, true, "g"));
        var mismatch = Assert.Throws<InvalidDataException>(() => starting.CheckDimensions(11, 3, "Hopper-v2"));
        Assert.Contains("takes 5 observations", mismatch.Message);
        starting.CheckDimensions(ObsDim, ActionDim, "toy");
    }

    /// <summary>Writes <paramref name="parameters"/> with every name passed through <paramref name="rename"/>, no metadata (a PyTorch file).</summary>
    string SaveRenamed(ParameterSet parameters, string name, Func<string, string> rename, IEnumerable<NamedTensor>? extra = null)
    {
        string path = Path.Combine(folder, name + ".safetensors");
        var tensors = parameters.ToNamedTensors("").Select(t => new NamedTensor(rename(t.Name), t.Shape, t.Data)).ToList();
        if (extra is not null) tensors.AddRange(extra);
        SafetensorsFile.Write(path, tensors);
        return path;
    }

    [Fact]
    public void PyTorchFilesAreRecognisedUnderWrappersAndAsFlattenedAgents()
    {
        // A flattened CORL agent keeps its actor under 'actor.' as ours do, but records no algorithm and no
        // normalisation: it is a PyTorch file (before, it was taken for ours and run on raw states by O2TD3).
        var (parameters, act) = Source(ActorFamily.Deterministic);
        var obs = Observations();
        float[] expected = act(obs);
        var critic = new NamedTensor("critic_1.net.0.weight", [4, ObsDim + ActionDim], new float[4 * (ObsDim + ActionDim)]);
        foreach (string wrapper in new[] { "actor.", "module.", "_orig_mod.", "module._orig_mod.", "policy.", "agent.actor." })
        {
            var starting = StartingActor.Load(SaveRenamed(parameters, "w" + wrapper.Replace('.', '_'), n => wrapper + n, [critic]));
            Assert.True(starting.FromPyTorch, wrapper);
            Assert.Equal(ActorFamily.Deterministic, starting.Family);
            Assert.StartsWith("pytorch", starting.Layout);
            Assert.Equal(expected, starting.ToDeterministic(backend).Forward(obs).ToArray());
        }
    }

    [Fact]
    public void DropoutGapsIqlsDeterministicPolicyAndCorlBuffersLoad_LayerNormIsRefusedByName()
    {
        var obs = Observations();
        // CORL's IQL with actor dropout: Linear, ReLU, Dropout → Linear layers at net.net.0, 3, 6.
        var (gaussian, actGaussian) = Source(ActorFamily.Gaussian);
        var withDropout = StartingActor.Load(SaveRenamed(gaussian, "dropout", n => n.StartsWith("net.net.", StringComparison.Ordinal)
            ? $"net.net.{int.Parse(n.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture) / 2 * 3}.{n.Split('.')[3]}" : n));
        Assert.Equal(Hidden, withDropout.HiddenDims);
        Assert.Equal(actGaussian(obs), withDropout.ToGaussian(backend, -20f).Mean(obs).ToArray());
        Assert.Equal(actGaussian(obs), withDropout.ToDeterministic(backend).Forward(obs).ToArray());

        // CORL's IQL deterministic policy: tanh(MLP) under net.net, no log_std; with the constants registered as buffers.
        var (deterministic, actDeterministic) = Source(ActorFamily.Deterministic);
        float[] mean = [1, 2, 3, 4, 5], std = [2, 2, 2, 2, 2];
        var iqlDeterministic = StartingActor.Load(SaveRenamed(deterministic, "iqldet", n => "net." + n,
            [new NamedTensor("state_mean", [ObsDim], mean), new NamedTensor("state_std", [ObsDim], std)]));
        Assert.Equal(ActorFamily.Deterministic, iqlDeterministic.Family);
        Assert.Equal(actDeterministic(obs), iqlDeterministic.ToDeterministic(backend).Forward(obs).ToArray());
        Assert.Equal(mean, iqlDeterministic.Normalizer!.Mean);

        // LayerNorm between the Linear layers: named, not "needs at least one hidden layer".
        var layerNorm = SaveRenamed(deterministic, "ln", n => n, [new NamedTensor("net.1.weight", [Hidden[0]], new float[Hidden[0]]),
            new NamedTensor("net.1.bias", [Hidden[0]], new float[Hidden[0]])]);
        var refused = Assert.Throws<CheckpointFormatException>(() => StartingActor.Load(layerNorm));
        Assert.Contains("net.1.weight [16] is a normalisation layer (LayerNorm)", refused.Message);
    }

    [Fact]
    public void NonFiniteValuesAreRefusedInTheActorOnly()
    {
        var (parameters, _) = Source(ActorFamily.Deterministic);
        var nanCritic = new NamedTensor("critic_1.net.0.weight", [2, 2], [1f, float.NaN, 0f, 0f]);
        StartingActor.Load(SaveRenamed(parameters, "critic-nan", n => n, [nanCritic]));
        var bad = new NamedTensor("net.0.bias", [Hidden[0]], Enumerable.Repeat(float.PositiveInfinity, Hidden[0]).ToArray());
        string path = Path.Combine(folder, "actor-inf.safetensors");
        SafetensorsFile.Write(path, [.. parameters.ToNamedTensors("").Where(t => t.Name != "net.0.bias"), bad]);
        var refused = Assert.Throws<CheckpointFormatException>(() => StartingActor.Load(path));
        Assert.Contains("the actor's tensor 'net.0.bias' has a non-finite value", refused.Message);

        // The tanh-Gaussian's log-std scalars are the actor's too.
        var (tanhGaussian, _) = Source(ActorFamily.TanhGaussian);
        string nanScale = Path.Combine(folder, "scale-nan.safetensors");
        SafetensorsFile.Write(nanScale, [.. tanhGaussian.ToNamedTensors("").Where(t => t.Name != "log_std_offset.constant"),
            new NamedTensor("log_std_offset.constant", [1], [float.NaN])]);
        Assert.Contains("'log_std_offset.constant' has a non-finite value", Assert.Throws<CheckpointFormatException>(() => StartingActor.Load(nanScale)).Message);
    }
}
