using System.Text.Json;
using O2RL.Envs;
using O2RL.Algorithms.Runs;

namespace O2RL.Cli.Commands;

/// <summary>
/// <c>o2rl envs [--json]</c> lists every registered environment and whether it runs here;
/// <c>o2rl envs xml ID</c> prints the MJCF model behind a MuJoCo task.
/// </summary>
public static class EnvsCommand
{
    private const string Usage = """
        Usage:
          o2rl envs [--json]     list every environment: id, observation and action sizes, episode limit,
                                 and whether it is available here (and why not)
          o2rl envs xml ID       print the MuJoCo model (MJCF XML) of environment ID
          o2rl envs --help       show this help
        """;

    /// <summary>Runs the command; returns 0 on success, 2 on bad arguments, 1 on failure.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            if (args.Length == 1 && args[0] is "--help" or "-h")
            {
                output.WriteLine(Usage);
                return 0;
            }
            if (args.Length == 0) return List(output, json: false);
            if (args.Length == 1 && args[0] == "--json") return List(output, json: true);
            if (args[0] == "xml")
            {
                if (args.Length != 2)
                {
                    error.WriteLine("error: 'o2rl envs xml' takes exactly one environment id (see 'o2rl envs' for the list)");
                    return 2;
                }
                return Xml(args[1], output, error);
            }
            error.WriteLine($"error: unknown argument '{args[0]}' for 'o2rl envs' (try 'o2rl envs --help')");
            return 2;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    private static int List(TextWriter output, bool json)
    {
        var environments = EnvironmentRegistry.ListAvailability();
        if (json)
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream, JsonFiles.Writer))
            {
                writer.WriteStartArray();
                foreach (var entry in environments)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", entry.Spec.Id);
                    writer.WriteNumber("observation_dim", entry.Spec.ObservationDim);
                    writer.WriteNumber("action_dim", entry.Spec.ActionDim);
                    writer.WriteNumber("max_episode_steps", entry.Spec.MaxEpisodeSteps);
                    writer.WriteString("reproduces", entry.Spec.Reproduces);
                    writer.WriteBoolean("available", entry.Available);
                    if (entry.UnavailableReason is null) writer.WriteNull("unavailable_reason");
                    else writer.WriteString("unavailable_reason", entry.UnavailableReason);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return 0;
        }

        int idWidth = Math.Max(2, environments.Max(e => e.Spec.Id.Length));
        output.WriteLine($"{"ID".PadRight(idWidth)}  {"OBS",4}  {"ACT",3}  {"LIMIT",5}  AVAILABLE");
        foreach (var entry in environments)
        {
            var spec = entry.Spec;
            output.WriteLine($"{spec.Id.PadRight(idWidth)}  {spec.ObservationDim,4}  {spec.ActionDim,3}  {spec.MaxEpisodeSteps,5}  {(entry.Available ? "yes" : "no")}");
        }
        // The reason is the same for every MuJoCo task, so it is printed once rather than per row.
        var reasons = environments.Where(e => !e.Available).Select(e => e.UnavailableReason).Distinct().ToList();
        foreach (var reason in reasons) output.WriteLine($"not available: {reason}");
        return 0;
    }

    private static int Xml(string id, TextWriter output, TextWriter error)
    {
        if (!EnvironmentRegistry.Specs.Any(s => s.Id == id))
        {
            error.WriteLine($"error: unknown environment id '{id}' (see 'o2rl envs' for the list)");
            return 2;
        }
        var spec = EnvironmentRegistry.GetSpec(id);
        if (spec.ModelName is null)
        {
            error.WriteLine($"error: {id} is a pure C# task and has no MuJoCo model");
            return 2;
        }
        output.WriteLine(EnvironmentRegistry.GetModelXml(id));
        return 0;
    }
}
