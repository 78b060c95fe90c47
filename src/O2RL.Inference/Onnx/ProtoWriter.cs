using System.Buffers.Binary;
using System.Text;

namespace O2RL.Inference.Onnx;

/// <summary>
/// The few pieces of the protocol-buffers wire format an ONNX file needs: each field is a key
/// (field number &lt;&lt; 3 | wire type) followed by a varint (type 0), four little-endian bytes (type 5) or a
/// varint length and that many bytes (type 2: strings, bytes, nested messages, packed repeated numbers).
/// A nested message is written into its own writer and then added as bytes.
/// </summary>
sealed class ProtoWriter
{
    const int Varint = 0, LengthDelimited = 2, Fixed32 = 5;
    readonly MemoryStream stream = new();

    /// <summary>The encoded message.</summary>
    public byte[] ToArray() => stream.ToArray();

    void Key(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

    void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        stream.WriteByte((byte)value);
    }

    /// <summary>An int64/int32/enum field (negative numbers as ten-byte two's complement, as protobuf does).</summary>
    public ProtoWriter Int(int field, long value)
    {
        Key(field, Varint);
        WriteVarint((ulong)value);
        return this;
    }

    /// <summary>A float field.</summary>
    public ProtoWriter Float(int field, float value)
    {
        Key(field, Fixed32);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        stream.Write(bytes);
        return this;
    }

    /// <summary>A bytes field.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Key(field, LengthDelimited);
        WriteVarint((ulong)value.Length);
        stream.Write(value);
        return this;
    }

    /// <summary>A UTF-8 string field.</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A nested message field.</summary>
    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    /// <summary>A repeated int64 field, packed (one length-delimited run of varints).</summary>
    public ProtoWriter PackedInts(int field, IEnumerable<long> values)
    {
        var packed = new ProtoWriter();
        foreach (long v in values) packed.WriteVarint((ulong)v);
        return Bytes(field, packed.ToArray());
    }
}
