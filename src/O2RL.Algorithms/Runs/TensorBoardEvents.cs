using System.Buffers.Binary;
using System.Text;

namespace O2RL.Algorithms.Runs;

/// <summary>One scalar read back from an event file.</summary>
public readonly record struct TensorBoardScalar(long Step, string Tag, float Value, double WallTime);

/// <summary>One decoded <c>Event</c> message: either the file-version header or a summary of scalar values.</summary>
public sealed record TensorBoardEvent(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Values);

/// <summary>
/// Writes a TensorBoard event file: TFRecord records (uint64 length, masked CRC-32C of the length, the data,
/// masked CRC-32C of the data; all little-endian) around hand-encoded <c>Event</c> protobuf messages:
/// <code>
/// Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
/// Summary { repeated Value value = 1; }
/// Value   { string tag = 1; float simple_value = 2; }
/// </code>
/// The first record carries <c>file_version = "brain.Event:2"</c>, which TensorBoard expects. Each flush reaches
/// the file, so a killed run leaves at most one torn record at the end (the reader can stop before it).
/// </summary>
public sealed class TensorBoardEventWriter : IDisposable
{
    /// <summary>The version string of the first record.</summary>
    public const string FileVersion = "brain.Event:2";

    readonly Stream stream;
    readonly bool ownsStream;

    /// <summary>Creates (or replaces) the event file at <paramref name="path"/> and writes the version record.</summary>
    public TensorBoardEventWriter(string path)
        : this(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read), ownsStream: true, UnixSecondsNow()) { }

    /// <summary>Writes to <paramref name="stream"/>, starting with the version record stamped <paramref name="wallTime"/>.</summary>
    public TensorBoardEventWriter(Stream stream, bool ownsStream, double wallTime)
    {
        ArgumentNullException.ThrowIfNull(stream);
        this.stream = stream;
        this.ownsStream = ownsStream;
        WriteRecord(EncodeEvent(wallTime, 0, FileVersion, []));
    }

    /// <summary>
    /// A file name TensorBoard recognises (it looks for "tfevents"), without the host name the Python writers put
    /// in it, so run folders do not reveal or depend on the machine that wrote them.
    /// </summary>
    public static string NewFileName(DateTimeOffset time) => $"events.out.tfevents.{time.ToUnixTimeSeconds()}.o2rl";

    /// <summary>Seconds since the Unix epoch, the unit of <c>wall_time</c>.</summary>
    public static double UnixSecondsNow() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>Writes one event holding every (tag, value) pair of <paramref name="step"/>.</summary>
    public void WriteScalars(long step, IReadOnlyList<(string Tag, float Value)> values, double? wallTime = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) return;
        WriteRecord(EncodeEvent(wallTime ?? UnixSecondsNow(), step, null, values));
    }

    /// <summary>Pushes buffered records to the file (and, with <paramref name="toDisk"/>, to the disk).</summary>
    public void Flush(bool toDisk = false)
    {
        if (toDisk && stream is FileStream file) file.Flush(flushToDisk: true);
        else stream.Flush();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        stream.Flush();
        if (ownsStream) stream.Dispose();
    }

    void WriteRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.ComputeMasked(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.ComputeMasked(data));
        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
    }

    /// <summary>Serialises one <c>Event</c> message (fields in number order, as protobuf encoders do).</summary>
    internal static byte[] EncodeEvent(double wallTime, long step, string? fileVersion, IReadOnlyList<(string Tag, float Value)> values)
    {
        var message = new ProtoWriter();
        message.WriteDouble(1, wallTime);
        if (step != 0) message.WriteVarintField(2, (ulong)step);
        if (fileVersion is not null) message.WriteBytes(3, Encoding.UTF8.GetBytes(fileVersion));
        if (values.Count > 0)
        {
            var summary = new ProtoWriter();
            foreach (var (tag, value) in values)
            {
                var entry = new ProtoWriter();
                entry.WriteBytes(1, Encoding.UTF8.GetBytes(tag));
                entry.WriteFloat(2, value);
                summary.WriteBytes(1, entry.ToArray());
            }
            message.WriteBytes(5, summary.ToArray());
        }
        return message.ToArray();
    }

    /// <summary>The few protobuf wire encodings an Event needs: varint (0), 64-bit (1), length-delimited (2), 32-bit (5).</summary>
    sealed class ProtoWriter
    {
        readonly MemoryStream buffer = new();

        void WriteTag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

        void WriteVarint(ulong value)
        {
            // Seven bits per byte, low group first; the high bit says another byte follows.
            while (value >= 0x80) { buffer.WriteByte((byte)(value | 0x80)); value >>= 7; }
            buffer.WriteByte((byte)value);
        }

        public void WriteVarintField(int field, ulong value) { WriteTag(field, 0); WriteVarint(value); }

        public void WriteDouble(int field, double value)
        {
            WriteTag(field, 1);
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
            buffer.Write(bytes);
        }

        public void WriteFloat(int field, float value)
        {
            WriteTag(field, 5);
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
            buffer.Write(bytes);
        }

        public void WriteBytes(int field, byte[] bytes)
        {
            WriteTag(field, 2);
            WriteVarint((ulong)bytes.Length);
            buffer.Write(bytes);
        }

        public byte[] ToArray() => buffer.ToArray();
    }
}

