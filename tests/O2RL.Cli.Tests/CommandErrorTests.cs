using O2RL.Cli;
using O2RL.Engine.Checkpoints;
using O2RL.Algorithms.Training;
using Xunit;

using static O2RL.Cli.Tests.CliRunner;

namespace O2RL.Cli.Tests;

/// <summary>Every command answers bad input with one clear line on stderr and a non-zero exit code.</summary>
public sealed class CommandErrorTests
{
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
    [InlineData("collect", "--env", "Pendulum-v1", "--out", "unused-out", "--levels", "medium,hard")]
    [InlineData("collect", "--env", "Pendulum-v1", "--out", "unused-out", "--levels", ",")]
    [InlineData("collect", "--env", "Pendulum-v1", "--out", "unused-out", "--expert-policy", "luckiest")]
    [InlineData("online", "--algo", "td3", "--env", "Pendulum-v1", "--set", "batch_size=0", "--out", "unused-out", "--quiet")]
    [InlineData("online", "--algo", "sac", "--env", "Pendulum-v1", "--set", "tau=-1", "--out", "unused-out", "--quiet")]
    public void TrainingCommandsRejectBadArguments(params string[] args)
    {
        var error = new StringWriter();
        int code = CommandTable.Dispatch(args, new StringWriter(), error);
        Assert.NotEqual(0, code);
        Assert.Single(error.ToString().Trim().Split('\n'));
    }

    [Theory]
    [InlineData("gamma=1.5", "gamma must be in [0, 1]")]
    [InlineData("total_steps=-5", "total_steps must be at least 1")]
    [InlineData("updates_per_step=0", "updates_per_step must be at least 1")]
    public void OnlineSacRejectsOutOfRangeSettingsBeforeTraining(string assignment, string expected)
    {
        // Before: these ran to a "final evaluation" with exit 0 (γ > 1 trained on a diverging target; no steps or no
        // updates trained nothing).
        string dir = Path.Combine(Path.GetTempPath(), $"o2rl-cli-range-{Guid.NewGuid():N}");
        var error = new StringWriter();
        int code = CommandTable.Dispatch(["online", "--algo", "sac", "--env", "Pendulum-v1", "--out", dir, "--quiet",
            "--set", "total_steps=400", "--set", "warmup_steps=200", "--set", "eval_episodes=1", "--set", assignment], new StringWriter(), error);
        Assert.Equal(1, code);
        Assert.Single(error.ToString().Trim().Split('\n'));
        Assert.Contains(expected, error.ToString());
        Assert.False(Directory.Exists(dir), "no run folder is left behind");
    }

    [Theory]
    [InlineData("offline --algo cql", "gamma=1.5", "gamma must be in [0, 1], got 1.5")]
    [InlineData("offline --algo iql", "beta=-1", "beta must be ≥ 0, got -1")]
    [InlineData("finetune --variant o2sac --mode scratch", "online_steps=-1", "online_steps must be ≥ 0, got -1")]
    [InlineData("finetune --variant o2ppo --mode scratch", "value_pretrain_batch_size=0", "value_pretrain_batch_size must be at least 1, got 0")]
    public void DatasetCommandsRejectOutOfRangeSettingsBeforeMakingTheRunFolder(string command, string assignment, string expected)
    {
        // Before: CQL trained on γ = 1.5 and IQL with β < 0 to exit 0, O2SAC with negative online steps "finished", and
        // O2PPO failed at its value pre-training after the run folder was made.
        string dataset = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset");
        string dir = Path.Combine(Path.GetTempPath(), $"o2rl-cli-range-{Guid.NewGuid():N}");
        var error = new StringWriter();
        int code = CommandTable.Dispatch([.. command.Split(' '), "--env", "Pendulum-v1", "--dataset", dataset, "--out", dir, "--quiet",
            "--set", assignment], new StringWriter(), error);
        Assert.Equal(1, code);
        Assert.Equal($"o2rl {command.Split(' ')[0]}: {expected}", error.ToString().Trim());
        Assert.False(Directory.Exists(dir), "no run folder is left behind");
    }
}

/// <summary>Run management from the command line: --resume, its argument rules, common options in every help.</summary>
public sealed class ResumeCommandTests
{
    static readonly string[] Tiny = ["--env", "Pendulum-v1", "--quiet", "--seed", "2",
        "--set", "total_steps=800", "--set", "warmup_steps=200", "--set", "eval_every=400", "--set", "eval_episodes=1",
        "--set", "batch_size=16", "--set", "actor_hidden=[8]", "--set", "critic_hidden=[8]", "--set", "log_every=100", "--checkpoint-every", "300"];

    static string[] Rows(string dir) =>
        [.. File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Where(l => !l.Contains("charts/sps") && !l.Contains("time/update"))];

