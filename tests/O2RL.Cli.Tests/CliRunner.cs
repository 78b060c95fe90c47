using System.Diagnostics;
using O2RL.Cli.Commands;
using Xunit;

namespace O2RL.Cli.Tests;

/// <summary>Runs o2rl commands in-process, or as a child process killed (SIGKILL) at a chosen moment.</summary>
static class CliRunner
{
    /// <summary>Dispatches <paramref name="args"/> as the o2rl command line would and returns its exit code and output.</summary>
    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandTable.Dispatch(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>
    /// Starts <paramref name="args"/> as a child o2rl process and kills it, with no chance to clean up, as soon as
    /// <paramref name="ready"/> holds; fails when the child ends first or nothing happens within two minutes.
    /// </summary>
    public static async Task KillWhenAsync(string[] args, Func<bool> ready, string waitingFor)
    {
        var launcher = SelfInvocation.ForAssembly(typeof(CommandTable).Assembly.Location);
        var start = new ProcessStartInfo(launcher.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in launcher.Prefix()) start.ArgumentList.Add(a);
        foreach (string a in args) start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        var childError = child.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        _ = child.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var clock = Stopwatch.StartNew();
        while (!ready())
        {
            if (child.HasExited) Assert.Fail($"the command ended (exit {child.ExitCode}) before {waitingFor}: {await childError}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"no {waitingFor} within two minutes");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
        child.Kill(entireProcessTree: true);
        await child.WaitForExitAsync(TestContext.Current.CancellationToken);
    }
}
