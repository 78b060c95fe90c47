using System.Buffers.Binary;
using System.Text;
using O2RL.Engine.Checkpoints;
using Xunit;

namespace O2RL.Engine.Tests.Checkpoints;

/// <summary>Writing, reading and format conformance of safetensors checkpoints.</summary>
public sealed class SafetensorsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("o2rl-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string PathOf(string name) => Path.Combine(_folder, name);

    // ------------------------------------------------------------ round trips

    [Fact]
    public void RoundTrip_KeepsNamesShapesValuesAndMetadata()
    {
        var random = new Random(7);
        float[] weight = Enumerable.Range(0, 6 * 4).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] bias = [0.25f, -1.5f, float.NaN, float.PositiveInfinity, float.Epsilon, -0f];
        float[] ensemble = Enumerable.Range(0, 2 * 3 * 5).Select(i => i * 0.1f).ToArray();
        NamedTensor[] tensors =
        [
            new("qf.net.0.weight", [6, 4], weight),
            new("qf.net.0.bias", [6], bias),
            new("ensemble.weight", [2, 3, 5], ensemble),
        ];
        var metadata = new Dictionary<string, string> { ["config"] = "{\"lr\": 3e-4}", ["version"] = "0.1.0" };
        string path = PathOf("round.safetensors");

        SafetensorsFile.Write(path, tensors, metadata);
        Checkpoint checkpoint = SafetensorsFile.Read(path);

        Assert.Equal(3, checkpoint.Tensors.Count);
        foreach (NamedTensor expected in tensors)
        {
            NamedTensor actual = checkpoint.Tensors[expected.Name];
            Assert.Equal(expected.Name, actual.Name);
            Assert.Equal(expected.Shape, actual.Shape);
            // Bitwise, so NaN, -0 and denormals must survive too.
            Assert.Equal(expected.Data.Select(BitConverter.SingleToInt32Bits), actual.Data.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal(metadata.OrderBy(p => p.Key), checkpoint.Metadata.OrderBy(p => p.Key));
        // Data is laid out in name order, so the checkpoint lists the tensors in that order.
        Assert.Equal(["ensemble.weight", "qf.net.0.bias", "qf.net.0.weight"], checkpoint.Tensors.Keys);
    }

    [Fact]
    public void RoundTrip_ScalarAndEmptyTensors()
    {
        NamedTensor[] tensors =
        [
            new("log_alpha", [], [-2.5f]),
            new("empty", [0, 3], []),
            new("after_empty", [1], [4f]),
        ];
        string path = PathOf("scalar.safetensors");

        SafetensorsFile.Write(path, tensors, null);
        Checkpoint checkpoint = SafetensorsFile.Read(path);

        Assert.Empty(checkpoint.GetTensor("log_alpha").Shape);
        Assert.Equal([-2.5f], checkpoint.GetTensor("log_alpha").Data);
        Assert.Equal([0, 3], checkpoint.Tensors["empty"].Shape);
        Assert.Empty(checkpoint.Tensors["empty"].Data);
        Assert.Equal([4f], checkpoint.GetTensor("after_empty", 1).Data);
        Assert.Empty(checkpoint.Metadata);
    }

    [Fact]
    public void EmptyMetadata_IsOmittedFromTheHeader_AndReadsBackEmpty()
    {
        string path = PathOf("nometa.safetensors");
        SafetensorsFile.Write(path, [new NamedTensor("x", [1], [1f])], new Dictionary<string, string>());

        byte[] bytes = File.ReadAllBytes(path);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.DoesNotContain("__metadata__", header);
        Assert.Empty(SafetensorsFile.Read(path).Metadata);
    }

    [Fact]
    public void NoTensors_WritesAPaddedEmptyObject()
    {
        string path = PathOf("nothing.safetensors");
        SafetensorsFile.Write(path, [], null);

        byte[] expected = [8, 0, 0, 0, 0, 0, 0, 0, .. "{}      "u8];
        Assert.Equal(expected, File.ReadAllBytes(path));
        Checkpoint checkpoint = SafetensorsFile.Read(path);
        Assert.Empty(checkpoint.Tensors);
        Assert.Empty(checkpoint.Metadata);
    }

    [Fact]
    public void RoundTrip_UnicodeAndEscapedNames()
    {
        NamedTensor[] tensors =
        [
            new("poids.réseau", [1], [1f]),
            new("权重", [1], [2f]),
            new("emoji.😀", [1], [3f]),
            new("quote\"back\\slash\nnewline\u0001", [1], [4f]),
            new("\uFF21.fullwidth", [1], [5f]),
        ];
        var metadata = new Dictionary<string, string> { ["note"] = "ü \"quoted\" \\ \t" };
        string path = PathOf("unicode.safetensors");

        SafetensorsFile.Write(path, tensors, metadata);
        Checkpoint checkpoint = SafetensorsFile.Read(path);

        foreach (NamedTensor expected in tensors)
            Assert.Equal(expected.Data, checkpoint.Tensors[expected.Name].Data);
        Assert.Equal(metadata["note"], checkpoint.Metadata["note"]);

        string header = HeaderOf(path);
        // Non-ASCII is written raw and only JSON's mandatory escapes are used, as serde_json does.
        Assert.Contains("\"quote\\\"back\\\\slash\\nnewline\\u0001\"", header);
        Assert.Contains("poids.réseau", header);
    }

    [Fact]
    public void Write_OrdersNamesByCodePoint()
    {
        string path = PathOf("order.safetensors");
        SafetensorsFile.Write(path, [new("😀", [1], [1f]), new("\uFF21", [1], [2f]), new("B", [1], [3f]), new("a", [1], [4f])], null);

        Assert.Equal(["B", "a", "\uFF21", "😀"], SafetensorsFile.Read(path).Tensors.Keys);
    }

    // ------------------------------------------------------------ byte-level conformance

    [Fact]
    public void Write_ProducesTheExactSafetensorsBytes()
    {
        string path = PathOf("exact.safetensors");
        SafetensorsFile.Write(path,
            [new NamedTensor("b", [2], [1f, 2f]), new NamedTensor("a", [], [0.5f])],
            new Dictionary<string, string> { ["format"] = "pt" });

        // 138 bytes of compact JSON + 6 spaces = 144 (0x90), so the data starts at byte 152, a multiple of 8.
        const string json = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        byte[] expected =
        [
            0x90, 0, 0, 0, 0, 0, 0, 0,
            .. Encoding.ASCII.GetBytes(json), .. "      "u8,
            0x00, 0x00, 0x00, 0x3F, // a = 0.5f
            0x00, 0x00, 0x80, 0x3F, // b[0] = 1f
            0x00, 0x00, 0x00, 0x40, // b[1] = 2f
        ];
        Assert.Equal(138, json.Length);
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void Read_AcceptsAHandBuiltFileInAnyKeyOrderAndWithoutPadding()
    {
        // Field order, whitespace and entry order differ from what we write; all are valid JSON and valid safetensors.
        const string json = "{ \"w\" : {\"data_offsets\": [8, 16], \"shape\": [1, 2], \"dtype\": \"F32\"},\n"
            + "  \"__metadata__\": {\"format\": \"pt\"},\n"
            + "  \"v\": {\"shape\": [2], \"dtype\": \"F32\", \"data_offsets\": [0, 8], \"extra\": 1} }";
        string path = WriteImage("hand.safetensors", json, Floats(3f, -4f, 0.125f, 1e-3f));

        Checkpoint checkpoint = SafetensorsFile.Read(path);

        Assert.Equal([3f, -4f], checkpoint.GetTensor("v", 2).Data);
        Assert.Equal([0.125f, 1e-3f], checkpoint.GetTensor("w", 1, 2).Data);
        Assert.Equal("pt", checkpoint.Metadata["format"]);
    }

    // ------------------------------------------------------------ dtype conversion

    [Fact]
    public void Read_ConvertsF16ExactlyToFloat32()
    {
        // 1, -2, 65504 (largest half), 2^-24 (smallest subnormal), +inf.
        byte[] data = UInt16s(0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00);
        string path = WriteImage("f16.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]}}", data);

        Assert.Equal([1f, -2f, 65504f, 1f / 16777216f, float.PositiveInfinity], SafetensorsFile.Read(path).Tensors["h"].Data);
    }

    [Fact]
    public void Read_ConvertsBF16ExactlyToFloat32()
    {
        // 1, -0.5, 3.140625, largest finite bfloat16 (0x7F7F).
        byte[] data = UInt16s(0x3F80, 0xBF00, 0x4049, 0x7F7F);
        string path = WriteImage("bf16.safetensors", "{\"h\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", data);

        float[] expected = [1f, -0.5f, 3.140625f, BitConverter.Int32BitsToSingle(0x7F7F0000)];
        Assert.Equal(expected, SafetensorsFile.Read(path).Tensors["h"].Data);
    }

    [Fact]
    public void Read_RoundsF64ToNearestFloat32_AlongsideF32()
    {
        byte[] doubles = Doubles(0.1, -1e-30, 3.0, 1e38);
        string json = "{\"d\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]},"
            + "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[32,36]}}";
        string path = WriteImage("f64.safetensors", json, [.. doubles, .. Floats(7f)]);

        Checkpoint checkpoint = SafetensorsFile.Read(path);

        Assert.Equal([(float)0.1, (float)-1e-30, 3f, (float)1e38], checkpoint.Tensors["d"].Data);
        Assert.Equal([7f], checkpoint.Tensors["f"].Data);
    }

    [Fact]
    public void Read_RejectsF64ValuesBeyondFloat32Range()
    {
        string path = WriteImage("f64big.safetensors", "{\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", Doubles(1.0, -1e300));

        AssertCorrupt(path, "tensor 'd' (F64) has a value outside float32's range at flat index 1");
    }

    [Theory]
    [InlineData("F8_E4M3", 1)]
    [InlineData("C64", 8)]
    public void Read_RejectsUnsupportedDtypes_NamingTensorAndDtype(string dtype, int size)
    {
        string path = WriteImage("int.safetensors",
            $"{{\"step\":{{\"dtype\":\"{dtype}\",\"shape\":[1],\"data_offsets\":[0,{size}]}}}}", new byte[size]);

        AssertCorrupt(path, $"tensor 'step' has dtype {dtype}, which is not converted to float32 (supported: F32, F16, BF16, F64)");
    }

    [Theory]
    [InlineData("I64", 8)]
    [InlineData("I32", 4)]
    [InlineData("U8", 1)]
    [InlineData("BOOL", 1)]
    public void Read_SkipsIntegerTensorsAndReadsTheWeightsBesideThem(string dtype, int size)
    {
        // A PyTorch state_dict may hold counters beside the weights (BatchNorm's num_batches_tracked is I64): the
        // whole file was refused for them. They are checked for layout and left out; the floats after them read.
        string path = WriteImage("counter.safetensors",
            $"{{\"step\":{{\"dtype\":\"{dtype}\",\"shape\":[2],\"data_offsets\":[0,{2 * size}]}},\"w\":{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[{2 * size},{2 * size + 8}]}}}}",
            [.. new byte[2 * size], .. Floats(1.5f, -2f)]);
        var checkpoint = SafetensorsFile.Read(path);
        Assert.False(checkpoint.Tensors.ContainsKey("step"));
        Assert.Equal([1.5f, -2f], checkpoint.Tensors["w"].Data);

        // The layout is still checked: an integer tensor whose offsets do not match its shape is corruption.
        string wrong = WriteImage("counter-wrong.safetensors",
            $"{{\"step\":{{\"dtype\":\"{dtype}\",\"shape\":[3],\"data_offsets\":[0,{2 * size}]}}}}", new byte[2 * size]);
        AssertCorrupt(wrong, "tensor 'step' has shape [3]");
    }

    [Fact]
    public void Read_RejectsUnknownDtype()
    {
        string path = WriteImage("unknown.safetensors", "{\"x\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);

        AssertCorrupt(path, "tensor 'x' has unknown dtype 'F33'");
    }

    // ------------------------------------------------------------ corruption

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(7)]
    public void Read_RejectsFilesShorterThanTheLengthField(int length)
    {
        string path = PathOf("short.safetensors");
        File.WriteAllBytes(path, new byte[length]);

        AssertCorrupt(path, $"the file has {length} bytes, fewer than the 8-byte header length");
    }

    [Fact]
    public void Read_RejectsAbsurdHeaderLength()
    {
        string path = PathOf("absurd.safetensors");
        byte[] bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        File.WriteAllBytes(path, bytes);

        AssertCorrupt(path, "the header length is 1099511627776 bytes, above the 100000000-byte limit");
    }

    [Fact]
    public void Read_RejectsHeaderLengthLargerThanTheFile()
    {
        string path = PathOf("long.safetensors");
        byte[] bytes = [.. BitConverter.GetBytes(100UL), .. "{}"u8];
        File.WriteAllBytes(path, bytes);

        AssertCorrupt(path, "the header length is 100 bytes but only 2 bytes follow the length field");
    }

    [Theory]
    [InlineData(new byte[] { (byte)'P', (byte)'K', 3, 4, 20, 0, 8, 8 }, "a zip archive, as torch.save writes .pt files")]
    [InlineData(new byte[] { 0x80, 2, (byte)'c', (byte)'t', (byte)'o', (byte)'r', (byte)'c', (byte)'h' }, "a pickle, as older torch.save writes")]
    [InlineData(new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F', 13, 10, 26, 10 }, "an HDF5 file (a dataset?)")]
    public void Read_NamesTheFormatsMistakenForSafetensors(byte[] start, string named)
    {
        // A .pt file renamed, or a dataset given as --from: "truncated file?" sent users looking for a broken download.
        string path = PathOf("foreign.safetensors");
        File.WriteAllBytes(path, [.. start, .. new byte[1000]]);
        AssertCorrupt(path, named);
    }

    [Theory]
    [InlineData("{\"a\":", "the header is not valid JSON")]
    [InlineData("", "the header is not valid JSON")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",}}", "the header is not valid JSON")]
    [InlineData("[1, 2]", "the header is a JSON Array, not an object")]
    [InlineData("{\"a\": 3}", "tensor 'a' is described by a JSON Number, not an object")]
    [InlineData("{\"__metadata__\": [\"x\"]}", "'__metadata__' is a JSON Array, not an object of strings")]
    [InlineData("{\"__metadata__\": {\"step\": 10}}", "metadata key 'step' has a JSON Number value")]
    [InlineData("{\"__metadata__\": {\"k\": \"1\", \"k\": \"2\"}}", "metadata key 'k' appears more than once")]
    [InlineData("{\"__metadata__\": {}, \"__metadata__\": {}}", "'__metadata__' appears more than once")]
    public void Read_RejectsMalformedHeaders(string json, string problem)
    {
        string path = WriteImage("json.safetensors", json, []);

        AssertCorrupt(path, problem);
    }

    [Fact]
    public void Read_RejectsInvalidUtf8InTheHeader()
    {
        string path = PathOf("utf8.safetensors");
        // {"<0xFF>":1} — 0xFF never occurs in UTF-8.
        byte[] header = [(byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}'];
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header]);

        AssertCorrupt(path, "the header is not valid UTF-8");
    }

    [Theory]
    [InlineData("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "tensor 'x' has no 'dtype' field")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "tensor 'x' has no 'shape' field")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", "tensor 'x' has no 'data_offsets' field")]
    [InlineData("{\"x\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", "tensor 'x' has a 'dtype' that is a JSON Number, not a string")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", "tensor 'x' has a 'shape' that is a JSON Number, not an array")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "tensor 'x' has shape dimension 0 = -1, not a non-negative 32-bit integer")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "tensor 'x' has shape dimension 0 = 1.5, not a non-negative 32-bit integer")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,4]}}", "tensor 'x' has shape dimension 1 = \"2\", not a non-negative 32-bit integer")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "tensor 'x' has data_offsets [0], not an array [begin, end]")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", "tensor 'x' has data offset -4, not a non-negative integer")]
    public void Read_RejectsMissingOrMistypedFields(string json, string problem)
    {
        string path = WriteImage("fields.safetensors", json, new byte[4]);

        AssertCorrupt(path, problem);
    }

    [Fact]
    public void Read_RejectsATruncatedFile()
    {
        string path = PathOf("truncated.safetensors");
        SafetensorsFile.Write(path, [new NamedTensor("a", [2], [1f, 2f]), new NamedTensor("b", [3], [3f, 4f, 5f])], null);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);

        AssertCorrupt(path, "tensor 'b' has data_offsets [8, 20] outside the data buffer of 16 bytes (truncated file?)");
    }

    [Fact]
    public void Read_RejectsBeginAfterEnd()
    {
        string path = WriteImage("reversed.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", new byte[4]);

        AssertCorrupt(path, "tensor 'x' has data_offsets [4, 0] with begin after end");
    }

    [Fact]
    public void Read_RejectsOverlappingTensors()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        string path = WriteImage("overlap.safetensors", json, new byte[12]);

        AssertCorrupt(path, "tensors 'a' (ends at 8) and 'b' (data_offsets [4, 12]) overlap");
    }

    [Fact]
    public void Read_RejectsAGapBetweenTensors()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        string path = WriteImage("gap.safetensors", json, new byte[12]);

        AssertCorrupt(path, "tensor 'a' ends at byte 4 but the next tensor 'b' begins at 8; tensor data must be contiguous");
    }

    [Fact]
    public void Read_RejectsDataNotStartingAtZero()
    {
        string path = WriteImage("late.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]);

        AssertCorrupt(path, "the first tensor 'a' begins at byte 4, not 0");
    }

    [Fact]
    public void Read_RejectsTrailingBytesAfterTheLastTensor()
    {
        string path = WriteImage("trailing.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[9]);

        AssertCorrupt(path, "the tensors cover 4 bytes but the data buffer after the header has 9 (trailing bytes)");
    }

    [Theory]
    [InlineData("F32", "[3]", 8, "tensor 'x' has shape [3] of F32 (3 elements × 4 bytes) but data_offsets [0, 8] span 8 bytes")]
    [InlineData("F16", "[2,2]", 4, "tensor 'x' has shape [2, 2] of F16 (4 elements × 2 bytes) but data_offsets [0, 4] span 4 bytes")]
    [InlineData("F32", "[]", 8, "tensor 'x' has shape [] of F32 (1 elements × 4 bytes) but data_offsets [0, 8] span 8 bytes")]
    [InlineData("F32", "[2147483647,2147483647,2147483647]", 8, "tensor 'x' has shape [2147483647, 2147483647, 2147483647] of F32")]
    public void Read_RejectsShapeSizeMismatch(string dtype, string shape, int bytes, string problem)
    {
        string path = WriteImage("size.safetensors", $"{{\"x\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[0,{bytes}]}}}}", new byte[bytes]);

        AssertCorrupt(path, problem);
    }

    [Fact]
    public void Read_RejectsDuplicateTensorNames()
    {
        // The second spelling escapes the same name, so the duplicate only shows after unescaping.
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"\\u0061\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        string path = WriteImage("dup.safetensors", json, new byte[8]);

        AssertCorrupt(path, "tensor name 'a' appears more than once in the header");
    }

    [Fact]
    public void Read_RejectsNonFiniteValuesOnlyWhenAsked()
    {
        string path = PathOf("nan.safetensors");
        SafetensorsFile.Write(path, [new NamedTensor("ok", [2], [1f, 2f]), new NamedTensor("q", [3], [0f, 1f, float.NaN])], null);

        Assert.True(float.IsNaN(SafetensorsFile.Read(path).Tensors["q"].Data[2]));
        CheckpointFormatException error = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Read(path, rejectNonFinite: true));
        Assert.Contains("tensor 'q' has a non-finite value (NaN) at flat index 2", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Read_RejectsInfinityWhenAsked()
    {
        string path = WriteImage("inf.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", UInt16s(0x3C00, 0xFC00));

        CheckpointFormatException error = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Read(path, rejectNonFinite: true));
        Assert.Contains("tensor 'h' has a non-finite value (-Infinity) at flat index 1", error.Message);
    }

    // ------------------------------------------------------------ writing: validation and atomicity

    [Fact]
    public void Write_ReplacesAnExistingFileAndLeavesNoTemporaryFiles()
    {
        string path = PathOf("model.safetensors");
        SafetensorsFile.Write(path, [new NamedTensor("w", [1], [1f])], null);
        SafetensorsFile.Write(path, [new NamedTensor("w", [2], [2f, 3f])], new Dictionary<string, string> { ["step"] = "2" });

        Checkpoint checkpoint = SafetensorsFile.Read(path);
        Assert.Equal([2f, 3f], checkpoint.Tensors["w"].Data);
        Assert.Equal("2", checkpoint.Metadata["step"]);
        Assert.Equal([path], Directory.GetFiles(_folder));
    }

    [Theory]
    [InlineData("shape")]
    [InlineData("negative")]
    [InlineData("duplicate")]
    [InlineData("reserved")]
    [InlineData("surrogate")]
    public void Write_RejectsInvalidTensorsWithoutTouchingTheExistingFile(string defect)
    {
        string path = PathOf("keep.safetensors");
        SafetensorsFile.Write(path, [new NamedTensor("w", [1], [42f])], null);
        byte[] before = File.ReadAllBytes(path);
        (NamedTensor[] tensors, string message) = InvalidWrite(defect);

        ArgumentException error = Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, tensors, null));

        Assert.Contains(message, error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_folder));
    }

    private static (NamedTensor[] Tensors, string Message) InvalidWrite(string defect)
    {
        switch (defect)
        {
            case "shape":
                return ([new NamedTensor("w", [2, 3], new float[5])], "tensor 'w' has shape [2, 3] but 5 elements");
            case "negative":
                return ([new NamedTensor("w", [-1, 2], new float[2])], "tensor 'w' has a negative dimension in shape [-1, 2]");
            case "duplicate":
                return ([new NamedTensor("w", [1], [1f]), new NamedTensor("w", [1], [2f])], "tensor name 'w' appears more than once");
            case "reserved":
                return ([new NamedTensor("__metadata__", [1], [1f])], "is named '__metadata__', which the format reserves");
            default:
                return ([new NamedTensor("bad\uD800", [1], [1f])], "contains a lone UTF-16 surrogate at index 3");
        }
    }

    [Fact]
    public void Write_IntoAMissingFolder_FailsAndCreatesNothing()
    {
        string path = Path.Combine(_folder, "missing", "model.safetensors");

        Assert.Throws<DirectoryNotFoundException>(() => SafetensorsFile.Write(path, [new NamedTensor("w", [1], [1f])], null));
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void GetTensor_ReportsMissingNamesAndShapeMismatches()
    {
        string path = PathOf("get.safetensors");
        SafetensorsFile.Write(path, [new NamedTensor("actor.weight", [2, 3], new float[6])], null);
        Checkpoint checkpoint = SafetensorsFile.Read(path);

        KeyNotFoundException missing = Assert.Throws<KeyNotFoundException>(() => checkpoint.GetTensor("critic.weight", 2, 3));
        Assert.Contains("no tensor 'critic.weight' (it has 1: actor.weight)", missing.Message);
        ArgumentException shape = Assert.Throws<ArgumentException>(() => checkpoint.GetTensor("actor.weight", 3, 2));
        Assert.Contains("tensor 'actor.weight' has shape [2, 3] in the checkpoint but [3, 2] is expected", shape.Message);
    }

    [Fact]
    public void StreamOverloads_RoundTripInMemory()
    {
        using var stream = new MemoryStream();
        SafetensorsFile.Write(stream, [new NamedTensor("x", [2], [5f, 6f])], new Dictionary<string, string> { ["k"] = "v" });
        stream.Position = 0;

        Checkpoint checkpoint = SafetensorsFile.Read(stream, "memory");

        Assert.Equal([5f, 6f], checkpoint.Tensors["x"].Data);
        Assert.Equal("v", checkpoint.Metadata["k"]);
    }

    // ------------------------------------------------------------ helpers

    /// <summary>Writes an unpadded safetensors image: length field, the header text as UTF-8, then <paramref name="data"/>.</summary>
    private string WriteImage(string name, string json, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        byte[] bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        string path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string HeaderOf(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return Encoding.UTF8.GetString(bytes, 8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
    }

    private static void AssertCorrupt(string path, string problem)
    {
        CheckpointFormatException error = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Read(path));
        Assert.Contains(problem, error.Message);
        Assert.Contains(path, error.Message);
        Assert.Equal(path, error.FilePath);
    }

    private static byte[] Floats(params float[] values)
    {
        byte[] bytes = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    private static byte[] Doubles(params double[] values)
    {
        byte[] bytes = new byte[8 * values.Length];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        return bytes;
    }

    private static byte[] UInt16s(params ushort[] values)
    {
        byte[] bytes = new byte[2 * values.Length];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), values[i]);
        return bytes;
    }
}
