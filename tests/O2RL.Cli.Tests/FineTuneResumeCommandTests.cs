using System.Diagnostics;
using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.Runs;
using O2RL.Algorithms.Training;
using O2RL.Cli.Commands;
using Xunit;

using static O2RL.Cli.Tests.CliRunner;

namespace O2RL.Cli.Tests;

/// <summary>
/// o2rl finetune end to end: a run killed (SIGKILL, no chance to clean up) inside stage C and continued with
/// <c>--resume</c> ends with the same metrics rows and the same final checkpoint as an uninterrupted run.
/// </summary>
public sealed class FineTuneResumeCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("o2rl-finetune-resume-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    // Wall-clock values differ between any two runs; their rows must still be there exactly once.
    static bool IsTiming(string name) => name == "charts/sps" || name.StartsWith("time/", StringComparison.Ordinal);

    [Fact]
    public async Task Finetune_KilledInStageC_ResumesToTheUninterruptedRun()
    {
        string dataset = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset");
        string offline = Path.Combine(folder, "cql");
        var cql = Run("offline", "--algo", "cql", "--env", "Pendulum-v1", "--dataset", dataset, "--level", "medium", "--device", "cpu", "--quiet",
            "--set", "steps=40", "--set", "batch_size=16", "--set", "actor_hidden=[8]", "--set", "critic_hidden=[8]", "--set", "eval_every=0",
            "--set", "eval_episodes=1", "--out", offline);
        Assert.True(cql.Code == 0, cql.Error);

        // Stages A and B log up to step 300 on their own axes; stage C checkpoints every 200 steps (at episode ends).
        string[] finetune = ["finetune", "--variant", "o2sac", "--env", "Pendulum-v1", "--from", Path.Combine(offline, "cql.safetensors"),
            "--dataset", dataset, "--level", "medium", "--seed", "2", "--device", "cpu", "--quiet", "--checkpoint-every", "200",
            "--set", "reevaluation_steps=300", "--set", "alignment_steps=300", "--set", "online_steps=600", "--set", "warmup_steps=100",
            "--set", "batch_size=16", "--set", "critic_hidden=[8]", "--set", "eval_every=300", "--set", "eval_episodes=1",
            "--set", "log_every=100", "--set", "threshold_steps=600", "--set", "replay_capacity=1000"];
        string whole = Path.Combine(folder, "whole"), killed = Path.Combine(folder, "killed");
        var straight = Run([.. finetune, "--out", whole]);
        Assert.True(straight.Code == 0, straight.Error);

        // The same command as a child process, killed as soon as stage C wrote its first checkpoint.
        string checkpoints = Path.Combine(killed, RunFolder.CheckpointsFolder);
        await KillWhenAsync([.. finetune, "--out", killed],
            () => Directory.Exists(checkpoints) && Directory.EnumerateFiles(checkpoints, "step_*.safetensors").Any(), "stage C's first checkpoint");
        Assert.False(File.Exists(Path.Combine(killed, RunFolder.SummaryFile)), "the child completed before it was killed");
        long saved = RunFolder.Open(killed).LatestCheckpoint()!.Value.Step;

        var resumed = Run("finetune", "--resume", killed, "--device", "cpu", "--quiet");
        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.Contains($"from online step {saved:N0}", resumed.Output);

        var expected = RunFolder.Open(whole).ReadMetrics();
        var actual = RunFolder.Open(killed).ReadMetrics();
        // Every row once, in the same order (the offline stages' rows beyond the checkpoint's step kept, not repeated) …
        Assert.Contains(expected, r => r.Step > saved && FineTuneMetrics.IsOfflineStageMetric(r.Name));
        Assert.Equal(expected.Select(r => (r.Step, r.Name)), actual.Select(r => (r.Step, r.Name)));
        // … with the same values, λ and the evaluations included.
        Assert.Equal(expected.Where(r => !IsTiming(r.Name)), actual.Where(r => !IsTiming(r.Name)));
        Assert.Contains(actual, r => r.Name == "losses/lambda" && r.Step > saved);
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "o2sac.safetensors")), File.ReadAllBytes(Path.Combine(killed, "o2sac.safetensors")));
        Assert.True(File.Exists(Path.Combine(killed, RunFolder.SummaryFile)));
    }

    [Theory]
    [InlineData("o2sac")]
    [InlineData("o2td3")]
    public void Finetune_StoppedInStageB_KeepsStageARowsAndResumesToTheUninterruptedRun(string variant)
    {
        string dataset = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset");
        string offline = Path.Combine(folder, "offline");
        bool sac = variant == "o2sac";
        var pretrain = sac
            ? Run("offline", "--algo", "cql", "--env", "Pendulum-v1", "--dataset", dataset, "--level", "medium", "--device", "cpu", "--quiet",
                "--set", "steps=40", "--set", "batch_size=16", "--set", "actor_hidden=[8]", "--set", "critic_hidden=[8]", "--set", "eval_every=0",
                "--set", "eval_episodes=1", "--out", offline)
            : Run("offline", "--algo", "td3bc", "--env", "Pendulum-v1", "--dataset", dataset, "--level", "medium", "--device", "cpu", "--quiet",
                "--set", "max_steps=40", "--set", "batch_size=16", "--set", "actor_hidden=[8]", "--set", "critic_hidden=[8]", "--set", "evaluate_every=0",
                "--set", "evaluation_episodes=1", "--out", offline);
        Assert.True(pretrain.Code == 0, pretrain.Error);
        string whole = Path.Combine(folder, "whole"), stopped = Path.Combine(folder, "stopped");
        string[] evaluation = sac ? ["--set", "eval_every=200", "--set", "eval_episodes=1"] : ["--set", "evaluate_every=200", "--set", "evaluation_episodes=1"];
        var straight = Run([
            "finetune", "--variant", variant, "--env", "Pendulum-v1", "--from", Path.Combine(offline, sac ? "cql.safetensors" : "td3_bc.safetensors"),
            "--dataset", dataset, "--level", "medium", "--seed", "3", "--device", "cpu", "--quiet", "--checkpoint-every", "0",
            "--set", "reevaluation_steps=200", "--set", "alignment_steps=200", "--set", "online_steps=400", "--set", "warmup_steps=100",
            "--set", "batch_size=16", "--set", "critic_hidden=[8]", .. evaluation,
            "--set", "log_every=100", "--set", "threshold_steps=400", "--out", whole]);
        Assert.True(straight.Code == 0, straight.Error);

        // The state of a run stopped inside stage B after logging its rows: stage A's file is there, stage B's is not,
        // and no stage-C checkpoint exists (--checkpoint-every 0); its metrics files hold rows of every stage.
        CopyDirectory(whole, stopped);
        File.Delete(Path.Combine(stopped, "stage-b.safetensors"));
        File.Delete(Path.Combine(stopped, RunFolder.SummaryFile));
        Assert.True(File.Exists(Path.Combine(stopped, "stage-a.safetensors")));
        Assert.Null(RunFolder.Open(stopped).LatestCheckpoint());

        var resumed = Run("finetune", "--resume", stopped, "--device", "cpu", "--quiet");
        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.Contains("continuing after its last finished stage", resumed.Output);

        var expected = RunFolder.Open(whole).ReadMetrics();
        var actual = RunFolder.Open(stopped).ReadMetrics();
        // Stage A's rows survive (it is not run again), stage B and C are logged once more: every row exactly once.
        Assert.Contains(actual, r => r.Name == "stage/a_qf_loss");
        Assert.Equal(expected.Select(r => (r.Step, r.Name)), actual.Select(r => (r.Step, r.Name)));
        Assert.Equal(expected.Where(r => !IsTiming(r.Name)), actual.Where(r => !IsTiming(r.Name)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, variant + ".safetensors")), File.ReadAllBytes(Path.Combine(stopped, variant + ".safetensors")));
    }

    [Fact]
    public void FinishedStageMetricsFollowTheStageFiles()
    {
        string run = Path.Combine(folder, "stages");
        Directory.CreateDirectory(run);
        var none = FineTuneMetrics.FinishedStageMetrics(run);
        Assert.False(none("stage/a_qf_loss"));
        File.WriteAllText(Path.Combine(run, "stage-a.safetensors"), "");
        var afterA = FineTuneMetrics.FinishedStageMetrics(run);
        Assert.True(afterA("stage/a_qf_loss"));
        Assert.True(afterA("time/stage_a_update"));
        Assert.False(afterA("stage/b_qf_loss"));
        Assert.False(afterA("eval/return"));
        File.WriteAllText(Path.Combine(run, "stage-b.safetensors"), "");
        File.Delete(Path.Combine(run, "stage-a.safetensors"));
        var afterB = FineTuneMetrics.FinishedStageMetrics(run);
        Assert.True(afterB("stage/a_value_loss"));
        Assert.True(afterB("stage/b_actor_loss"));
        Assert.False(afterB("losses/qf_loss"));
    }

    static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