/// <summary>
/// Reads TensorBoard event files written by <see cref="TensorBoardEventWriter"/> (or by TensorFlow/PyTorch
/// writers, for the scalar <c>simple_value</c> fields): checks both CRCs of every record and decodes the events.
/// </summary>
public static class TensorBoardEventReader
{
    /// <summary>
    /// Every event of the file. A CRC mismatch throws <see cref="InvalidDataException"/>. A record cut short by the
    /// end of the file (a writer killed mid-record) throws too, unless <paramref name="allowTornTail"/> is set, in
    /// which case reading stops before it.
    /// </summary>
    public static IReadOnlyList<TensorBoardEvent> ReadEvents(string path, bool allowTornTail = false)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<TensorBoardEvent>();
        int offset = 0;
        while (offset < bytes.Length)
        {
            if (bytes.Length - offset < 12)
            {
                if (allowTornTail) break;
                throw new InvalidDataException($"{path}: record header at byte {offset} is cut short ({bytes.Length - offset} of 12 bytes)");
            }
            var header = bytes.AsSpan(offset, 12);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            uint lengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            if (Crc32C.ComputeMasked(header[..8]) != lengthCrc)
                throw new InvalidDataException($"{path}: length CRC mismatch in the record at byte {offset}");
            if (length > (ulong)(bytes.Length - offset - 12 - 4))
            {
                if (allowTornTail) break;
                throw new InvalidDataException($"{path}: record at byte {offset} declares {length} bytes but the file ends first");
            }
            var data = bytes.AsSpan(offset + 12, (int)length);
            uint dataCrc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 12 + (int)length, 4));
            if (Crc32C.ComputeMasked(data) != dataCrc)
                throw new InvalidDataException($"{path}: data CRC mismatch in the record at byte {offset}");
            events.Add(DecodeEvent(data, path, offset));
            offset += 12 + (int)length + 4;
        }
        return events;
    }

    /// <summary>Every scalar of the file in file order, as (step, tag, value, wall time).</summary>
    public static IReadOnlyList<TensorBoardScalar> ReadScalars(string path, bool allowTornTail = false) =>
        [.. ReadEvents(path, allowTornTail).SelectMany(e => e.Values.Select(v => new TensorBoardScalar(e.Step, v.Tag, v.Value, e.WallTime)))];

    static TensorBoardEvent DecodeEvent(ReadOnlySpan<byte> data, string path, int recordOffset)
    {
        double wallTime = 0;
        long step = 0;
        string? fileVersion = null;
        var values = new List<(string, float)>();
        var reader = new ProtoReader(data, path, recordOffset);
        while (reader.Next(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (1, 1): wallTime = reader.ReadDouble(); break;
                case (2, 0): step = (long)reader.ReadVarint(); break;
                case (3, 2): fileVersion = Encoding.UTF8.GetString(reader.ReadBytes()); break;
                case (5, 2): DecodeSummary(reader.ReadBytes(), values, path, recordOffset); break;
                default: reader.Skip(wireType); break;
            }
        }
        return new TensorBoardEvent(wallTime, step, fileVersion, values);
    }

    static void DecodeSummary(ReadOnlySpan<byte> data, List<(string, float)> values, string path, int recordOffset)
    {
        var summary = new ProtoReader(data, path, recordOffset);
        while (summary.Next(out int field, out int wireType))
        {
            if (field != 1 || wireType != 2) { summary.Skip(wireType); continue; }
            var entry = new ProtoReader(summary.ReadBytes(), path, recordOffset);
            string tag = "";
            float? value = null;
            while (entry.Next(out int f, out int w))
            {
                if (f == 1 && w == 2) tag = Encoding.UTF8.GetString(entry.ReadBytes());
                else if (f == 2 && w == 5) value = entry.ReadFloat();
                else entry.Skip(w); // images, histograms, tensors: not scalars, not ours to read
            }
            if (value is float v) values.Add((tag, v));
        }
    }

    ref struct ProtoReader(ReadOnlySpan<byte> data, string path, int recordOffset)
    {
        readonly ReadOnlySpan<byte> data = data;
        int position;

        public bool Next(out int field, out int wireType)
        {
            field = wireType = 0;
            if (position >= data.Length) return false;
            ulong key = ReadVarint();
            field = (int)(key >> 3);
            wireType = (int)(key & 7);
            return true;
        }

        public ulong ReadVarint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = Take(1)[0];
                result |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) return result;
            }
            throw Corrupt("varint longer than 10 bytes");
        }

        public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

        public ReadOnlySpan<byte> ReadBytes()
        {
            ulong length = ReadVarint();
            if (length > (ulong)(data.Length - position)) throw Corrupt($"field of {length} bytes overruns the message");
            return Take((int)length);
        }

        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case 0: ReadVarint(); break;
                case 1: Take(8); break;
                case 2: ReadBytes(); break;
                case 5: Take(4); break;
                default: throw Corrupt($"unsupported protobuf wire type {wireType}");
            }
        }

        ReadOnlySpan<byte> Take(int count)
        {
            if (count > data.Length - position) throw Corrupt("message ends inside a field");
            var slice = data.Slice(position, count);
            position += count;
            return slice;
        }

        readonly InvalidDataException Corrupt(string what) =>
            new($"{path}: malformed Event in the record at byte {recordOffset}: {what}");
    }
}
