using O2RL.Cli.Commands;
using Xunit;

namespace O2RL.Cli.Tests;

public sealed class SweepTests
{
    [Fact]
    public void TheGridIsEveryCombinationWithTheLastOptionFastest()
    {
        var grid = SweepGrid.Parse(["--algo", "sac,td3", "--env", "Pendulum-v1", "--seed", "0,1,2", "--set", "total_steps=5000"]);
        var points = grid.Expand();
        Assert.Equal(6, points.Count);
        Assert.Equal(["algo-sac_seed-0", "algo-sac_seed-1", "algo-sac_seed-2", "algo-td3_seed-0", "algo-td3_seed-1", "algo-td3_seed-2"], points.Select(p => p.Name));
        Assert.Equal(["--algo", "td3", "--env", "Pendulum-v1", "--seed", "1", "--set", "total_steps=5000"], points[4].Arguments);
        // Only the algorithm and seeds vary: the method is the algorithm, seeds aggregate.
        Assert.All(points, p => Assert.Null(p.Label));
    }

    [Fact]
    public void SetAxesSplitOutsideBracketsAndLabelTheMethod()
    {
        var grid = SweepGrid.Parse(["--algo=sac", "--set", "actor_hidden=[64,64],[256,256]", "--set", "actor_lr=0.001,3e-4", "--seed", "0,1", "--json"]);
        var axes = grid.Axes;
        Assert.Equal(["algo", "set:actor_hidden", "set:actor_lr", "seed"], axes.Select(a => a.Name));
        Assert.Equal(["[64,64]", "[256,256]"], axes[1].Values);
        var points = grid.Expand();
        Assert.Equal(8, points.Count);
        Assert.Equal("actor_hidden-64-64_actor_lr-0.001_seed-0", points[0].Name);
        Assert.Equal("actor_hidden-256-256_actor_lr-3e-4_seed-1", points[^1].Name);
        Assert.Equal("sac actor_hidden=[64,64] actor_lr=0.001", points[0].Label);
        Assert.Equal(points[0].Label, points[1].Label); // seeds 0 and 1 of one method
        Assert.Contains("actor_hidden=[256,256]", points[^1].Arguments);
        Assert.Equal("--json", points[0].Arguments[^1]);
    }

    [Fact]
    public void AFineTuneSweepLabelsTheVariant_AndSeedPlaceholdersPairRunsWithTheirOfflinePolicies()
    {
        // Labels without the variant put an O2SAC and an O2TD3 run of one mode into one row as two seeds.
        var points = SweepGrid.Parse(["--variant", "o2sac,o2td3", "--mode", "ocr-cft,naive", "--seed", "0"]).Expand();
        Assert.Equal(["o2sac mode=ocr-cft", "o2sac mode=naive", "o2td3 mode=ocr-cft", "o2td3 mode=naive"], points.Select(p => p.Label));

        // "{seed}" pairs fine-tuning seed i with offline seed i instead of a cross product of --from × --seed.
        points = SweepGrid.Parse(["--variant", "o2sac", "--from", "runs/cql-s{seed}/cql.safetensors", "--seed", "0,1"]).Expand();
        Assert.Equal(2, points.Count);
        Assert.Contains("runs/cql-s1/cql.safetensors", points[1].Arguments);
        Assert.Equal(points[0].Label, points[1].Label);
        Assert.Throws<UsageException>(() => SweepGrid.Parse(["--from", "cql-s{seed}.safetensors"]).Expand());
    }

