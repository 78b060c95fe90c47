using O2RL.Data;
using PureHDF;
using Xunit;

namespace O2RL.Data.Tests;

public class D4rlHdf5Tests
{
    [Fact]
    public void RoundTripKeepsEveryArrayAndTheMetadata()
    {
        var meta = new DatasetMetadata { EnvironmentId = "Pendulum-v1", Level = "medium", BehaviourReturn = -312.5, GeneratorVersion = "0.1.0", Seed = 42 };
        var original = TestData.Build(25, terminalRows: [4, 20], timeoutRows: [10], metadata: meta);
        string path = TestData.TempFile("round.hdf5");
        D4rlHdf5.Write(original, path, new D4rlWriteOptions { ChunkRows = 7 });
        var loaded = D4rlHdf5.Read(path);
        Assert.Equal(original.Observations, loaded.Observations);
        Assert.Equal(original.Actions, loaded.Actions);
        Assert.Equal(original.Rewards, loaded.Rewards);
        Assert.Equal(original.NextObservations, loaded.NextObservations);
        Assert.Equal(original.Terminals, loaded.Terminals);
        Assert.Equal(original.Timeouts, loaded.Timeouts);
        Assert.Equal(meta, loaded.Metadata);
    }

    [Fact]
    public void FlagsAreWrittenAsNumpyBoolEnumAndArraysAsRowChunks()
    {
        string path = TestData.TempFile("layout.hdf5");
        D4rlHdf5.Write(TestData.Build(25, terminalRows: [3]), path, new D4rlWriteOptions { ChunkRows = 10 });
        using var file = H5File.OpenRead(path);
        var terminals = file.Dataset("terminals");
        Assert.Equal(H5DataTypeClass.Enumerated, terminals.Type.Class);
        Assert.Equal(1, terminals.Type.Size);
        var baseType = terminals.Type.Enumeration.BaseType;
        Assert.Equal(H5DataTypeClass.FixedPoint, baseType.Class);
        Assert.Equal(1, baseType.Size);
        var members = terminals.Type.Enumeration.GetMembers<byte>();
        Assert.Equal(2, members.Count);
        Assert.Equal((byte)0, members["FALSE"]);
        Assert.Equal((byte)1, members["TRUE"]);
        var observations = file.Dataset("observations");
        Assert.Equal(H5DataLayoutClass.Chunked, observations.Layout.Class);
        Assert.Equal(new ulong[] { 10, 2 }, observations.Layout.Chunks.Take(2).Select(c => (ulong)c).ToArray());
        Assert.Equal(H5DataTypeClass.FloatingPoint, observations.Type.Class);
        Assert.Equal(4, observations.Type.Size);
    }
}
