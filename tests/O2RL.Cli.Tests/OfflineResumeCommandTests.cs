using O2RL.Algorithms.Runs;
using O2RL.Algorithms.Training;
using O2RL.Cli;
using O2RL.Data;
using Xunit;

using static O2RL.Cli.Tests.CliRunner;

namespace O2RL.Cli.Tests;

/// <summary><c>o2rl offline --resume</c> end to end on a run folder: exact continuation, and the refusals.</summary>
public sealed class OfflineResumeCommandTests
{
    // CQL at a tiny budget: checkpoints at updates 100 and 200 (not at the final 300, which writes cql.safetensors instead).
    static readonly string[] Tiny = ["--algo", "cql", "--env", "Pendulum-v1", "--quiet", "--seed", "1", "--checkpoint-every", "100",
        "--set", "steps=300", "--set", "batch_size=16", "--set", "actor_hidden=[8]", "--set", "critic_hidden=[8]", "--set", "nactions=4",
        "--set", "eval_every=100", "--set", "eval_episodes=1", "--set", "log_every=50"];

    static string[] Rows(string dir) =>
        [.. File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Where(l => !l.Contains("charts/sps") && !l.Contains("time/update"))];

    static string ShippedMedium() =>
        ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException($"no shipped Pendulum-v1 medium dataset under {ShippedDatasets.Root}");

    [Fact]
    public void WithoutLevelTheDatasetsLevelIsReadAndSaidOrItsAbsenceNoted()
    {
        string root = Path.Combine(Path.GetTempPath(), $"o2rl-cli-level-{Guid.NewGuid():N}");
        string[] tiny = ["--algo", "td3bc", "--env", "Pendulum-v1", "--set", "max_steps=20", "--set", "batch_size=16", "--set", "actor_hidden=[8]",
            "--set", "critic_hidden=[8]", "--set", "evaluate_every=0", "--set", "evaluation_episodes=1"];
        try
        {
            // Our shipped file carries its level: the run says so, uses it, and records it.
            var (code, output, error) = Run(["offline", "--out", Path.Combine(root, "shipped"), "--dataset", ShippedMedium(), .. tiny]);
            Assert.True(code == 0, error);
            Assert.Contains("dataset level 'medium' (from the 'level' attribute of pendulum-v1-medium.hdf5; --level overrides it)", output);
            Assert.Contains("\"dataset\": \"medium\"", File.ReadAllText(Path.Combine(root, "shipped", "run.json")));

            // A file with neither a level attribute nor a level in its name: a note names the levels that have settings.
            string unnamed = Path.Combine(root, "data.hdf5");
            using (var env = PolicyEnvironment.Make("Pendulum-v1", StateNormalizer.Identity(3)))
                D4rlHdf5.Write(DatasetCollection.Collect(env, null, 400, seed: 2), unnamed);
            (code, output, error) = Run(["offline", "--out", Path.Combine(root, "unnamed"), "--dataset", unnamed, .. tiny]);
            Assert.True(code == 0, error);
            Assert.Contains("note: the level of 'data.hdf5' is unknown", output);
            Assert.Contains("pass --level (swingup-noisy)", output);
            (code, output, error) = Run(["offline", "--out", Path.Combine(root, "given"), "--dataset", unnamed, "--level", "medium", .. tiny]);
            Assert.True(code == 0, error);
            Assert.DoesNotContain("dataset level", output);
            Assert.DoesNotContain("note:", output);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AResumedOfflineRunEndsAsTheUninterruptedOne()
    {
        string root = Path.Combine(Path.GetTempPath(), $"o2rl-cli-offline-resume-{Guid.NewGuid():N}");
        string whole = Path.Combine(root, "whole"), cut = Path.Combine(root, "cut");
        try
        {
            var (code, _, error) = Run(["offline", "--out", whole, "--dataset", ShippedMedium(), .. Tiny]);
            Assert.True(code == 0, error);
            (code, _, error) = Run(["offline", "--out", cut, "--dataset", ShippedMedium(), .. Tiny]);
            Assert.True(code == 0, error);
            (code, _, error) = Run("offline", "--resume", cut);
            Assert.Equal(2, code);
            Assert.Contains("complete", error);

            // A run that died after its last checkpoint (update 200): summary and final checkpoint gone, rows of 250 and 300 still in the files.
            File.Delete(Path.Combine(cut, "summary.json"));
            File.Delete(Path.Combine(cut, "cql.safetensors"));
            // Its session took an hour (as wall_time.json would say of a long run): the resumed summary counts it.
            string wallTime = Path.Combine(cut, "wall_time.json");
            var firstSession = RunWallTime.ReadSessions(File.ReadAllText(wallTime)).Single();
            File.WriteAllText(wallTime, $$"""{"seconds": 3600, "sessions": [{"started_utc": "{{firstSession.StartedUtc}}", "seconds": 3600}]}""");
            Assert.Contains(Rows(cut), l => l.StartsWith("300,", StringComparison.Ordinal));
            string output;
            (code, output, error) = Run("offline", "--resume", cut, "--quiet");
            Assert.True(code == 0, error);
            Assert.Contains("from step 200", output);
            Assert.Equal(Rows(whole), Rows(cut));
            Assert.Equal(File.ReadAllLines(Path.Combine(whole, "metrics.jsonl")).Length, File.ReadAllLines(Path.Combine(cut, "metrics.jsonl")).Length);
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "cql.safetensors")), File.ReadAllBytes(Path.Combine(cut, "cql.safetensors")));
            using (var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(cut, "summary.json"))))
            {
                Assert.Equal(2, summary.RootElement.GetProperty("sessions").GetInt32());
                Assert.InRange(summary.RootElement.GetProperty("wall_seconds").GetDouble(), 3600, 3900);
            }
            Assert.Equal(firstSession.StartedUtc, RunWallTime.ReadSessions(File.ReadAllText(wallTime))[0].StartedUtc);
            using (var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(whole, "summary.json"))))
            {
                Assert.Equal(1, summary.RootElement.GetProperty("sessions").GetInt32());
                Assert.InRange(summary.RootElement.GetProperty("wall_seconds").GetDouble(), 0, 3600);
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AResumeOnADatasetFileThatChangedIsRefusedWithOneLine()
    {
        string root = Path.Combine(Path.GetTempPath(), $"o2rl-cli-offline-dataset-{Guid.NewGuid():N}");
        string run = Path.Combine(root, "run"), data = Path.Combine(root, "pendulum-v1-medium.hdf5");
        try
        {
            Directory.CreateDirectory(root);
            File.Copy(ShippedMedium(), data);
            var (code, _, error) = Run(["offline", "--out", run, "--dataset", data, .. Tiny]);
            Assert.True(code == 0, error);
            File.Delete(Path.Combine(run, "summary.json"));

            // Same rows and shapes, one reward changed: only the checksum tells.
            var dataset = D4rlHdf5.Read(data);
            dataset.Rewards[3] -= 1f;
            File.Delete(data);
            D4rlHdf5.Write(dataset, data);
            (code, _, error) = Run("offline", "--resume", run, "--quiet");
            Assert.Equal(1, code);
            Assert.Single(error.Trim().Split('\n'));
            Assert.Contains("another dataset", error);
            Assert.False(File.Exists(Path.Combine(run, "summary.json")));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void OfflineHelpDescribesResume()
    {
        var (code, output, _) = Run("offline", "--help");
        Assert.Equal(0, code);
        Assert.Contains("o2rl offline --resume DIR", output);
        Assert.Contains("refuses a dataset file that changed", output);
    }
}
