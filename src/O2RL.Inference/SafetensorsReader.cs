using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;

namespace O2RL.Inference;

/// <summary>A policy file that cannot be read or understood; the message names the file and the problem.</summary>
public sealed class PolicyFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="sourceName"/> (a path or a caller-chosen label).</summary>
    public PolicyFormatException(string sourceName, string problem, Exception? inner = null)
        : base($"policy file '{sourceName}': {problem}", inner)
    {
        SourceName = sourceName;
        Problem = problem;
    }

    /// <summary>The file (or label) that failed.</summary>
    public string SourceName { get; }

    /// <summary>What is wrong with it, without the file name.</summary>
    public string Problem { get; }
}

/// <summary>One tensor read from a safetensors file, converted to float32: row-major data of <see cref="Shape"/>.</summary>
public sealed class StoredTensor(string name, int[] shape, float[] data)
{
    /// <summary>Name in the file (e.g. <c>actor.net.0.weight</c>).</summary>
    public string Name { get; } = name;
    /// <summary>Dimensions, outermost first.</summary>
    public int[] Shape { get; } = shape;
    /// <summary>Elements, row-major.</summary>
    public float[] Data { get; } = data;
    /// <summary>The shape as text, e.g. <c>[256, 17]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>The tensors and header metadata of a safetensors file.</summary>
public sealed class SafetensorsContent(IReadOnlyDictionary<string, StoredTensor> tensors, IReadOnlyDictionary<string, string> metadata)
{
    /// <summary>Tensors by name.</summary>
    public IReadOnlyDictionary<string, StoredTensor> Tensors { get; } = tensors;
    /// <summary>The <c>__metadata__</c> map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata;
}

/// <summary>
/// A minimal read-only safetensors reader with no dependency beyond the base class library (trimming and
/// NativeAOT safe). Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor name
/// to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (plus an optional <c>__metadata__</c> object of
/// strings), then the data buffer. Integer and boolean tensors are checked and skipped. F32 is read as is; F16 and BF16 are widened exactly, F64 rounded to nearest
/// (a finite value beyond float32's range is an error). Every header field is checked against the file before
/// any data is used, so a corrupt or truncated file gives a <see cref="PolicyFormatException"/> naming the problem.
/// </summary>
public static class SafetensorsReader
{
    /// <summary>Largest header accepted (the reference implementation's limit); a larger length means corruption.</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>Reads the file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="PolicyFormatException">The file is corrupt, truncated or holds an unsupported dtype.</exception>
    public static SafetensorsContent Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"policy file '{path}' does not exist", path);
        long length = new FileInfo(path).Length;
        if (length > Array.MaxLength)
            throw new PolicyFormatException(path, $"the file has {length} bytes, more than one array can hold (a policy is megabytes, not gigabytes)");
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>What a file that fails as safetensors starts like when it is torch.save's zip or pickle, or HDF5; null otherwise.</summary>
    static string? ForeignFormat(ReadOnlySpan<byte> bytes)
    {
        const string save = "save the weights with safetensors.torch.save_file(model.state_dict(), path)";
        if (bytes.Length >= 4 && bytes[..4].SequenceEqual("PK\u0003\u0004"u8)) return $"a zip archive, as torch.save writes .pt files: {save}";
        if (bytes.Length >= 2 && bytes[0] == 0x80 && bytes[1] is >= 2 and <= 5) return $"a pickle, as older torch.save writes: {save}";
        if (bytes.Length >= 4 && bytes[0] == 0x89 && bytes[1..4].SequenceEqual("HDF"u8)) return "an HDF5 file (a dataset?), not safetensors";
        return null;
    }

