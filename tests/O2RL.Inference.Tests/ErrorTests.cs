using Xunit;
using System.Buffers.Binary;
using System.Text;

namespace O2RL.Inference.Tests;

/// <summary>Bad input fails with a message that says what is wrong.</summary>
public sealed class ErrorTests
{
    static byte[] ValidFile() => TestPolicies.Write(TestPolicies.Build(PolicyFamily.Deterministic, 4, 2, [8], seed: 3).Tensors);

    [Fact]
    public void WrongObservationSizeNamesBothSizes()
    {
        var model = PolicyModel.Load(ValidFile(), "td3");
        var e = Assert.Throws<ArgumentException>(() => model.Act(new float[5], new float[2]));
        Assert.Contains("5 values", e.Message);
        Assert.Contains("expects 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Act(new float[4], new float[3]));
        Assert.Contains("2 action dimensions", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.ActBatch(new float[9], new float[4]));
        Assert.Contains("not whole rows of 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.ActBatch(new float[8], new float[6]));
        Assert.Contains("2 observations need room for 4", e.Message);
    }

    [Fact]
    public void NonFiniteObservationsAreRefusedNamingWhere()
    {
        // Before: a NaN or ∞ observation gave a NaN action, silently.
        var model = PolicyModel.Load(ValidFile(), "td3");
        var e = Assert.Throws<ArgumentException>(() => model.Act([0f, float.NaN, 0f, 0f], new float[2]));
        Assert.Contains("feature 1 is NaN", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.ActBatch([0f, 0f, 0f, 0f, 0f, 0f, float.PositiveInfinity, 0f], new float[4]));
        Assert.Contains("row 1, feature 2 is Infinity", e.Message);
        var random = new PolicyRandom(1);
        Assert.Throws<ArgumentException>(() => model.Sample([float.NegativeInfinity, 0f, 0f, 0f], new float[2], ref random));
        Assert.True(model.Act([0f, 0.5f, -0.5f, 1f]).All(float.IsFinite));
    }

    [Fact]
    public void FineTuningStageStatesAreRefusedWithoutNormalisation()
    {
        // stage-a/stage-b.safetensors of O2SAC/O2TD3 hold the actor but not the normalisation it acts under.
        var actor = TestPolicies.Build(PolicyFamily.Deterministic, 4, 2, [8], seed: 3, prefix: "actor.");
        byte[] stage = TestPolicies.Write(actor.Tensors, new Dictionary<string, string> { ["algorithm"] = "o2td3", ["stage"] = "b" });
        var e = Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(stage, "stage-b.safetensors"));
        Assert.Contains("stage-b training state", e.Message);
        Assert.Contains("final checkpoint", e.Message);
        // With the constants given it acts (the caller knows what the actor expects).
        var model = PolicyModel.Load(stage, "stage-b.safetensors", new PolicyLoadOptions { ObservationMean = [0f, 0f, 0f, 0f], ObservationStd = [1f, 1f, 1f, 1f] });
        Assert.Equal(2, model.Act(new float[4]).Length);
    }

    [Fact]
    public void TruncatedFilesAreRejected()
    {
        byte[] file = ValidFile();
        foreach (int length in new[] { 0, 5, 8, 20, file.Length - 1 })
        {
            var e = Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(file.AsSpan(0, length), "cut.safetensors"));
            Assert.Contains("cut.safetensors", e.Message);
        }
        Assert.Contains("fewer than the 8-byte", Assert.Throws<PolicyFormatException>(() => SafetensorsReader.Read(file.AsSpan(0, 5), "x")).Problem);
        Assert.Contains("truncated", Assert.Throws<PolicyFormatException>(() => SafetensorsReader.Read(file.AsSpan(0, 20), "x")).Problem);
        Assert.Contains("outside the", Assert.Throws<PolicyFormatException>(() => SafetensorsReader.Read(file.AsSpan(0, file.Length - 1), "x")).Problem);
        byte[] longer = [.. file, 0, 0, 0, 0];
        Assert.Contains("trailing bytes", Assert.Throws<PolicyFormatException>(() => SafetensorsReader.Read(longer, "x")).Problem);
    }

