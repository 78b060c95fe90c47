using O2RL.Engine;
using O2RL.Engine.Diagnostics;

namespace O2RL.Cli.Commands;

/// <summary><c>o2rl doctor</c>: devices present and a kernel self-check on each.</summary>
public static class DoctorCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var reader = new ArgumentReader(args, [], ["help", "verbose"]);
        if (reader.Has("help"))
        {
            output.WriteLine("usage: o2rl doctor [--verbose]");
            output.WriteLine("Lists the compute devices and checks every kernel on each against its plain C# reference.");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        int failures = 0;
        foreach (var backend in DeviceCatalog.CreateAllPresent(output))
        {
            using (backend)
            {
                var results = KernelSelfCheck.Run(backend);
                int failed = results.Count(r => !r.Passed);
                failures += failed;
                output.WriteLine($"{backend.Name}: {results.Count - failed}/{results.Count} kernels match their reference");
                foreach (var r in results.Where(r => reader.Has("verbose") || !r.Passed))
                    output.WriteLine($"  {(r.Passed ? "ok  " : "FAIL")} {r.Op,-22} max error {r.MaxAbsError:G3} (tolerance {r.Tolerance:G3})");
            }
        }
        output.WriteLine($"O2RL threads: {CpuBackend.DefaultThreadCountForDisplay}, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        return failures == 0 ? 0 : 1;
    }
}
