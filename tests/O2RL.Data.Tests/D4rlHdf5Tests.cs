using O2RL.Data;
using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;
using Xunit;

namespace O2RL.Data.Tests;

public class D4rlHdf5Tests
{
    [Fact]
    public void RoundTripKeepsEveryArrayAndTheMetadata()
    {
        var meta = new DatasetMetadata { EnvironmentId = "Pendulum-v1", Level = "medium", BehaviourReturn = -312.5, GeneratorVersion = "0.1.0", Seed = 42,
            BehaviourPolicy = "SAC policy at step 3,500 of 4,500 (best evaluation, return −713.2), sampled actions" };
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

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(-1)]
    public void RoundTripWithEveryDeflateLevelAndWithoutOptionalKeys(int level)
    {
        var original = TestData.Build(13, terminalRows: [12], withTimeouts: false, withNext: false);
        string path = TestData.TempFile("levels.hdf5");
        D4rlHdf5.Write(original, path, new D4rlWriteOptions { DeflateLevel = level, ChunkRows = 5 });
        var result = D4rlHdf5.Load(path);
        Assert.NotNull(result.Dataset);
        Assert.Null(result.Dataset.Timeouts);
        Assert.Null(result.Dataset.NextObservations);
        Assert.Equal(original.Terminals, result.Dataset.Terminals);
        Assert.Equal(DatasetMetadata.Empty, result.Dataset.Metadata);
        // A missing timeouts key is a warning: fine normally, a failure in strict mode.
        var warning = Assert.Single(result.Report.Issues);
        Assert.Equal(("timeouts", IssueSeverity.Warning), (warning.Key, warning.Severity));
        Assert.True(result.Report.Passed);
        Assert.False(D4rlHdf5.Load(path, new ValidationOptions { Strict = true }).Report.Passed);
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
        Assert.Equal(new ulong[] { 25 }, file.Dataset("rewards").Space.Dimensions);
    }

    /// <summary>Layouts other writers produce: contiguous arrays, column chunks, float64, uint8 and float flags, (N, 1) rewards, nested groups.</summary>
    [Fact]
    public void ForeignLayoutsAreRead()
    {
        const int n = 6;
        var obs = Enumerable.Range(0, n * 3).Select(i => (double)i).ToArray();
        var act = Enumerable.Range(0, n * 2).Select(i => i / 20f).ToArray();
        var rew = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        var file = new H5File
        {
            ["observations"] = new H5Dataset(obs, fileDims: [n, 3]),
            ["actions"] = new H5Dataset(act, chunks: [n, 1], fileDims: [n, 2],
                datasetCreation: new H5DatasetCreation(Filters: [new H5Filter(DeflateFilter.Id, new Dictionary<string, object> { [DeflateFilter.COMPRESSION_LEVEL] = 9 })])),
            ["rewards"] = new H5Dataset(rew, fileDims: [n, 1]),
            ["terminals"] = new H5Dataset(new byte[] { 0, 0, 1, 0, 0, 0 }, fileDims: [n]),
            ["timeouts"] = new H5Dataset(new float[] { 0, 0, 0, 0, 1, 0 }, fileDims: [n]),
            ["infos"] = new H5Group
            {
                ["qpos"] = new H5Dataset(new float[n * 4], fileDims: [n, 4]),
                ["goal"] = new H5Group { ["xy"] = new H5Dataset(new float[n * 2], fileDims: [n, 2]) },
            },
            ["metadata"] = new H5Group { ["algorithm"] = "SAC", ["iteration"] = 7 },
        };
        string path = TestData.TempFile("foreign.hdf5");
        file.Write(path);
        var d = D4rlHdf5.Read(path, ValidationOptions.UnitActionBox(observationDim: 3, actionDim: 2, strict: true));
        Assert.Equal(obs.Select(v => (float)v), d.Observations);
        Assert.Equal(act, d.Actions);
        Assert.Equal(rew, d.Rewards);
        Assert.Equal(new[] { false, false, true, false, false, false }, d.Terminals);
        Assert.Equal(new[] { false, false, false, false, true, false }, d.Timeouts);
        Assert.Equal("SAC", d.Metadata.Algorithm);
    }