    static byte[] WithHeader(string json, int dataBytes)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        return file;
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, "not valid JSON")]
    [InlineData("[1,2]", 0, "not an object")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,80]}}", 8, "outside the 8-byte data buffer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "span 8 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "dtype 'F8_E4M3'")]
    [InlineData("{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "span 8 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "begins at byte 4")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "not a non-negative")]
    [InlineData("{\"__metadata__\":{\"k\":3}}", 0, "metadata key 'k'")]
    public void CorruptHeadersAreRejected(string json, int dataBytes, string expected)
    {
        var e = Assert.Throws<PolicyFormatException>(() => SafetensorsReader.Read(WithHeader(json, dataBytes), "bad.safetensors"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void IntegerTensorsAreSkipped()
    {
        // A state_dict's counter (I64) beside the weights refused the whole file; it is left out, the floats read.
        var content = SafetensorsReader.Read(WithHeader(
            "{\"n\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12), "counter.safetensors");
        Assert.False(content.Tensors.ContainsKey("n"));
        Assert.True(content.Tensors.ContainsKey("w"));
    }

    [Fact]
    public void HugeHeaderLengthIsRejected()
    {
        var file = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(file, ulong.MaxValue);
        Assert.Contains("limit", Assert.Throws<PolicyFormatException>(() => SafetensorsReader.Read(file, "x")).Problem);
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => PolicyModel.Load(Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.safetensors")));
    }

    [Fact]
    public void UnknownLayoutListsWhatWasFound()
    {
        var file = TestPolicies.Write(
        [
            new TestTensor("encoder.0.weight", [32, 10], new double[320]),
            new TestTensor("encoder.0.bias", [32], new double[32]),
            new TestTensor("head.weight", [4, 32], new double[128]),
        ]);
        var e = Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(file, "mystery.safetensors"));
        Assert.Contains("no actor layout recognised", e.Message);
        Assert.Contains("encoder.0.weight [32, 10]", e.Message);
        Assert.Contains("head.weight [4, 32]", e.Message);
        Assert.Contains("3 tensors", e.Message);
        Assert.Contains("base_network", e.Message);
    }

    [Fact]
    public void InconsistentNetworksAreRejected()
    {
        // A Linear whose input width does not match the previous output.
        var chain = TestPolicies.Write(
        [
            new TestTensor("net.0.weight", [8, 4], new double[32]), new TestTensor("net.0.bias", [8], new double[8]),
            new TestTensor("net.2.weight", [2, 7], new double[14]), new TestTensor("net.2.bias", [2], new double[2]),
        ]);
        Assert.Contains("takes 7 inputs but the previous layer gives 8", Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(chain, "x")).Message);

        // A tanh-Gaussian head with an odd number of outputs.
        var odd = TestPolicies.Write(
        [
            new TestTensor("base_network.0.weight", [3, 4], new double[12]), new TestTensor("base_network.0.bias", [3], new double[3]),
            new TestTensor("log_std_multiplier.constant", [], [1.0]), new TestTensor("log_std_offset.constant", [], [-1.0]),
        ]);
        Assert.Contains("must be even", Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(odd, "x")).Message);

        // Metadata that disagrees with the tensors, and a non-finite weight.
        var actor = TestPolicies.Build(PolicyFamily.Deterministic, 4, 2, [8], seed: 3);
        Assert.Contains("obs_dim = 5", Assert.Throws<PolicyFormatException>(() =>
            PolicyModel.Load(TestPolicies.Write(actor.Tensors, new Dictionary<string, string> { ["obs_dim"] = "5" }), "x")).Message);
        var nan = actor.Tensors.Select(t => t.Name == "net.0.bias" ? t with { Values = [.. t.Values.Select((v, i) => i == 3 ? double.NaN : v)] } : t);
        Assert.Contains("flat index 3", Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(TestPolicies.Write(nan), "x")).Message);
        Assert.Contains("obs_mean has 3", Assert.Throws<PolicyFormatException>(() =>
            PolicyModel.Load(TestPolicies.Write(actor.Tensors), "x", new PolicyLoadOptions { ObservationMean = [0, 0, 0], ObservationStd = [1, 1, 1] })).Message);
    }
}
