using O2RL.Data;
using PureHDF;
using Xunit;

namespace O2RL.Data.Tests;

public class ValidationTests
{
    /// <summary>Writes a raw file with the given keys (float arrays with explicit shapes, byte flags).</summary>
    static string WriteRaw(string name, Action<H5File> fill)
    {
        var file = new H5File();
        fill(file);
        string path = TestData.TempFile(name);
        file.Write(path);
        return path;
    }

    static void Valid(H5File f, int rows = 4, int obsDim = 2, int actDim = 1)
    {
        f["observations"] = new H5Dataset(new float[rows * obsDim], fileDims: [(ulong)rows, (ulong)obsDim]);
        f["actions"] = new H5Dataset(new float[rows * actDim], fileDims: [(ulong)rows, (ulong)actDim]);
        f["rewards"] = new H5Dataset(new float[rows], fileDims: [(ulong)rows]);
        f["terminals"] = new H5Dataset(new byte[rows], fileDims: [(ulong)rows]);
        f["timeouts"] = new H5Dataset(new byte[rows], fileDims: [(ulong)rows]);
    }

    static ValidationIssue SingleError(ValidationReport report)
    {
        Assert.False(report.Passed);
        return Assert.Single(report.Issues, i => i.Severity == IssueSeverity.Error);
    }

    [Fact]
    public void AValidFileHasNoIssues()
    {
        var result = D4rlHdf5.Load(WriteRaw("valid.hdf5", f => Valid(f)), ValidationOptions.UnitActionBox(2, 1, strict: true));
        Assert.Empty(result.Report.Issues);
        Assert.True(result.Report.Passed);
        Assert.Contains("valid.hdf5: passed with 0 error(s) and 0 warning(s) (strict)", result.Report.Summary());
    }

    [Fact]
    public void MissingRequiredKey()
    {
        string path = WriteRaw("missing.hdf5", f => { Valid(f); f.Remove("actions"); });
        var result = D4rlHdf5.Load(path);
        Assert.Null(result.Dataset);
        var issue = SingleError(result.Report);
        Assert.Equal("error: missing.hdf5: key 'actions': required key is missing", issue.ToString());
    }

    [Fact]
    public void RowCountMismatch()
    {
        string path = WriteRaw("rows.hdf5", f => { Valid(f); f["terminals"] = new H5Dataset(new byte[3], fileDims: [3]); });
        var issue = SingleError(D4rlHdf5.Load(path).Report);
        Assert.Equal("terminals", issue.Key);
        Assert.Contains("has 3 rows but rewards has 4", issue.Message);
    }

    [Fact]
    public void WrongRank()
    {
        string path = WriteRaw("rank.hdf5", f => { Valid(f); f["observations"] = new H5Dataset(new float[8], fileDims: [8]); });
        var issue = SingleError(D4rlHdf5.Load(path).Report);
        Assert.Equal("observations", issue.Key);
        Assert.Contains("has rank 1 (shape (8)) but must be (N, dim)", issue.Message);
        string path3 = WriteRaw("rank3.hdf5", f => { Valid(f); f["rewards"] = new H5Dataset(new float[8], fileDims: [4, 1, 2]); });
        Assert.Contains("has rank 3", SingleError(D4rlHdf5.Load(path3).Report).Message);
    }

    [Fact]
    public void DimensionMismatchWithTheEnvironment()
    {
        string path = WriteRaw("dims.hdf5", f => Valid(f, obsDim: 3, actDim: 2));
        var report = D4rlHdf5.Load(path, new ValidationOptions { ObservationDim = 11, ActionDim = 2 }).Report;
        var issue = SingleError(report);
        Assert.Equal("error: dims.hdf5: key 'observations': has 3 columns but the environment has 11 observation dimensions", issue.ToString());
        var actions = SingleError(D4rlHdf5.Load(path, new ValidationOptions { ActionDim = 6 }).Report);
        Assert.Contains("has 2 columns but the environment has 6 action dimensions", actions.Message);
    }

    [Fact]
    public void NonFiniteValuesNameTheRowAndColumn()
    {
        var d = TestData.Build(5);
        d.Observations[2 * 3 + 1] = float.NaN;
        d.Rewards[4] = float.PositiveInfinity;
        string path = TestData.TempFile("nan.hdf5");
        D4rlHdf5.Write(d, path);
        var report = D4rlHdf5.Load(path).Report;
        // Errors, not warnings: a NaN reward or observation would otherwise reach the replay buffers unnoticed.
        Assert.False(report.Passed);
        Assert.Equal(2, report.ErrorCount);
        Assert.Contains(report.Issues, i => i.ToString() == "error: nan.hdf5: key 'observations' row 3: value NaN in column 1 is not finite");
        Assert.Contains(report.Issues, i => i.Key == "rewards" && i.Row == 4 && i.Message == "value Infinity is not finite");
        var error = Assert.Throws<DatasetValidationException>(() => D4rlHdf5.Read(path));
        Assert.Contains("not finite", error.Message);
    }

