using Xunit;
using System.Text;
using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.Tests.Runs;

public class TensorBoardEventTests
{
    [Fact]
    public void Crc32C_MatchesTheStandardCheckValue()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, Crc32C.Compute([]));
        // Masking: rotate right 15, add 0xA282EAD8 (mod 2^32).
        uint crc = 0xE3069283u;
        Assert.Equal(unchecked(((crc >> 15) | (crc << 17)) + 0xA282EAD8u), Crc32C.Mask(crc));
    }

    [Fact]
    public void EncodeEvent_ProducesTheProtobufBytesByHand()
    {
        // wall_time = 1.0 (field 1, fixed64), step = 300 (field 2, varint 0xAC 0x02),
        // summary (field 5) { value (field 1) { tag "a" (field 1), simple_value 0.5f (field 2, fixed32) } }.
        byte[] expected =
        [
            0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,
            0x10, 0xAC, 0x02,
            0x2A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, (byte)'a', 0x15, 0, 0, 0, 0x3F,
        ];
        Assert.Equal(expected, TensorBoardEventWriter.EncodeEvent(1.0, 300, null, [("a", 0.5f)]));
    }

    [Fact]
    public void WrittenScalars_ReadBackWithVersionHeader()
    {
        using var folder = new TemporaryFolder();
        string path = folder.Combine(TensorBoardEventWriter.NewFileName(DateTimeOffset.UnixEpoch.AddSeconds(1700000000)));
        Assert.EndsWith("events.out.tfevents.1700000000.o2rl", path);
        using (var writer = new TensorBoardEventWriter(path))
        {
            writer.WriteScalars(0, [("eval/normalized_return", 42.5f)], wallTime: 10.25);
            writer.WriteScalars(1000, [("losses/qf_loss", 0.125f), ("charts/sps", 1234f)], wallTime: 11.5);
            writer.WriteScalars(123456789012, [("time/update", -3.75f)], wallTime: 12);
        }
        var events = TensorBoardEventReader.ReadEvents(path);
        Assert.Equal(4, events.Count);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.Empty(events[0].Values);
        var scalars = TensorBoardEventReader.ReadScalars(path);
        Assert.Equal(
            [
                new TensorBoardScalar(0, "eval/normalized_return", 42.5f, 10.25),
                new TensorBoardScalar(1000, "losses/qf_loss", 0.125f, 11.5),
                new TensorBoardScalar(1000, "charts/sps", 1234f, 11.5),
                new TensorBoardScalar(123456789012, "time/update", -3.75f, 12),
            ], scalars);
    }

    [Theory]
    [InlineData(3)]    // inside the length field: the length CRC no longer matches
    [InlineData(-10)]  // inside the last record's data: the data CRC no longer matches
    [InlineData(-1)]   // inside the last record's data CRC
    public void CorruptedByte_IsDetected(int position)
    {
        using var folder = new TemporaryFolder();
        string path = folder.Combine("events.out.tfevents.1.o2rl");
        using (var writer = new TensorBoardEventWriter(path)) writer.WriteScalars(5, [("eval/return", 1.5f)]);
        var bytes = File.ReadAllBytes(path);
        int index = position >= 0 ? position : bytes.Length + position;
        bytes[index] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => TensorBoardEventReader.ReadEvents(path));
        Assert.Contains("CRC mismatch", ex.Message);
    }

    [Fact]
    public void TornLastRecord_IsAnErrorUnlessAllowed()
    {
        using var folder = new TemporaryFolder();
        string path = folder.Combine("events.out.tfevents.1.o2rl");
        using (var writer = new TensorBoardEventWriter(path))
        {
            writer.WriteScalars(1, [("a", 1f)]);
            writer.WriteScalars(2, [("a", 2f)]);
        }
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^7]);
        Assert.Throws<InvalidDataException>(() => TensorBoardEventReader.ReadEvents(path));
        var scalars = TensorBoardEventReader.ReadScalars(path, allowTornTail: true);
        Assert.Equal([(1L, "a", 1f)], scalars.Select(s => (s.Step, s.Tag, s.Value)));
    }
}
