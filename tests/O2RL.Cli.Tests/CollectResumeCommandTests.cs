using System.Diagnostics;
using O2RL.Cli.Commands;
using Xunit;

using static O2RL.Cli.Tests.CliRunner;

namespace O2RL.Cli.Tests;

/// <summary>
/// o2rl collect end to end: a collection killed (SIGKILL) during its SAC run and continued with <c>--resume</c>
/// writes the same dataset files as an uninterrupted one, and removes its state folder when done.
/// </summary>
public sealed class CollectResumeCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("o2rl-collect-resume-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    // Pendulum has no reference scores: the returns that define "one third of the way" are given.
    static readonly string[] Collect = ["collect", "--env", "Pendulum-v1", "--levels", "medium,medium-replay", "--rows", "2000", "--seed", "1",
        "--expert-return", "-150", "--random-return", "-1300", "--device", "cpu", "--quiet", "--checkpoint-every", "400",
        "--set", "total_steps=6000", "--set", "warmup_steps=1000", "--set", "actor_hidden=[64,64]", "--set", "critic_hidden=[64,64]",
        "--set", "eval_every=500", "--set", "eval_episodes=5"];

    [Fact]
    [Trait("Category", "Learning")]
    public async Task Collect_KilledDuringSac_ResumesToTheUninterruptedDatasets()
    {
        string whole = Path.Combine(folder, "whole"), killed = Path.Combine(folder, "killed");
        var straight = Run([.. Collect, "--out", whole]);
        Assert.True(straight.Code == 0, straight.Error);
        Assert.False(Directory.Exists(Path.Combine(whole, CollectCommand.StateFolder)), "the state folder outlived the finished collection");
        Assert.True(File.Exists(Path.Combine(whole, CollectCommand.ArgumentsFile)));

        string state = Path.Combine(killed, CollectCommand.StateFolder);
        await KillWhenAsync([.. Collect, "--out", killed],
            () => Directory.Exists(state) && Directory.EnumerateFiles(state, "step_*.safetensors").Any(), "the first checkpoint");
        Assert.Empty(Directory.GetFiles(killed, "*.hdf5"));

        // A fresh collection into the stopped one's folder is refused; --resume may not change the recipe.
        var again = Run([.. Collect, "--out", killed]);
        Assert.Equal(2, again.Code);
        Assert.Contains("--resume", again.Error);
        var changed = Run("collect", "--resume", killed, "--seed", "2");
        Assert.Equal(2, changed.Code);
        Assert.Contains("--seed cannot be changed", changed.Error);

        var resumed = Run("collect", "--resume", killed, "--device", "cpu", "--quiet");
        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.Contains("resuming the collection", resumed.Output);
        foreach (string name in new[] { "pendulum-v1-medium.hdf5", "pendulum-v1-medium-replay.hdf5" })
            Assert.True(File.ReadAllBytes(Path.Combine(whole, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(killed, name))), $"{name} differs");
        Assert.False(Directory.Exists(state));
    }

    [Fact]
    public void Collect_OnPendulumWithoutARandomReturn_MeasuresItInTheActorsBox_AndRandomDataNeedsNoSac()
    {
        // Pendulum has no reference scores, so collect measures the random policy's return first. It did so on the raw
        // [−2, 2] task, which the collection loop refuses (actors act in [−1, 1]): the documented recipe failed at once.
        // Here SAC is far too short to reach the medium level, so the run fails after measuring, naming the threshold.
        string[] tinySac = ["--device", "cpu", "--quiet", "--set", "total_steps=400", "--set", "warmup_steps=300", "--set", "actor_hidden=[8]",
            "--set", "critic_hidden=[8]", "--set", "eval_every=200", "--set", "eval_episodes=1"];
        var medium = Run(["collect", "--env", "Pendulum-v1", "--levels", "medium", "--rows", "1000", "--seed", "1", "--expert-return", "-150",
            .. tinySac, "--out", Path.Combine(folder, "medium")]);
        Assert.Matches(@"random-policy return measured: -1\d{3}\.\d", medium.Output);
        Assert.Equal(1, medium.Code);
        Assert.Contains("SAC never reached the medium threshold", medium.Error);

        // Uniform random actions need no policy: no SAC run, no expert return, no measurement.
        string random = Path.Combine(folder, "random");
        var result = Run(["collect", "--env", "Pendulum-v1", "--levels", "random", "--rows", "1000", "--seed", "1", .. tinySac, "--out", random]);
        Assert.True(result.Code == 0, result.Error);
        Assert.Contains("random actions only: no SAC run", result.Output);
        Assert.DoesNotContain("measured", result.Output);
        Assert.Single(Directory.GetFiles(random, "pendulum-v1-random.hdf5"));
    }

    [Fact]
    public void Resume_OfAFolderWithoutArguments_IsRefused()
    {
        var result = Run("collect", "--resume", folder);
        Assert.Equal(2, result.Code);
        Assert.Contains(CollectCommand.ArgumentsFile, result.Error);
    }
}