    [Fact]
    public void AResumedRunEndsAsTheUninterruptedOneAndItsArgumentsAreChecked()
    {
        string root = Path.Combine(Path.GetTempPath(), $"o2rl-cli-resume-{Guid.NewGuid():N}");
        string whole = Path.Combine(root, "whole"), cut = Path.Combine(root, "cut");
        try
        {
            var (code, _, error) = Run(["online", "--algo", "sac", "--out", whole, .. Tiny]);
            Assert.True(code == 0, error);
            (code, _, error) = Run(["online", "--algo", "sac", "--out", cut, .. Tiny]);
            Assert.True(code == 0, error);
            // Complete runs cannot be resumed.
            (code, _, error) = Run("online", "--resume", cut);
            Assert.Equal(2, code);
            Assert.Contains("complete", error);

            // A run that died after its last checkpoint (step 400: the first episode end after 300): summary gone, rows after 600 still in the files.
            File.Delete(Path.Combine(cut, "summary.json"));
            File.Delete(Path.Combine(cut, "sac.safetensors"));
            Assert.Contains(Rows(cut), l => l.StartsWith("800,", StringComparison.Ordinal));
            (code, _, error) = Run("online", "--resume", cut, "--set", "batch_size=8");
            Assert.Equal(2, code);
            Assert.Contains("--set cannot be changed", error);
            Assert.Single(error.Trim().Split('\n'));

            string output;
            (code, output, error) = Run("online", "--resume", cut, "--quiet");
            Assert.True(code == 0, error);
            Assert.Contains("resuming", output);
            Assert.Contains("from step 400", output);
            Assert.Equal(Rows(whole), Rows(cut));
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "sac.safetensors")), File.ReadAllBytes(Path.Combine(cut, "sac.safetensors")));
            Assert.True(File.Exists(Path.Combine(cut, "summary.json")));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void DivergenceStopsWithOneLineAndExitOneAndKeepsTheLastGoodCheckpoint()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"o2rl-cli-diverge-{Guid.NewGuid():N}");
        try
        {
            // Warm-up until 400 (checkpoints at 200 and 400 hold finite state), then absurd learning rates blow up the first updates.
            var (code, _, error) = Run("online", "--algo", "sac", "--env", "Pendulum-v1", "--out", dir, "--quiet", "--checkpoint-every", "200",
                "--set", "total_steps=2000", "--set", "warmup_steps=400", "--set", "batch_size=16", "--set", "actor_hidden=[8]", "--set", "critic_hidden=[8]",
                "--set", "eval_every=1000", "--set", "eval_episodes=1", "--set", "log_every=100", "--set", "critic_lr=1e12", "--set", "actor_lr=1e12");
            Assert.Equal(1, code);
            Assert.Single(error.Trim().Split('\n'));
            Assert.Contains("training diverged: losses/", error);
            Assert.Contains("between updates", error);
            Assert.Contains("last good checkpoint: step 400", error);
            Assert.True(File.Exists(Path.Combine(dir, "checkpoints", "step_0000000400.safetensors")));
            // The policy of that step is beside it and named: what a user deploys or fine-tunes from after a divergence.
            string policy = Path.Combine(dir, "checkpoints", "policy_0000000400.safetensors");
            Assert.Contains($"its policy: {policy}", error);
            var (actCode, _, actError) = Run("eval", "--policy", policy, "--env", "Pendulum-v1", "--episodes", "1");
            Assert.True(actCode == 0, actError);
            // The state beside it is for --resume; eval said it "was not written by an O2RL trainer".
            (actCode, _, actError) = Run("eval", "--policy", Path.Combine(dir, "checkpoints", "step_0000000400.safetensors"), "--env", "Pendulum-v1", "--episodes", "1");
            Assert.Equal(1, actCode);
            Assert.Contains("this is the sac training state of step 400, kept for resuming the run (--resume), not a policy; use the policy_<step>.safetensors", actError);
            Assert.False(File.Exists(Path.Combine(dir, "summary.json")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("online", "--resume", "/nonexistent/run")]
    [InlineData("offline", "--resume", "/nonexistent/run")]
    [InlineData("online", "--algo", "sac", "--env", "Pendulum-v1", "--checkpoint-every", "-5")]
    public void BadResumeArgumentsGiveOneLineAndExitTwo(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("online")]
    [InlineData("offline")]
    public void TrainingHelpListsTheCommonOptions(string command)
    {
        var (code, output, _) = Run(command, "--help");
        Assert.Equal(0, code);
        foreach (string option in new[] { "--device", "--seed", "--config", "--set", "--out", "--quiet", "--resume" })
            Assert.Contains(option, output);
    }

    [Fact]
    public void AScoreTaskOfAnotherBodyIsAUsageError()
    {
        // Before: accepted; Pendulum returns were "normalised" against Hopper's reference returns.
        var (code, _, error) = Run("online", "--algo", "sac", "--env", "Pendulum-v1", "--score-task", "hopper-medium-v2", "--out", "/nonexistent/never-made");
        Assert.Equal(2, code);
        Assert.Contains("--score-task: score task 'hopper-medium-v2' is scored against another task's reference returns than Pendulum-v1's", error);
        Assert.Single(error.Trim().Split('\n'));
    }
}

/// <summary>A corrupt input file (checkpoint, dataset) is one line naming it and exit 1, never an unhandled exception.</summary>
public sealed class CorruptFileTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("o2rl-corrupt-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData("eval", "--policy", "{0}", "--env", "Pendulum-v1", "--episodes", "1")]
    [InlineData("online", "--algo", "sac", "--env", "Pendulum-v1", "--from", "{0}", "--out", "{1}", "--quiet")]
    public void ATruncatedCheckpointIsOneLineNamingIt(params string[] template)
    {
        string checkpoint = Path.Combine(folder, "truncated.safetensors");
        File.WriteAllBytes(checkpoint, [200, 0, 0, 0, 0, 0, 0, 0, (byte)'{']);
        var (code, _, error) = Run([.. template.Select(a => string.Format(a, checkpoint, Path.Combine(folder, "run")))]);
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("truncated.safetensors", error);
        Assert.Contains("not a valid safetensors file", error);
    }

    [Theory]
    [InlineData("offline", "--algo", "cql", "--env", "Pendulum-v1", "--dataset", "{0}", "--out", "{1}", "--quiet")]
    [InlineData("act", "--policy", "{2}", "--input", "{2}", "--output", "{1}", "--normalize-from", "{0}")]
    public void ADatasetThatIsNotHdf5IsOneLineNamingIt(params string[] template)
    {
        string dataset = Path.Combine(folder, "pendulum_medium.hdf5"), other = Path.Combine(folder, "exists.txt");
        File.WriteAllText(dataset, "obs,action\n0.1,0.2\n");
        File.WriteAllText(other, "");
        var (code, _, error) = Run([.. template.Select(a => string.Format(a, dataset, Path.Combine(folder, "out"), other))]);
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("dataset pendulum_medium.hdf5 failed validation", error);
        Assert.Contains("not a readable HDF5 file", error);
    }

    [Fact]
    public void ADatasetOfAnotherTaskIsNamedAsTheDataset()
    {
        // Before: "the policy was trained on 3 observation features but MountainCarContinuous-v0 has 2", about a dataset.
        string dataset = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset");
        var (code, _, error) = Run("offline", "--algo", "cql", "--env", "MountainCarContinuous-v0", "--dataset", dataset,
            "--out", Path.Combine(folder, "run"), "--quiet", "--set", "steps=10");
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("pendulum-v1-medium.hdf5' has 3 observation and 1 action dimensions but MountainCarContinuous-v0 has 2 and 1", error);
        Assert.False(Directory.Exists(Path.Combine(folder, "run")), "no run folder is left behind");
    }

    [Theory]
    [InlineData("plot", "{0}", "--out", "{1}")]
    [InlineData("report", "{0}")]
    public void PlotAndReportErrorsNameTheCommandLikeEveryOther(params string[] template)
    {
        // Before: "error: Could not find file '/proc/.x.png.<pid>.<guid>.tmp'" and "error: '…' is not a run folder".
        string notARun = Path.Combine(folder, "not-a-run");
        Directory.CreateDirectory(notARun);
        var (code, _, error) = Run([.. template.Select(a => string.Format(a, notARun, "/proc/o2rl-curves.png"))]);
        Assert.Equal(2, code);
        Assert.StartsWith($"o2rl {template[0]}: ", error);
        Assert.Contains("not-a-run", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void AnEmptyObservationFileAndAnUnknownScoreTaskAreRefused()
    {
        // Before: act wrote an empty file and said "0 action(s)"; eval ignored a --score-task it had no scores for.
        string policy = Path.Combine(folder, "actor.safetensors"), empty = Path.Combine(folder, "empty.csv"), output = Path.Combine(folder, "actions.csv");
        SafetensorsFile.Write(policy, [new NamedTensor("net.0.weight", [8, 3], new float[24]), new NamedTensor("net.0.bias", [8], new float[8]),
            new NamedTensor("net.2.weight", [1, 8], new float[8]), new NamedTensor("net.2.bias", [1], new float[1])]);
        File.WriteAllText(empty, "");
        var (code, _, error) = Run("act", "--policy", policy, "--input", empty, "--output", output);
        Assert.Equal(1, code);
        Assert.Contains("empty.csv holds no observations (one CSV row of 3 numbers per observation)", error);
        Assert.False(File.Exists(output));
        (code, _, error) = Run("eval", "--policy", policy, "--env", "Pendulum-v1", "--episodes", "1", "--score-task", "nope");
        Assert.Equal(2, code);
        Assert.Contains("--score-task 'nope' has no reference scores", error);
    }
}

/// <summary>What report and plot say about the runs they were given, beside the table.</summary>
public sealed class ReportNoteTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("o2rl-report-notes-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string RunWith(string name, int seed, int evaluations, bool finished)
    {
        var run = O2RL.Algorithms.Runs.RunFolder.Create(Path.Combine(folder, name),
            new O2RL.Algorithms.Runs.RunInfo { Algorithm = "sac", Environment = "Pendulum-v1", Seed = seed, Command = "test" }, "{}");
        using (var metrics = run.OpenMetrics(flushToDisk: false))
            for (int i = 0; i < evaluations; i++)
            {
                metrics.Log(i * 100L, "eval/return", -1000 + 10 * i);
                metrics.Flush(i * 100L);
            }
        if (finished) run.WriteSummary((evaluations - 1) * 100L, new Dictionary<string, double>());
        return run.Directory;
    }

    [Fact]
    public void ReportNamesUnfinishedRunsAndACoarseEarlyWindow()
    {
        string a = RunWith("a", 0, 5, finished: true), b = RunWith("b", 1, 5, finished: true), stopped = RunWith("c", 2, 3, finished: false);
        var (code, output, error) = Run("report", a, b, stopped);
        Assert.Equal(0, code);
        Assert.Contains("| sac | Pendulum-v1 | eval/return | 2 |", output);
        Assert.Contains($"note: left out 1 run(s) that have not finished", error);
        Assert.Contains(stopped, error);
        Assert.Contains("note: 2 of 2 run(s) have 10 evaluations or fewer", error);

        (code, output, _) = Run("report", a, b, stopped, "--include-incomplete");
        Assert.Equal(0, code);
        Assert.Contains("| sac | Pendulum-v1 | eval/return | 3 |", output);
    }

    [Fact]
    public void PerSeedPrintsEveryRunByStep_EveryNThinsItsColumns_AndBadCombinationsAreUsageErrors()
    {
        string a = RunWith("a", 0, 3, finished: true), b = RunWith("b", 1, 3, finished: true);
        var (code, output, error) = Run("report", a, b, "--per-seed");
        Assert.Equal(0, code);
        Assert.Contains("| run | 0 | 100 | 200 | lowest after warm-up |", output);
        Assert.Contains("| sac, seed 1 | -1000.0 | -990.0 | -980.0 | -990.0 |", output);
        Assert.Contains("| sac, mean of 2 | -1000.0 | -990.0 | -980.0 | -990.0 |", output);
        // The coarse-window note is about the --finetune and plain tables' "lowest early" column, not this one.
        Assert.DoesNotContain("10 evaluations or fewer", error);

        (code, output, _) = Run("report", a, b, "--per-seed", "--every", "200");
        Assert.Equal(0, code);
        Assert.Contains("| run | 0 | 200 | lowest after warm-up |", output);

        foreach (var (arguments, message) in new[]
        {
            (new[] { "--per-seed", "--finetune" }, "--finetune and --per-seed"),
            (new[] { "--every", "200" }, "give --per-seed too"),
            (new[] { "--per-seed", "--every", "0" }, "--every must be an integer"),
        })
        {
            (code, _, error) = Run(["report", a, b, .. arguments]);
            Assert.Equal(2, code);
            Assert.Contains(message, error);
        }
    }

    [Fact]
    public void ANonFiniteEvaluationIsNamed_AndThePlotLeavesItOut()
    {
        string a = RunWith("a", 0, 5, finished: true), b = RunWith("b", 1, 5, finished: true);
        string csv = Path.Combine(b, "metrics.csv");
        File.WriteAllLines(csv, File.ReadAllLines(csv).Select(line => line.StartsWith("400,eval/return,", StringComparison.Ordinal) ? "400,eval/return,Infinity" : line));
        var (code, _, error) = Run("report", a, b);
        Assert.Equal(0, code);
        Assert.Contains($"note: {b} has 1 non-finite 'eval/return' value(s), first ∞ at step 400", error.Replace("Infinity", "∞"));
        if (!O2RL.Algorithms.Runs.CurvePlot.FontsAvailable) Assert.Skip("DejaVu Sans fonts are not installed (package fonts-dejavu-core): the plot half cannot run");
        string png = Path.Combine(folder, "curves.png");
        var (plotCode, plotOutput, plotError) = Run("plot", a, b, "--out", png);
        Assert.True(plotCode == 0, plotError);
        Assert.Contains("those points are left out of the plot", plotOutput);
        Assert.True(new FileInfo(png).Length > 1000);
    }
}