    [Fact]
    public void TerminalAndTimeoutOnTheSameRow()
    {
        string path = TestData.TempFile("both.hdf5");
        D4rlHdf5.Write(TestData.Build(6, terminalRows: [3], timeoutRows: [3]), path);
        var issue = Assert.Single(D4rlHdf5.Load(path).Report.Issues);
        Assert.Equal(IssueSeverity.Warning, issue.Severity);
        Assert.Equal(("timeouts", 3L), (issue.Key, issue.Row));
        Assert.Contains("terminals and timeouts are both set", issue.Message);
    }

    [Fact]
    public void ActionsOutsideBoundsWithPerDimensionBounds()
    {
        var obs = new float[3 * 2];
        float[] act = [0f, 0.5f, 1.5f, 0.1f, -0.2f, -3f];
        var d = new TransitionDataset(2, 2, obs, act, new float[3], new bool[3], new bool[3]);
        string path = TestData.TempFile("bounds.hdf5");
        D4rlHdf5.Write(d, path);
        var report = D4rlHdf5.Load(path, new ValidationOptions { ActionLow = [-1f, -2f], ActionHigh = [1f, 2f] }).Report;
        Assert.Equal(2, report.WarningCount);
        Assert.Equal("warning: bounds.hdf5: key 'actions' row 1: value 1.5 in column 0 is outside [-1, 1]", report.Issues[0].ToString());
        Assert.Equal("warning: bounds.hdf5: key 'actions' row 2: value -3 in column 1 is outside [-2, 2]", report.Issues[1].ToString());
        Assert.Empty(D4rlHdf5.Load(path).Report.Issues); // no bounds given, no check
        var ex = Assert.Throws<ArgumentException>(() => D4rlHdf5.Load(path, new ValidationOptions { ActionLow = [-1f, -1f, -1f] }));
        Assert.Contains("ActionLow has 3 values but the dataset has 2 action dimensions", ex.Message);
    }

    [Fact]
    public void ManyBadRowsAreListedUpToTheLimitThenCounted()
    {
        var d = TestData.Build(30);
        for (int i = 0; i < 30; i++) d.Actions[i] = 5f;
        var report = new ValidationReport("memory", strict: false);
        DatasetValidator.CheckContents(d, new ValidationOptions { ActionLow = [-1f], ActionHigh = [1f], MaxRowMessagesPerCheck = 3 }, report);
        var rows = report.Issues.Where(i => i.Key == "actions").ToList();
        Assert.Equal(4, rows.Count);
        Assert.Equal([0L, 1L, 2L, 3L], rows.Select(i => i.Row!.Value));
        Assert.Contains("27 more rows have actions outside the bounds (from this row on; 30 in all)", rows[3].Message);
    }

    [Fact]
    public void UnsupportedDataTypeIsAnError()
    {
        string path = WriteRaw("strings.hdf5", f => { Valid(f); f["rewards"] = new H5Dataset(new[] { "a", "b", "c", "d" }, fileDims: [4]); });
        var issue = SingleError(D4rlHdf5.Load(path).Report);
        Assert.Equal("rewards", issue.Key);
        Assert.Contains("expected float32 or float64", issue.Message);
    }
}

public class MetadataTests
{
    [Fact]
    public void AttributeOfTheWrongTypeIsAWarningAndTheRestLoads()
    {
        var file = new H5File();
        file["observations"] = new H5Dataset(new float[4], fileDims: [2, 2]);
        file["actions"] = new H5Dataset(new float[2], fileDims: [2, 1]);
        file["rewards"] = new H5Dataset(new float[2], fileDims: [2]);
        file["terminals"] = new H5Dataset(new byte[2], fileDims: [2]);
        file["timeouts"] = new H5Dataset(new byte[2], fileDims: [2]);
        file.Attributes["seed"] = "not a number";
        file.Attributes["level"] = "expert";
        string path = TestData.TempFile("attrs.hdf5");
        file.Write(path);
        var result = D4rlHdf5.Load(path);
        Assert.NotNull(result.Dataset);
        Assert.Equal("expert", result.Dataset.Metadata.Level);
        Assert.Null(result.Dataset.Metadata.Seed);
        var issue = Assert.Single(result.Report.Issues);
        Assert.Equal(("@seed", IssueSeverity.Warning), (issue.Key, issue.Severity));
    }

    [Fact]
    public void NumericAttributesOfOtherWidthsAreConverted()
    {
        var original = TestData.Build(3);
        string path = TestData.TempFile("widths.hdf5");
        // An int32 seed and a float32 return, as other writers may store them.
        var file = new H5File
        {
            ["observations"] = new H5Dataset(original.Observations, fileDims: [3, 2]),
            ["actions"] = new H5Dataset(original.Actions, fileDims: [3, 1]),
            ["rewards"] = new H5Dataset(original.Rewards, fileDims: [3]),
            ["terminals"] = new H5Dataset(new byte[3], fileDims: [3]),
            ["timeouts"] = new H5Dataset(new byte[3], fileDims: [3]),
        };
        file.Attributes["seed"] = 17;
        file.Attributes["behaviour_return"] = 2.5f;
        file.Write(path);
        var result = D4rlHdf5.Load(path);
        Assert.Empty(result.Report.Issues);
        Assert.Equal(17L, result.Dataset!.Metadata.Seed);
        Assert.Equal(2.5, result.Dataset.Metadata.BehaviourReturn);
    }
}
