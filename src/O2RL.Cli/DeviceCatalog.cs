using O2RL.Engine;

namespace O2RL.Cli;

/// <summary>Creates backends for the CLI from <c>--device</c> / <c>O2RL_DEVICE</c>.</summary>
public static class DeviceCatalog
{
    /// <summary>The backend the user asked for (default: auto).</summary>
    public static Backend Create(string? device)
    {
        string choice = (device ?? Environment.GetEnvironmentVariable("O2RL_DEVICE") ?? "auto").Trim().ToLowerInvariant();
        return choice switch
        {
            "auto" or "cpu" => new CpuBackend(),
            _ => throw new UsageException($"device '{choice}' is not available; devices present: cpu (choices: auto, cpu)"),
        };
    }

    /// <summary>One backend per device present, announcing each on the writer.</summary>
    public static IEnumerable<Backend> CreateAllPresent(TextWriter output)
    {
        output.WriteLine("devices: cpu");
        yield return new CpuBackend();
    }
}