    /// <summary>Reads a safetensors image held in memory; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="PolicyFormatException">The image is corrupt, truncated or holds an unsupported dtype.</exception>
    public static SafetensorsContent Read(ReadOnlySpan<byte> bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        PolicyFormatException Fail(string problem, Exception? inner = null) => new(sourceName, problem, inner);

        if (bytes.Length < 8) throw Fail($"the file has {bytes.Length} bytes, fewer than the 8-byte header length (empty or truncated)");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderLength)
            throw Fail($"the header length field says {headerLength} bytes, above the {MaxHeaderLength}-byte limit ({ForeignFormat(bytes) ?? "not a safetensors file, or corrupt"})");
        if ((long)headerLength > bytes.Length - 8)
            throw Fail($"the header length field says {headerLength} bytes but only {bytes.Length - 8} bytes follow it ({ForeignFormat(bytes) ?? "truncated file?"})");
        ReadOnlySpan<byte> header = bytes.Slice(8, (int)headerLength);
        ReadOnlySpan<byte> buffer = bytes[(8 + (int)headerLength)..];
        if (!Utf8.IsValid(header)) throw Fail("the header is not valid UTF-8 (not a safetensors file, or corrupt)");

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<(string Name, string DType, int[] Shape, long Begin, long End)>();
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            using var document = JsonDocument.ParseValue(ref reader);
            // ParseValue stops after the first value; anything but padding after it is corruption.
            foreach (byte b in header[(int)reader.BytesConsumed..])
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r'))
                    throw Fail($"the header has bytes after its JSON object (at offset {reader.BytesConsumed})");
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Fail($"the header is a JSON {root.ValueKind}, not an object");
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!names.Add(property.Name)) throw Fail($"'{property.Name}' appears more than once in the header");
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object) throw Fail($"__metadata__ is a JSON {property.Value.ValueKind}, not an object of strings");
                    foreach (JsonProperty item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String)
                            throw Fail($"metadata key '{item.Name}' has a JSON {item.Value.ValueKind} value; safetensors metadata values are strings");
                        metadata[item.Name] = item.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(property.Name, property.Value, buffer.Length, Fail));
            }
        }
        catch (JsonException e)
        {
            throw Fail($"the header is not valid JSON ({e.Message})", e);
        }

        // The format requires the tensors to tile the data buffer exactly (no gaps, overlaps or trailing bytes).
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        string? previous = null;
        foreach (var entry in entries)
        {
            if (entry.Begin != expected)
                throw Fail(previous is null
                    ? $"the first tensor '{entry.Name}' begins at byte {entry.Begin}, not 0"
                    : $"tensor '{previous}' ends at byte {expected} but the next tensor '{entry.Name}' begins at byte {entry.Begin} (gap or overlap)");
            expected = entry.End;
            previous = entry.Name;
        }
        if (expected != buffer.Length)
            throw Fail($"the tensors cover {expected} bytes but {buffer.Length} bytes follow the header (trailing bytes, or a truncated or damaged file)");

        var tensors = new Dictionary<string, StoredTensor>(entries.Count, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry.DType is not ("F32" or "F16" or "BF16" or "F64")) continue;
            var raw = buffer.Slice((int)entry.Begin, (int)(entry.End - entry.Begin));
            tensors[entry.Name] = new StoredTensor(entry.Name, entry.Shape, Convert(entry.Name, entry.DType, raw, Fail));
        }
        return new SafetensorsContent(tensors, metadata);
    }

    static (string Name, string DType, int[] Shape, long Begin, long End) ParseEntry(string name, JsonElement element, long bufferLength,
        Func<string, Exception?, PolicyFormatException> fail)
    {
        PolicyFormatException Fail(string problem) => fail(problem, null);
        if (element.ValueKind != JsonValueKind.Object) throw Fail($"tensor '{name}' is a JSON {element.ValueKind}, not an object with dtype, shape and data_offsets");
        if (!element.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Fail($"tensor '{name}' has no string 'dtype'");
        string dtype = dtypeElement.GetString()!;
        // Integer and boolean tensors (step counters, BatchNorm's num_batches_tracked) are sized here and skipped below.
        int size = dtype switch
        {
            "F32" => 4, "F16" or "BF16" => 2, "F64" => 8,
            "BOOL" or "U8" or "I8" => 1, "U16" or "I16" => 2, "U32" or "I32" => 4, "U64" or "I64" => 8,
            _ => 0,
        };
        if (size == 0) throw Fail($"tensor '{name}' has dtype '{dtype}'; a policy's tensors must be F32, F16, BF16 or F64 (integer and boolean tensors are skipped)");
        if (!element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Fail($"tensor '{name}' has no 'shape' array");
        var shape = new int[shapeElement.GetArrayLength()];
        long count = 1;
        int axis = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out int value) || value < 0)
                throw Fail($"tensor '{name}' has shape entry {axis} = {dim.GetRawText()}, not a non-negative 32-bit integer");
            shape[axis++] = value;
            count = Math.Min(count * value, long.MaxValue / 16);
        }
        if (!element.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Fail($"tensor '{name}' has no 'data_offsets' array [begin, end]");
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Fail($"tensor '{name}' has data_offsets {offsets.GetRawText()}, not two non-negative integers with begin ≤ end");
        if (end > bufferLength)
            throw Fail($"tensor '{name}' has data_offsets [{begin}, {end}] outside the {bufferLength}-byte data buffer (truncated file?)");
        if (count * size != end - begin)
            throw Fail($"tensor '{name}' has shape [{string.Join(", ", shape)}] of {dtype} ({count} × {size} bytes) but data_offsets [{begin}, {end}] span {end - begin} bytes");
        return (name, dtype, shape, begin, end);
    }

    static float[] Convert(string name, string dtype, ReadOnlySpan<byte> raw, Func<string, Exception?, PolicyFormatException> fail)
    {
        switch (dtype)
        {
            case "F32":
            {
                var data = new float[raw.Length / 4];
                for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
                return data;
            }
            case "F16":
            {
                var data = new float[raw.Length / 2];
                for (int i = 0; i < data.Length; i++) data[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw[(2 * i)..]);
                return data;
            }
            case "BF16":
            {
                // bfloat16 is the upper half of a float32, so widening is a shift.
                var data = new float[raw.Length / 2];
                for (int i = 0; i < data.Length; i++)
                    data[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]) << 16);
                return data;
            }
            default:
            {
                var data = new float[raw.Length / 8];
                for (int i = 0; i < data.Length; i++)
                {
                    double value = BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]);
                    data[i] = (float)value;
                    if (double.IsFinite(value) && !float.IsFinite(data[i]))
                        throw fail($"tensor '{name}' (F64) holds {value.ToString("R", CultureInfo.InvariantCulture)} at flat index {i}, beyond float32's range", null);
                }
                return data;
            }
        }
    }
}
