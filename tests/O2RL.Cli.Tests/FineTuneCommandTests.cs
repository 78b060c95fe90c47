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