    [Theory]
    [InlineData(0.5f, "has the value 0.5 at row 2; flags must be 0 or 1")]
    [InlineData(float.NaN, "has the value NaN at row 2; flags must be 0 or 1")]
    [InlineData(2f, "has the value 2 at row 2; flags must be 0 or 1")]
    public void FlagsOtherThanZeroOrOneAreErrors(float odd, string message)
    {
        // Read as "not zero", a 0.5 or a NaN terminal would end an episode the data never ended.
        const int n = 4;
        var file = new H5File
        {
            ["observations"] = new H5Dataset(new float[n * 2], fileDims: [n, 2]),
            ["actions"] = new H5Dataset(new float[n], fileDims: [n, 1]),
            ["rewards"] = new H5Dataset(new float[n], fileDims: [n]),
            ["terminals"] = new H5Dataset(new float[] { 0, 1, odd, 0 }, fileDims: [n]),
            ["timeouts"] = new H5Dataset(new byte[] { 0, 0, 0, 1 }, fileDims: [n]),
        };
        string path = TestData.TempFile($"flags-{odd}.hdf5");
        file.Write(path);
        var issue = Assert.Single(D4rlHdf5.Load(path).Report.Issues, i => i.Severity == IssueSeverity.Error);
        Assert.Equal("terminals", issue.Key);
        Assert.Equal(message, issue.Message);
        Assert.Throws<DatasetValidationException>(() => D4rlHdf5.Read(path));
    }

    [Fact]
    public void IntegerFlagsOtherThanZeroOrOneAreErrors()
    {
        const int n = 3;
        var file = new H5File
        {
            ["observations"] = new H5Dataset(new float[n * 2], fileDims: [n, 2]),
            ["actions"] = new H5Dataset(new float[n], fileDims: [n, 1]),
            ["rewards"] = new H5Dataset(new float[n], fileDims: [n]),
            ["terminals"] = new H5Dataset(new byte[] { 0, 7, 0 }, fileDims: [n]),
        };
        string path = TestData.TempFile("int-flags.hdf5");
        file.Write(path);
        var issue = Assert.Single(D4rlHdf5.Load(path).Report.Issues, i => i.Severity == IssueSeverity.Error);
        Assert.Equal("has the value 7 at row 1; flags must be 0 or 1", issue.Message);
    }

    [Fact]
    public void ACorruptCompressedChunkIsCalledCorruptNotAnUnsupportedFilter()
    {
        // PureHDF's wording for a filter it lacks, and for a supported filter meeting bytes it cannot decode.
        string missing = D4rlHdf5.DescribeReadFailure(new Exception("Could not find filter '32000'."));
        Assert.StartsWith("uses an HDF5 filter this reader does not support", missing);
        string corrupt = D4rlHdf5.DescribeReadFailure(new Exception("Filter pipeline failed.",
            new InvalidDataException("The archive entry was compressed using an unsupported compression method.")));
        Assert.StartsWith("has a compressed chunk that could not be decoded: the file is corrupt", corrupt);
    }

    [Fact]
    public void MissingFileThrowsAndGarbageIsReported()
    {
        Assert.Throws<FileNotFoundException>(() => D4rlHdf5.Load(TestData.TempFile("absent.hdf5")));
        string path = TestData.TempFile("garbage.hdf5");
        File.WriteAllText(path, "this is not an HDF5 file");
        var issue = Assert.Single(D4rlHdf5.Load(path).Report.Issues);
        Assert.Equal(("(file)", IssueSeverity.Error), (issue.Key, issue.Severity));
        Assert.Contains("garbage.hdf5", issue.ToString());
    }

    [Fact]
    public void WriterRejectsUnsupportedDeflateLevels()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => D4rlHdf5.Write(TestData.Build(3), TestData.TempFile("x.hdf5"), new D4rlWriteOptions { DeflateLevel = 5 }));
        Assert.Contains("0, 1, 9 or -1", ex.Message);
    }

    [Fact]
    public void EmptyDatasetRoundTrips()
    {
        string path = TestData.TempFile("empty.hdf5");
        D4rlHdf5.Write(TestData.Build(0), path);
        var d = D4rlHdf5.Read(path);
        Assert.Equal(0, d.RowCount);
        Assert.Equal(0, d.ToQLearning().Count);
        Assert.Empty(d.Episodes());
    }
}
