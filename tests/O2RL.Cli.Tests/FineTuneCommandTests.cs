using System.Text.Json;
using O2RL.Cli;
using Xunit;

using static O2RL.Cli.Tests.CliRunner;

namespace O2RL.Cli.Tests;

/// <summary>o2rl finetune's argument errors and o2rl demo end to end in its quick mode (as CI runs it).</summary>
public sealed class FineTuneCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("o2rl-finetune-cli-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData("--variant o2xyz --env Pendulum-v1", "unknown --variant 'o2xyz'")]
    [InlineData("--env Pendulum-v1", "--variant is required")]
    [InlineData("--variant o2sac --env Pendulum-v1", "--from CHECKPOINT is required")]
    [InlineData("--variant o2sac --env Pendulum-v1 --from missing.safetensors", "checkpoint 'missing.safetensors' does not exist")]
    [InlineData("--variant o2sac --env Pendulum-v1 --mode greedy", "unknown --mode 'greedy'")]
    [InlineData("--algo sac --env Pendulum-v1", "--algo is not an option of o2rl finetune")]
    public void Finetune_BadArguments_OneLineAndExit2(string arguments, string message)
    {
        var (code, _, error) = Run(["finetune", .. arguments.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(message, error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void Finetune_OcrCftWithoutADataset_IsRefused()
    {
        string checkpoint = Path.Combine(folder, "policy.safetensors");
        File.WriteAllBytes(checkpoint, [0]);
        var (code, _, error) = Run("finetune", "--variant", "o2sac", "--env", "Pendulum-v1", "--from", checkpoint);
        Assert.Equal(2, code);
        Assert.Contains("--dataset FILE is required for OCR-CFT", error);
    }

    [Fact]
    public void Online_RejectsFineTuneOptions()
    {
        var (code, _, error) = Run("online", "--algo", "sac", "--env", "Pendulum-v1", "--mode", "naive");
        Assert.Equal(2, code);
        Assert.Contains("--mode is not an option of o2rl online", error);
    }

    [Fact]
    public void Finetune_HelpListsVariantsAndModes()
    {
        var (code, output, _) = Run("finetune", "--help");
        Assert.Equal(0, code);
        Assert.Contains("o2sac|o2td3|o2ppo", output);
        Assert.Contains("--mode naive", output);
        Assert.Contains("--resume DIR", output);
    }

    [Fact]
    public void ResumingARunWhosePolicyFileMovedSaysWhichFileAndWhere()
    {
        // Before: "checkpoint '…' does not exist", with nothing linking it to the run's --from.
        string moved = Path.Combine(folder, "moved-away.safetensors"), run = Path.Combine(folder, "stopped");
        O2RL.Algorithms.Runs.RunFolder.Create(run, new O2RL.Algorithms.Runs.RunInfo
        {
            Command = "finetune", Algorithm = "o2sac", Environment = "Pendulum-v1", Seed = 0,
            Arguments = ["--variant", "o2sac", "--mode", "naive", "--env", "Pendulum-v1", "--from", moved],
        }, "{}");
        var (code, _, error) = Run("finetune", "--resume", run);
        Assert.Equal(2, code);
        Assert.Contains($"checkpoint '{moved}' does not exist (the --from policy this run was started with, recorded in", error);
        Assert.Contains("put it back at that path", error);
    }

    [Fact]
    public void RunsFromPoliciesOfDifferentSourcesAreNotPooledAsSeeds()
    {
        // Before, unlabelled CQL→O2SAC and IQL→O2SAC runs were both "o2sac/ocr-cft" and one report row averaged them.
        var random = new Random(4);
        float[] Values(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5))];
        O2RL.Engine.Checkpoints.NamedTensor[] actor =
        [
            new("base_network.0.weight", [8, 3], Values(24)), new("base_network.0.bias", [8], Values(8)),
            new("base_network.2.weight", [2, 8], Values(16)), new("base_network.2.bias", [2], Values(2)),
            new("log_std_multiplier.constant", [1], [1f]), new("log_std_offset.constant", [1], [0f]),
        ];
        string ours = Path.Combine(folder, "cql.safetensors"), pytorch = Path.Combine(folder, "actor.safetensors");
        O2RL.Engine.Checkpoints.SafetensorsFile.Write(ours, [.. actor.Select(t => t with { Name = "actor." + t.Name })],
            new Dictionary<string, string> { ["algorithm"] = "cql", ["obs_mean"] = "0,0,0", ["obs_std"] = "1,1,1" });
        O2RL.Engine.Checkpoints.SafetensorsFile.Write(pytorch, actor);
        string dataset = O2RL.Algorithms.Training.ShippedDatasets.Find("Pendulum-v1", "medium")!;
        foreach (var (name, from) in new[] { ("a", ours), ("b", pytorch) })
        {
            var (code, _, error) = Run("finetune", "--variant", "o2sac", "--mode", "offline", "--env", "Pendulum-v1", "--from", from, "--dataset", dataset,
                "--set", "eval_episodes=1", "--seed", "0", "--quiet", "--out", Path.Combine(folder, name));
            Assert.True(code == 0, error);
        }
        var report = Run("report", Path.Combine(folder, "a"), Path.Combine(folder, "b"));
        Assert.True(report.Code == 0, report.Error);
        Assert.Contains("| o2sac/offline from cql |", report.Output);
        Assert.Contains("| o2sac/offline from pytorch |", report.Output);
    }

    [Fact]
    [Trait("Category", "Learning")]
    public void Demo_Quick_WritesTheTableThePlotAndTheRunFolders_ThenReusesThem()
    {
        string root = Path.Combine(folder, "demo");
        var (code, output, error) = Run("demo", "--quick", "--json", "--quiet", "--out", root);
        Assert.True(code == 0, error);
        using (var json = JsonDocument.Parse(output))
        {
            var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToList();
            Assert.Equal(2, rows.Count);
            var o2sac = rows.Single(r => r.GetProperty("method").GetString() == "CQL→O2SAC");
            var naive = rows.Single(r => r.GetProperty("method").GetString() == "CQL→SAC (naive)");
            // Same CQL policy, same evaluation seeds: both curves start at the same offline score.
            Assert.Equal(o2sac.GetProperty("offline").GetProperty("mean").GetDouble(), naive.GetProperty("offline").GetProperty("mean").GetDouble());
            Assert.Equal(JsonValueKind.Object, o2sac.GetProperty("after_reconstruction").ValueKind);
            Assert.Equal(JsonValueKind.Null, naive.GetProperty("after_reconstruction").ValueKind);
            foreach (var row in rows) Assert.True(double.IsFinite(row.GetProperty("final").GetProperty("mean").GetDouble()));
        }
        Assert.True(new FileInfo(Path.Combine(root, "demo.png")).Length > 10_000);
        foreach (string run in new[] { "offline", "o2sac", "naive-sac" })
            Assert.True(File.Exists(Path.Combine(root, run, "summary.json")), run);

        var again = Run("demo", "--quick", "--out", root);
        Assert.Equal(0, again.Code);
        Assert.Equal(3, again.Output.Split("reusing").Length - 1);
        Assert.Contains("| Pendulum-v1/medium | CQL→O2SAC | 1 |", again.Output);
    }
}
