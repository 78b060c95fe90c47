using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace O2RL.Engine.Checkpoints;

/// <summary>
/// Reads and writes checkpoints in the safetensors format, so they open with Python's
/// <c>safetensors.torch.load_file</c> and PyTorch exports open here.
/// </summary>
/// <remarks>
/// <para>Layout: an 8-byte little-endian unsigned header length <c>N</c>; <c>N</c> bytes of UTF-8 JSON mapping
/// each tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (offsets into the data buffer
/// that follows the header), plus an optional <c>"__metadata__"</c> object of string → string; then the
/// data buffer of raw little-endian, row-major elements.</para>
/// <para>Writing produces what the reference implementation produces for float32 tensors: compact JSON with
/// <c>__metadata__</c> first, tensors sorted by name (by Unicode code point, as the reference sorts UTF-8
/// bytes), contiguous offsets from 0, and the header padded with spaces to a multiple of 8 bytes so the data
/// is aligned. Metadata keys are sorted too, so the same checkpoint always gives the same bytes.</para>
/// <para>Reading accepts float32 (<c>F32</c>) and converts <c>F16</c> and <c>BF16</c> (exactly) and
/// <c>F64</c> (rounded to nearest; a finite value beyond float32's range is an error, not ∞) to float32,
/// since PyTorch exports often use them. Other dtypes (integers, booleans, 8-bit floats) are rejected.
/// Every header field is checked against the file before any data is trusted: a corrupt or truncated file
/// throws <see cref="CheckpointFormatException"/> naming the file and the problem.</para>
/// </remarks>
public static class SafetensorsFile
{
    /// <summary>
    /// Largest header accepted, in bytes. Real headers are kilobytes to a few megabytes; the reference
    /// implementation refuses headers above this same limit, so a larger length means corruption.
    /// </summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>The reserved header key that holds the metadata map.</summary>
    public const string MetadataKey = "__metadata__";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Writes <paramref name="tensors"/> and <paramref name="metadata"/> to <paramref name="path"/> atomically:
    /// the bytes go to a temporary file in the same folder, are flushed to disk, and the temporary file then
    /// replaces <paramref name="path"/>, so a crash leaves either the old file or the complete new one.
    /// </summary>
    /// <param name="path">Destination file; its folder must exist. An existing file is replaced.</param>
    /// <param name="tensors">Tensors to store; names must be unique.</param>
    /// <param name="metadata">Header metadata (e.g. the run config and library version); null or empty for none.</param>
    /// <exception cref="ArgumentException">A tensor's name or shape is invalid; see the message.</exception>
    public static void Write(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Validate and encode the header before touching the file system, so bad input creates no file.
        byte[] header = BuildHeader(tensors, metadata, out NamedTensor[] ordered);

        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"checkpoint path '{path}' has no parent folder", nameof(path));
        // Same folder as the destination so the final move is a rename within one file system (atomic).
        string tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                WriteBody(stream, header, ordered);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    /// <summary>Writes a safetensors image of <paramref name="tensors"/> to <paramref name="stream"/> (not atomic).</summary>
    /// <param name="stream">A writable stream; left open.</param>
    /// <param name="tensors">Tensors to store; names must be unique.</param>
    /// <param name="metadata">Header metadata; null or empty for none.</param>
    /// <exception cref="ArgumentException">A tensor's name or shape is invalid; see the message.</exception>
    public static void Write(Stream stream, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] header = BuildHeader(tensors, metadata, out NamedTensor[] ordered);
        WriteBody(stream, header, ordered);
    }

    /// <summary>
    /// Reads every floating-point tensor of the safetensors file at <paramref name="path"/> as float32, with its
    /// metadata; integer and boolean tensors (counters saved beside weights) are checked for layout and left out.
    /// </summary>
    /// <param name="path">The file to read.</param>
    /// <param name="rejectNonFinite">When true, a NaN or ±∞ element anywhere is an error (a diverged run's checkpoint).</param>
    /// <exception cref="CheckpointFormatException">The file is corrupt, truncated or holds an unsupported dtype.</exception>
    public static Checkpoint Read(string path, bool rejectNonFinite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(stream, path, rejectNonFinite);
    }

    /// <summary>Reads a safetensors image from a seekable stream, from its current position to its end.</summary>
    /// <param name="stream">A readable, seekable stream; left open.</param>
    /// <param name="sourceName">Names the source in error messages (e.g. the file path).</param>
    /// <param name="rejectNonFinite">When true, a NaN or ±∞ element anywhere is an error.</param>
    /// <exception cref="CheckpointFormatException">The image is corrupt, truncated or holds an unsupported dtype.</exception>
    public static Checkpoint Read(Stream stream, string sourceName, bool rejectNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        if (!stream.CanRead || !stream.CanSeek)
            throw new ArgumentException("the stream must be readable and seekable (its length bounds every offset)", nameof(stream));
        return new Reader(stream, sourceName, rejectNonFinite).Read();
    }

    // ---------------------------------------------------------------- writing

    /// <summary>Validates the tensors, orders them as the reference implementation does, and encodes the padded header.</summary>
    private static byte[] BuildHeader(IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata, out NamedTensor[] ordered)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < tensors.Count; i++)
        {
            NamedTensor tensor = tensors[i] ?? throw new ArgumentException($"tensors[{i}] is null", nameof(tensors));
            if (tensor.Name is null || tensor.Shape is null || tensor.Data is null)
                throw new ArgumentException($"tensors[{i}] has a null Name, Shape or Data", nameof(tensors));
            if (tensor.Name == MetadataKey)
                throw new ArgumentException($"tensors[{i}] is named '{MetadataKey}', which the format reserves for metadata", nameof(tensors));
            RequireValidUtf16(tensor.Name, $"tensors[{i}].Name");
            if (!names.Add(tensor.Name))
                throw new ArgumentException($"tensor name '{tensor.Name}' appears more than once", nameof(tensors));
            if (tensor.Shape.Any(dim => dim < 0))
                throw new ArgumentException($"tensor '{tensor.Name}' has a negative dimension in shape {tensor.ShapeText}", nameof(tensors));
            long elements = SaturatingElementCount(tensor.Shape);
            if (elements != tensor.Data.Length)
                throw new ArgumentException(
                    $"tensor '{tensor.Name}' has shape {tensor.ShapeText} but {tensor.Data.Length} elements", nameof(tensors));
        }

        ordered = [.. tensors];
        // All our tensors are F32, so the reference's order (alignment, then name) reduces to name order.
        Array.Sort(ordered, (a, b) => CompareCodePoints(a.Name, b.Name));

        var json = new StringBuilder(64 + 96 * ordered.Length);
        json.Append('{');
        bool first = true;
        if (metadata is { Count: > 0 })
        {
            json.Append('"').Append(MetadataKey).Append("\":{");
            string[] keys = [.. metadata.Keys];
            Array.Sort(keys, CompareCodePoints);
            for (int i = 0; i < keys.Length; i++)
            {
                string value = metadata[keys[i]]
                    ?? throw new ArgumentException($"metadata value for key '{keys[i]}' is null", nameof(metadata));
                RequireValidUtf16(keys[i], "a metadata key");
                RequireValidUtf16(value, $"metadata['{keys[i]}']");
                if (i > 0)
                    json.Append(',');
                AppendJsonString(json, keys[i]).Append(':');
                AppendJsonString(json, value);
            }
            json.Append('}');
            first = false;
        }

        long offset = 0;
        foreach (NamedTensor tensor in ordered)
        {
            if (!first)
                json.Append(',');
            first = false;
            long end = offset + 4L * tensor.Data.Length;
            AppendJsonString(json, tensor.Name).Append(":{\"dtype\":\"F32\",\"shape\":[");
            for (int d = 0; d < tensor.Shape.Length; d++)
            {
                if (d > 0)
                    json.Append(',');
                json.Append(tensor.Shape[d].ToString(CultureInfo.InvariantCulture));
            }
            json.Append("],\"data_offsets\":[")
                .Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(end.ToString(CultureInfo.InvariantCulture)).Append("]}");
            offset = end;
        }
        json.Append('}');

        string text = json.ToString();
        int length = StrictUtf8.GetByteCount(text);
        // Pad with spaces (valid JSON whitespace) so 8 + N is a multiple of 8 and every tensor is aligned.
        int padded = (length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        StrictUtf8.GetBytes(text, header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    private static void WriteBody(Stream stream, byte[] header, NamedTensor[] ordered)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)header.Length);
        stream.Write(lengthBytes);
        stream.Write(header);
        byte[]? swapBuffer = null;
        foreach (NamedTensor tensor in ordered)
        {
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(tensor.Data.AsSpan()));
                continue;
            }
            swapBuffer ??= new byte[4096];
            for (int start = 0; start < tensor.Data.Length; start += swapBuffer.Length / 4)
            {
                int count = Math.Min(swapBuffer.Length / 4, tensor.Data.Length - start);
                for (int i = 0; i < count; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(swapBuffer.AsSpan(4 * i, 4), tensor.Data[start + i]);
                stream.Write(swapBuffer, 0, 4 * count);
            }
        }
    }

    /// <summary>Appends a JSON string literal escaped as serde_json does (only quote, backslash and control characters).</summary>
    private static StringBuilder AppendJsonString(StringBuilder json, string text)
    {
        json.Append('"');
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\b': json.Append("\\b"); break;
                case '\f': json.Append("\\f"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                default:
                    if (c < 0x20)
                        json.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else
                        json.Append(c);
                    break;
            }
        }
        return json.Append('"');
    }

    /// <summary>Product of non-negative dimensions, saturating at <see cref="long.MaxValue"/> instead of wrapping.</summary>
    private static long SaturatingElementCount(int[] shape)
    {
        if (shape.Contains(0))
            return 0;
        long count = 1;
        foreach (int dim in shape)
            count = count > long.MaxValue / dim ? long.MaxValue : count * dim;
        return count;
    }

    /// <summary>Orders strings by Unicode code point, which is the byte order of their UTF-8 encodings.</summary>
    private static int CompareCodePoints(string a, string b)
    {
        StringRuneEnumerator left = a.EnumerateRunes();
        StringRuneEnumerator right = b.EnumerateRunes();
        while (true)
        {
            bool hasLeft = left.MoveNext();
            bool hasRight = right.MoveNext();
            if (!hasLeft || !hasRight)
                return hasLeft.CompareTo(hasRight);
            int order = left.Current.Value.CompareTo(right.Current.Value);
            if (order != 0)
                return order;
        }
    }

    /// <summary>A lone surrogate has no UTF-8 encoding, so the header could not be written faithfully.</summary>
    private static void RequireValidUtf16(string text, string what)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(text[i]))
                throw new ArgumentException($"{what} ('{text}') contains a lone UTF-16 surrogate at index {i}, which UTF-8 cannot encode");
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original error matters more than a leftover temporary file.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }

    // ---------------------------------------------------------------- reading

    /// <summary>
    /// What a file that fails as safetensors starts like, when it is a format users mistake for it: torch.save's zip
    /// archive or pickle, HDF5. Null otherwise.
    /// </summary>
    private static string? ForeignFormat(ReadOnlySpan<byte> firstBytes)
    {
        const string save = "save the weights with safetensors.torch.save_file(model.state_dict(), path)";
        if (firstBytes.Length >= 4 && firstBytes[..4].SequenceEqual("PK\u0003\u0004"u8)) return $"a zip archive, as torch.save writes .pt files: {save}";
        if (firstBytes.Length >= 2 && firstBytes[0] == 0x80 && firstBytes[1] is >= 2 and <= 5) return $"a pickle, as older torch.save writes: {save}";
        if (firstBytes.Length >= 4 && firstBytes[0] == 0x89 && firstBytes[1..4].SequenceEqual("HDF"u8)) return "an HDF5 file (a dataset?), not safetensors";
        return null;
    }

    /// <summary>One header entry after validation: where its bytes are and how to convert them.</summary>
    private readonly record struct Entry(string Name, SafetensorsDType DType, int[] Shape, long ElementCount, long Begin, long End);

    private sealed class Reader(Stream stream, string source, bool rejectNonFinite)
    {
        private CheckpointFormatException Fail(string problem, Exception? inner = null) => new(source, problem, inner);

        public Checkpoint Read()
        {
            long fileLength = stream.Length - stream.Position;
            if (fileLength < 8)
                throw Fail($"the file has {fileLength} bytes, fewer than the 8-byte header length");

            Span<byte> lengthBytes = stackalloc byte[8];
            ReadExactly(lengthBytes);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > MaxHeaderLength)
                throw Fail($"the header length is {headerLength} bytes, above the {MaxHeaderLength}-byte limit ({ForeignFormat(lengthBytes) ?? "not a safetensors file, or corrupt"})");
            if ((long)headerLength > fileLength - 8)
                throw Fail($"the header length is {headerLength} bytes but only {fileLength - 8} bytes follow the length field ({ForeignFormat(lengthBytes) ?? "truncated file?"})");

            byte[] header = new byte[headerLength];
            ReadExactly(header);
            long bufferLength = fileLength - 8 - (long)headerLength;
            (List<Entry> entries, Dictionary<string, string> metadata) = ParseHeader(header, bufferLength);

            var tensors = new Dictionary<string, NamedTensor>(entries.Count, StringComparer.Ordinal);
            // Entries are sorted by offset and contiguous from 0, so the data can be read front to back.
            foreach (Entry entry in entries)
            {
                if (entry.DType == SafetensorsDType.Integer)
                {
                    // A counter or mask saved beside the weights: its bytes are passed over, the tensor is not kept.
                    stream.Seek(entry.End - entry.Begin, SeekOrigin.Current);
                    continue;
                }
                tensors.Add(entry.Name, ReadTensor(entry));
            }
            return new Checkpoint(tensors, metadata);
        }

        private NamedTensor ReadTensor(Entry entry)
        {
            float[] data = new float[entry.ElementCount];
            long firstOverflow;
            if (entry.DType == SafetensorsDType.F32 && BitConverter.IsLittleEndian)
            {
                // The stored bytes are already our in-memory layout: read them straight into the array.
                ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
                firstOverflow = -1;
            }
            else
            {
                byte[] raw = new byte[entry.End - entry.Begin];
                ReadExactly(raw);
                firstOverflow = SafetensorsDTypes.Convert(entry.DType, raw, data);
            }
            if (firstOverflow >= 0)
                throw Fail($"tensor '{entry.Name}' (F64) has a value outside float32's range at flat index {firstOverflow}");
            if (rejectNonFinite)
            {
                for (int i = 0; i < data.Length; i++)
                {
                    if (!float.IsFinite(data[i]))
                        throw Fail($"tensor '{entry.Name}' has a non-finite value ({data[i].ToString(CultureInfo.InvariantCulture)}) at flat index {i}");
                }
            }
            return new NamedTensor(entry.Name, entry.Shape, data);
        }

        private void ReadExactly(Span<byte> destination)
        {
            try
            {
                stream.ReadExactly(destination);
            }
            catch (EndOfStreamException e)
            {
                throw Fail("the file ended before its declared end (was it truncated while being read?)", e);
            }
        }

        private (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(byte[] header, long bufferLength)
        {
            // JsonDocument only checks UTF-8 when a string is decoded, and then throws InvalidOperationException.
            if (!Utf8.IsValid(header))
                throw Fail("the header is not valid UTF-8");
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(header);
            }
            catch (JsonException e)
            {
                throw Fail($"the header is not valid JSON ({e.Message})", e);
            }

            using (document)
            {
                JsonElement root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw Fail($"the header is a JSON {root.ValueKind}, not an object");

                var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                var entries = new List<Entry>();
                var names = new HashSet<string>(StringComparer.Ordinal);
                bool sawMetadata = false;
                foreach (JsonProperty property in root.EnumerateObject())
                {
                    if (property.Name == MetadataKey)
                    {
                        if (sawMetadata)
                            throw Fail($"'{MetadataKey}' appears more than once in the header");
                        sawMetadata = true;
                        ParseMetadata(property.Value, metadata);
                        continue;
                    }
                    if (!names.Add(property.Name))
                        throw Fail($"tensor name '{property.Name}' appears more than once in the header");
                    entries.Add(ParseEntry(property.Name, property.Value, bufferLength));
                }

                CheckLayout(entries, bufferLength);
                return (entries, metadata);
            }
        }

        private void ParseMetadata(JsonElement element, Dictionary<string, string> metadata)
        {
            if (element.ValueKind != JsonValueKind.Object)
                throw Fail($"'{MetadataKey}' is a JSON {element.ValueKind}, not an object of strings");
            foreach (JsonProperty property in element.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                    throw Fail($"metadata key '{property.Name}' has a JSON {property.Value.ValueKind} value; safetensors metadata values must be strings");
                if (!metadata.TryAdd(property.Name, property.Value.GetString()!))
                    throw Fail($"metadata key '{property.Name}' appears more than once");
            }
        }

        private Entry ParseEntry(string name, JsonElement element, long bufferLength)
        {
            if (element.ValueKind != JsonValueKind.Object)
                throw Fail($"tensor '{name}' is described by a JSON {element.ValueKind}, not an object with dtype, shape and data_offsets");

            if (!element.TryGetProperty("dtype", out JsonElement dtypeElement))
                throw Fail($"tensor '{name}' has no 'dtype' field");
            if (dtypeElement.ValueKind != JsonValueKind.String)
                throw Fail($"tensor '{name}' has a 'dtype' that is a JSON {dtypeElement.ValueKind}, not a string");
            string dtypeName = dtypeElement.GetString()!;
            if (!SafetensorsDTypes.TryParse(dtypeName, out SafetensorsDType dtype))
            {
                throw Fail(SafetensorsDTypes.IsKnown(dtypeName)
                    ? $"tensor '{name}' has dtype {dtypeName}, which is not converted to float32 (supported: F32, F16, BF16, F64)"
                    : $"tensor '{name}' has unknown dtype '{dtypeName}'");
            }

            if (!element.TryGetProperty("shape", out JsonElement shapeElement))
                throw Fail($"tensor '{name}' has no 'shape' field");
            if (shapeElement.ValueKind != JsonValueKind.Array)
                throw Fail($"tensor '{name}' has a 'shape' that is a JSON {shapeElement.ValueKind}, not an array");
            int[] shape = new int[shapeElement.GetArrayLength()];
            int d = 0;
            foreach (JsonElement dimElement in shapeElement.EnumerateArray())
            {
                if (dimElement.ValueKind != JsonValueKind.Number || !dimElement.TryGetInt32(out int dim) || dim < 0)
                    throw Fail($"tensor '{name}' has shape dimension {d} = {dimElement.GetRawText()}, not a non-negative 32-bit integer");
                shape[d++] = dim;
            }
            long elementCount = SaturatingElementCount(shape);
            string shapeText = "[" + string.Join(", ", shape) + "]";

            if (!element.TryGetProperty("data_offsets", out JsonElement offsetsElement))
                throw Fail($"tensor '{name}' has no 'data_offsets' field");
            if (offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
                throw Fail($"tensor '{name}' has data_offsets {offsetsElement.GetRawText()}, not an array [begin, end]");
            long begin = ParseOffset(name, offsetsElement[0]);
            long end = ParseOffset(name, offsetsElement[1]);
            if (begin > end)
                throw Fail($"tensor '{name}' has data_offsets [{begin}, {end}] with begin after end");
            if (end > bufferLength)
                throw Fail($"tensor '{name}' has data_offsets [{begin}, {end}] outside the data buffer of {bufferLength} bytes (truncated file?)");

            int elementSize = SafetensorsDTypes.SizeOf(dtype, dtypeName);
            // Compare by division first so a saturated (huge) element count cannot overflow the product.
            if (elementCount > (end - begin) / elementSize || elementCount * elementSize != end - begin)
                throw Fail($"tensor '{name}' has shape {shapeText} of {dtypeName} ({elementCount} elements × {elementSize} bytes) but data_offsets [{begin}, {end}] span {end - begin} bytes");
            if (elementCount > Array.MaxLength)
                throw Fail($"tensor '{name}' has {elementCount} elements, more than a .NET array can hold");

            return new Entry(name, dtype, shape, elementCount, begin, end);
        }

        private long ParseOffset(string name, JsonElement element)
        {
            if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long value) || value < 0)
                throw Fail($"tensor '{name}' has data offset {element.GetRawText()}, not a non-negative integer");
            return value;
        }

        /// <summary>
        /// The reference implementation requires the tensors to tile the data buffer exactly: sorted by
        /// offset, each begins where the previous ends, the first at 0 and the last at the buffer's end.
        /// Anything else means overlapping tensors, a gap, or trailing bytes from a corrupt write.
        /// </summary>
        private void CheckLayout(List<Entry> entries, long bufferLength)
        {
            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long expectedBegin = 0;
            string? previous = null;
            foreach (Entry entry in entries)
            {
                if (entry.Begin < expectedBegin)
                    throw Fail($"tensors '{previous}' (ends at {expectedBegin}) and '{entry.Name}' (data_offsets [{entry.Begin}, {entry.End}]) overlap");
                if (entry.Begin > expectedBegin)
                {
                    throw Fail(previous is null
                        ? $"the first tensor '{entry.Name}' begins at byte {entry.Begin}, not 0; tensor data must be contiguous"
                        : $"tensor '{previous}' ends at byte {expectedBegin} but the next tensor '{entry.Name}' begins at {entry.Begin}; tensor data must be contiguous");
                }
                expectedBegin = entry.End;
                previous = entry.Name;
            }
            if (expectedBegin != bufferLength)
                throw Fail($"the tensors cover {expectedBegin} bytes but the data buffer after the header has {bufferLength} (trailing bytes)");
        }
    }
}
