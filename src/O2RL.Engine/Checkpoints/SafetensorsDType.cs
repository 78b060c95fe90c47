using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace O2RL.Engine.Checkpoints;

/// <summary>The safetensors element types this reader converts to float32.</summary>
internal enum SafetensorsDType
{
    /// <summary>IEEE 754 binary32, stored as is.</summary>
    F32,

    /// <summary>IEEE 754 binary16; every value is exactly representable in float32.</summary>
    F16,

    /// <summary>bfloat16: the upper 16 bits of a binary32, so widening is exact.</summary>
    BF16,

    /// <summary>IEEE 754 binary64, rounded to the nearest float32.</summary>
    F64,

    /// <summary>
    /// Any integer or boolean type (BOOL, U8 … I64). Never converted: such tensors (step counters, BatchNorm's
    /// num_batches_tracked) hold no weights, and the reader skips them so that a file holding one still loads.
    /// </summary>
    Integer,
}

/// <summary>Names, sizes and float32 conversion of safetensors element types.</summary>
internal static class SafetensorsDTypes
{
    /// <summary>
    /// Every dtype name the safetensors format defines. Those outside <see cref="SafetensorsDType"/> are
    /// recognised only to give "unsupported" rather than "unknown" in error messages.
    /// </summary>
    private static readonly HashSet<string> KnownNames = new(StringComparer.Ordinal)
    {
        "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "BF16", "F32", "F64",
        "F8_E5M2", "F8_E4M3", "F8_E8M0", "E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64",
    };

    /// <summary>Parses a dtype name; false when it is neither a float type we convert nor an integer type we skip.</summary>
    public static bool TryParse(string name, out SafetensorsDType dtype)
    {
        switch (name)
        {
            case "F32": dtype = SafetensorsDType.F32; return true;
            case "F16": dtype = SafetensorsDType.F16; return true;
            case "BF16": dtype = SafetensorsDType.BF16; return true;
            case "F64": dtype = SafetensorsDType.F64; return true;
            case "BOOL" or "U8" or "I8" or "U16" or "I16" or "U32" or "I32" or "U64" or "I64": dtype = SafetensorsDType.Integer; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>Whether <paramref name="name"/> is a dtype the format defines (supported or not).</summary>
    public static bool IsKnown(string name) => KnownNames.Contains(name);

    /// <summary>Bytes per element of a named dtype (<see cref="SafetensorsDType.Integer"/> covers several sizes).</summary>
    public static int SizeOf(SafetensorsDType dtype, string name) => dtype == SafetensorsDType.Integer
        ? name switch { "BOOL" or "U8" or "I8" => 1, "U16" or "I16" => 2, "U32" or "I32" => 4, _ => 8 }
        : SizeOf(dtype);

    /// <summary>Bytes per element.</summary>
    public static int SizeOf(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => 4,
        SafetensorsDType.F16 => 2,
        SafetensorsDType.BF16 => 2,
        SafetensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a supported dtype"),
    };

    /// <summary>
    /// Converts little-endian elements of <paramref name="dtype"/> to float32.
    /// Returns the index of the first finite F64 value that overflows float32 (it would silently become
    /// ±∞), or -1 when every value converted faithfully.
    /// </summary>
    /// <param name="dtype">Stored element type.</param>
    /// <param name="source">Raw bytes: <c>destination.Length × SizeOf(dtype)</c>.</param>
    /// <param name="destination">Converted elements.</param>
    public static long Convert(SafetensorsDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                if (BitConverter.IsLittleEndian)
                {
                    source.CopyTo(MemoryMarshal.AsBytes(destination));
                    return -1;
                }
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(4 * i, 4));
                return -1;
            case SafetensorsDType.F16:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source.Slice(2 * i, 2));
                return -1;
            case SafetensorsDType.BF16:
                // A bfloat16 is the high half of a float32's bit pattern.
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(2 * i, 2)) << 16);
                return -1;
            case SafetensorsDType.F64:
                long firstOverflow = -1;
                for (int i = 0; i < destination.Length; i++)
                {
                    double value = BinaryPrimitives.ReadDoubleLittleEndian(source.Slice(8 * i, 8));
                    float narrowed = (float)value;
                    if (firstOverflow < 0 && float.IsInfinity(narrowed) && double.IsFinite(value))
                        firstOverflow = i;
                    destination[i] = narrowed;
                }
                return firstOverflow;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a supported dtype");
        }
    }
}
