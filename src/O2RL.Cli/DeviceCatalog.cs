using O2RL.Engine;

namespace O2RL.Cli;

/// <summary>Creates backends for the CLI from <c>--device</c> / <c>O2RL_DEVICE</c>.</summary>
public static class DeviceCatalog
{
    /// <summary>The backend the user asked for (default: auto = CUDA if present, else CPU).</summary>
    public static Backend Create(string? device)
    {
        try
        {
            return Devices.Create(device);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    /// <summary>One backend per device present, announcing each on the writer; devices that refuse to open are reported, not fatal.</summary>
    public static IEnumerable<Backend> CreateAllPresent(TextWriter output)
    {
        var devices = Devices.List();
        output.WriteLine("devices present:");
        foreach (var d in devices) output.WriteLine($"  {d.Choice,-10} {d.Description}{(d.Note is null ? "" : " — " + d.Note)}");
        foreach (var kind in devices.Where(d => d.Note is null).Select(d => d.Choice).Distinct())
        {
            Backend? backend = null;
            try { backend = Devices.Create(kind); }
            catch (InvalidOperationException ex) { output.WriteLine($"{kind}: could not open: {ex.Message}"); }
            if (backend is not null) yield return backend;
        }
    }
}
