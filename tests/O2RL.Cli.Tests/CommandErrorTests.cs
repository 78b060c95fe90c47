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

/// <summary>The main job end to end at a tiny budget: online training → run folder → eval of its checkpoint.</summary>
public sealed class EndToEndTests
{
    [Fact]
    public void OnlineSacWritesARunFolderWhoseCheckpointEvaluates()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"o2rl-cli-{Guid.NewGuid():N}");
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int code = CommandTable.Dispatch(["online", "--algo", "sac", "--env", "Pendulum-v1", "--out", dir, "--quiet",
                "--set", "total_steps=600", "--set", "warmup_steps=300", "--set", "eval_every=300", "--set", "eval_episodes=1",
                "--set", "batch_size=32"], output, error);
            Assert.True(code == 0, error.ToString());
            foreach (string file in new[] { "run.json", "config.json", "metrics.csv", "metrics.jsonl", "summary.json", "sac.safetensors" })
                Assert.True(File.Exists(Path.Combine(dir, file)), $"{file} missing");
            Assert.Single(Directory.GetFiles(dir, "events.out.tfevents.*"));
            Assert.Contains("\"batch_size\": 32", File.ReadAllText(Path.Combine(dir, "config.json")));
            Assert.Contains("eval/return", File.ReadAllText(Path.Combine(dir, "metrics.csv")));

            var evalOutput = new StringWriter();
            code = CommandTable.Dispatch(["eval", "--policy", Path.Combine(dir, "sac.safetensors"), "--episodes", "2", "--json"], evalOutput, error);
            Assert.True(code == 0, error.ToString());
            Assert.Contains("\"environment\":\"Pendulum-v1\"", evalOutput.ToString());

            code = CommandTable.Dispatch(["online", "--algo", "sac", "--env", "Pendulum-v1", "--out", dir, "--quiet"], new StringWriter(), error = new StringWriter());
            Assert.Equal(1, code);
            Assert.Contains("already holds a run", error.ToString());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("online", "--env", "Pendulum-v1")]
    [InlineData("online", "--algo", "dqn", "--env", "Pendulum-v1")]
    [InlineData("offline", "--algo", "cql", "--env", "Pendulum-v1")]
    [InlineData("offline", "--algo", "cql", "--env", "Pendulum-v1", "--dataset", "/nonexistent.hdf5")]
    [InlineData("online", "--algo", "sac", "--env", "Pendulum-v1", "--set", "batch_size=lots")]
    [InlineData("eval", "--policy", "/nonexistent.safetensors")]
    [InlineData("collect", "--env", "Pendulum-v1")]
    public void TrainingCommandsRejectBadArguments(params string[] args)
    {
        var error = new StringWriter();
        int code = CommandTable.Dispatch(args, new StringWriter(), error);
        Assert.NotEqual(0, code);
        Assert.Single(error.ToString().Trim().Split('\n'));
    }
}