    [Fact]
    public void AStoppedSweepStartsNothingMoreAndSaysHowToGoOn()
    {
        // Ctrl+C used to end the sweep at once (exit 130, no summary, the children's own stop lines lost from their logs).
        string root = Path.Combine(Path.GetTempPath(), $"o2rl-sweep-stop-{Guid.NewGuid():N}");
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var launcher = SelfInvocation.ForAssembly(typeof(CommandTable).Assembly.Location);
            int code = SweepCommand.Run(["online", "--algo", "sac", "--env", "Pendulum-v1", "--seed", "0,1", "--out", root], output, error, launcher,
                new CancellationToken(canceled: true));
            Assert.Equal(1, code);
            Assert.Contains("seed-0: not started (sweep stopped)", output.ToString());
            Assert.Contains("| seed-1 | -      |", output.ToString());
            Assert.Contains("o2rl sweep: stopped with 2 of 2 points unfinished; run the same command again", error.ToString());
            Assert.False(Directory.Exists(Path.Combine(root, "seed-0")));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void ASingleValuedGridIsOneRun()
    {
        var points = SweepGrid.Parse(["--algo", "sac", "--env", "Pendulum-v1"]).Expand();
        Assert.Equal("run", Assert.Single(points).Name);
    }

    [Theory]
    [InlineData("--seed", "0,,1")]
    [InlineData("--seed", "0,1,0")]
    [InlineData("--set", "actor_hidden=[64,64")]
    [InlineData("--set", "novalue")]
    [InlineData("stray")]
    public void BadGridsAreUsageErrors(params string[] args) =>
        Assert.Throws<UsageException>(() => SweepGrid.Parse(args).Expand());

    [Fact]
    public void FolderNamesAreSanitisedAndMustStayDistinct()
    {
        Assert.Equal("a-b-c", SweepGrid.Sanitize("a/b c"));
        Assert.Equal("64-64", SweepGrid.Sanitize("[64, 64]"));
        Assert.Equal("x", SweepGrid.Sanitize("///"));
        Assert.Throws<UsageException>(() => SweepGrid.Parse(["--label", "a/b,a b"]).Expand());
    }

    [Fact]
    public void SelfInvocationHandlesTheAppHostAndTheDotnetHost()
    {
        var apphost = SelfInvocation.Resolve("/opt/o2rl/o2rl", "/opt/o2rl/o2rl");
        Assert.Equal("/opt/o2rl/o2rl", apphost.FileName);
        Assert.Empty(apphost.Prefix());
        var hosted = SelfInvocation.Resolve("/usr/share/dotnet/dotnet", "/opt/o2rl/o2rl.dll");
        Assert.Equal("/usr/share/dotnet/dotnet", hosted.FileName);
        Assert.Equal(["/opt/o2rl/o2rl.dll"], hosted.Prefix());
        Assert.Throws<InvalidOperationException>(() => SelfInvocation.Resolve("/usr/bin/dotnet", "test"));
    }

    [Fact]
    public void SlurmModeWritesAnArrayScriptAndOneCommandPerPointWithoutRunningAnything()
    {
        string root = Path.Combine(Path.GetTempPath(), $"o2rl-sweep-{Guid.NewGuid():N}");
        try
        {
            string dir = Path.Combine(root, "sweep1"), script = Path.Combine(root, "sweep1.sbatch");
            var output = new StringWriter();
            var error = new StringWriter();
            var launcher = new SelfInvocation("/usr/bin/dotnet", "/opt/o2rl/o2rl.dll");
            int code = SweepCommand.Run(["online", "--algo", "sac,td3", "--env", "Pendulum-v1", "--seed", "0,1,2", "--set", "total_steps=5000",
                "--jobs", "2", "--out", dir, "--slurm", script], output, error, launcher);
            Assert.True(code == 0, error.ToString());
            string text = File.ReadAllText(script);
            Assert.StartsWith("#!/bin/bash\n", text);
            Assert.Contains("#SBATCH --array=0-5%2\n", text);
            Assert.Contains("#SBATCH --job-name=o2rl-sweep1\n", text);
            Assert.Contains("SLURM_ARRAY_TASK_ID + 1", text);
            Assert.Contains(Path.Combine(dir, "commands.txt"), text);
            var lines = File.ReadAllLines(Path.Combine(dir, "commands.txt"));
            Assert.Equal(6, lines.Length);
            Assert.Equal($"/usr/bin/dotnet /opt/o2rl/o2rl.dll online --algo td3 --env Pendulum-v1 --seed 2 --set total_steps=5000 --out {Path.Combine(dir, "algo-td3_seed-2")} --quiet", lines[5]);
            // Nothing ran: no run folders.
            Assert.Empty(Directory.GetDirectories(dir));

            // Array tasks start in whatever folder sbatch ran from: relative file options become absolute, as --out does.
            string fine = Path.Combine(root, "sweep2");
            code = SweepCommand.Run(["finetune", "--variant", "o2sac", "--env", "Pendulum-v1", "--seed", "0,1", "--from", "runs/cql-s{seed}/cql.safetensors",
                "--dataset", "data/pendulum.hdf5", "--out", fine, "--slurm", Path.Combine(root, "sweep2.sbatch")], output, error, launcher);
            Assert.True(code == 0, error.ToString());
            lines = File.ReadAllLines(Path.Combine(fine, "commands.txt"));
            Assert.Contains($"--from {Path.GetFullPath("runs/cql-s1/cql.safetensors")} ", lines[1]);
            Assert.Contains($"--dataset {Path.GetFullPath("data/pendulum.hdf5")} ", lines[1]);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void SweepArgumentErrorsAreOneLineWithExitTwo()
    {
        foreach (string[] args in new[] { new[] { "sweep", "eval", "--out", "x" }, ["sweep", "online", "--algo", "sac"], ["sweep", "online", "--out", "x", "--jobs", "0"],
                     ["sweep", "online", "--out", "x", "--quiet"] })
        {
            var error = new StringWriter();
            Assert.Equal(2, CommandTable.Dispatch(args, new StringWriter(), error));
            Assert.Single(error.ToString().Trim().Split('\n'));
        }
    }

    [Fact]
    public void ALocalSweepRunsEveryPointAsAChildProcessAndTheReportAggregatesIt()
    {
        string root = Path.Combine(Path.GetTempPath(), $"o2rl-sweep-{Guid.NewGuid():N}");
        try
        {
            var launcher = SelfInvocation.ForAssembly(typeof(CommandTable).Assembly.Location);
            var output = new StringWriter();
            var error = new StringWriter();
            string[] args = ["online", "--algo", "td3", "--env", "Pendulum-v1", "--seed", "0,1", "--device", "cpu",
                "--set", "total_steps=400", "--set", "warmup_steps=200", "--set", "evaluate_every=200", "--set", "evaluation_episodes=1",
                "--set", "batch_size=16", "--set", "actor_hidden=[8]", "--set", "critic_hidden=[8]", "--jobs", "2", "--out", root];
            int code = SweepCommand.Run(args, output, error, launcher);
            Assert.True(code == 0, output + error.ToString());
            foreach (string name in new[] { "seed-0", "seed-1" })
            {
                Assert.True(File.Exists(Path.Combine(root, name, "summary.json")), $"{name} did not complete:\n{output}");
                Assert.True(File.Exists(Path.Combine(root, "logs", name + ".log")));
            }
            Assert.Contains("| seed-0", output.ToString());
            Assert.Contains("all 2 runs succeeded", output.ToString());
            Assert.True(File.Exists(Path.Combine(root, "sweep.json")));

            // Running it again skips the complete points.
            output = new StringWriter();
            Assert.Equal(0, SweepCommand.Run(args, output, error, launcher));
            Assert.Contains("done before", output.ToString());
            // With another setting it refuses: the old runs are not this sweep's ("done before … succeeded" before).
            string[] changed = [.. args.Select(a => a == "total_steps=400" ? "total_steps=600" : a)];
            var refused = Assert.Throws<UsageException>(() => SweepCommand.Run(changed, new StringWriter(), new StringWriter(), launcher));
            Assert.Contains("total_steps=400", refused.Message);
            Assert.Contains("total_steps=600", refused.Message);

            // The report treats the two points as two seeds of one method on one task.
            var report = new StringWriter();
            Assert.Equal(0, CommandTable.Dispatch(["report", root, "--json"], report, error));
            Assert.Contains("\"seeds\": 2", report.ToString().Replace("\"seeds\":2", "\"seeds\": 2"));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
