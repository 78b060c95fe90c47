using System.Diagnostics;
using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.Runs;
using O2RL.Algorithms.Training;
using O2RL.Cli.Commands;
using Xunit;

namespace O2RL.Cli.Tests;

/// <summary>
/// o2rl finetune end to end: a run killed (SIGKILL, no chance to clean up) inside stage C and continued with
/// <c>--resume</c> ends with the same metrics rows and the same final checkpoint as an uninterrupted run.
/// </summary>
public sealed class FineTuneResumeCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("o2rl-finetune-resume-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandTable.Dispatch(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

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
        var launcher = SelfInvocation.ForAssembly(typeof(CommandTable).Assembly.Location);
        var start = new ProcessStartInfo(launcher.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in launcher.Prefix()) start.ArgumentList.Add(a);
        foreach (string a in (string[])[.. finetune, "--out", killed]) start.ArgumentList.Add(a);
        using (var child = Process.Start(start)!)
        {
            var childError = child.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            _ = child.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            string checkpoints = Path.Combine(killed, RunFolder.CheckpointsFolder);
            var clock = Stopwatch.StartNew();
            while (!(Directory.Exists(checkpoints) && Directory.EnumerateFiles(checkpoints, "step_*.safetensors").Any()))
            {
                if (child.HasExited) Assert.Fail($"the run ended (exit {child.ExitCode}) before stage C checkpointed: {await childError}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "no stage-C checkpoint within two minutes");
                await Task.Delay(5, TestContext.Current.CancellationToken);
            }
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
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
}
