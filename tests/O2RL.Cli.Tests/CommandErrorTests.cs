using O2RL.Cli;
using Xunit;

namespace O2RL.Cli.Tests;

/// <summary>Every command answers bad input with one clear line on stderr and a non-zero exit code.</summary>
public sealed class CommandErrorTests
{
    static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandTable.Dispatch(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void UnknownCommandListsTheCommands()
    {
        var (code, _, error) = Run("frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("unknown command 'frobnicate'", error);
        Assert.Contains("doctor", error);
    }

    [Fact]
    public void NoArgumentsPrintsHelpAndFails()
    {
        var (code, output, _) = Run();
        Assert.Equal(2, code);
        Assert.Contains("usage: o2rl <command>", output);
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("bench")]
    [InlineData("envs")]
    [InlineData("dataset")]
    [InlineData("plot")]
    [InlineData("report")]
    public void EveryCommandHasHelp(string command)
    {
        var (code, output, _) = Run(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains("usage", output, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("doctor", "--frob")]
    [InlineData("bench", "--rounds", "many")]
    [InlineData("bench", "--device", "tpu")]
    [InlineData("envs", "xml", "NoSuchEnv-v0")]
    [InlineData("dataset", "info", "/nonexistent/file.hdf5")]
    [InlineData("plot", "/nonexistent/runs")]
    [InlineData("report", "/nonexistent/runs")]
    public void BadInputGivesOneLineAndNonZeroExit(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.NotEqual(0, code);
        Assert.False(string.IsNullOrWhiteSpace(error), "an error line is printed");
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void AbsentDeviceNamesTheDevicesPresent()
    {
        var (code, _, error) = Run("bench", "--device", "cuda");
        if (code == 0) return; // a CUDA machine: nothing to check
        Assert.Equal(1, code);
        Assert.Contains("cpu", error);
    }
}
