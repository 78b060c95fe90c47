using System.Text.Json;
using System.Text.Json.Serialization;

namespace O2RL.Algorithms.Runs;

/// <summary>
/// What made a run (<c>run.json</c>): the command, algorithm and variant, task, and seed. <c>plot</c> and
/// <c>report</c> group runs by <see cref="Method"/> and <see cref="Task"/> and treat runs within a group as seeds.
/// </summary>
public sealed record RunInfo
{
    /// <summary>The command line (or caller) that started the run, e.g. "o2rl finetune --algo o2sac ...".</summary>
    public string Command { get; init; } = "";
    /// <summary>Algorithm id, e.g. "o2sac", "cql", "sac".</summary>
    public required string Algorithm { get; init; }
    /// <summary>Variant of the algorithm (e.g. "naive", "no-stage-b"); null = the algorithm as specified.</summary>
    public string? Variant { get; init; }
    /// <summary>
    /// What the starting policy of a fine-tuning run was trained by: the algorithm its file records ("cql", "iql",
    /// "td3_bc", …) or "pytorch" for a state_dict; null for runs without one. Part of <see cref="Method"/>, so that
    /// CQL→O2SAC and IQL→O2SAC runs without labels are not averaged as seeds of one method.
    /// </summary>
    public string? Source { get; init; }
    /// <summary>Legend label overriding algorithm/variant (e.g. "O2SAC (ours)"); null = derived.</summary>
    public string? Label { get; init; }
    /// <summary>Environment id, e.g. "Hopper-v2".</summary>
    public required string Environment { get; init; }
    /// <summary>Dataset level, e.g. "medium-replay"; null for pure online runs.</summary>
    public string? Dataset { get; init; }
    /// <summary>Reference-score task id, e.g. "hopper-medium-replay-v2"; null = none.</summary>
    public string? ScoreTaskId { get; init; }
    /// <summary>The run's seed.</summary>
    public int Seed { get; init; }
    /// <summary>
    /// The training command's arguments after the command name (file paths made absolute), so that
    /// <c>--resume</c> can continue the run exactly as it was started; null for runs made by other callers.
    /// </summary>
    public IReadOnlyList<string>? Arguments { get; init; }
    /// <summary>When the run folder was created (UTC, ISO 8601).</summary>
    public string CreatedUtc { get; init; } = DateTimeOffset.UtcNow.ToString("O");
    /// <summary>The build that wrote the folder, "version+commit" (<see cref="O2RL.Engine.BuildInfo"/>): the same seed on another build may train differently.</summary>
    public string LibraryVersion { get; init; } = O2RL.Engine.BuildInfo.Version;

    /// <summary>The method a run belongs to: label, else "algorithm/variant" (or the algorithm) with " from &lt;source&gt;" when it started from a policy.</summary>
    [JsonIgnore]
    public string Method => Label ?? (Variant is null ? Algorithm : $"{Algorithm}/{Variant}") + (Source is null ? "" : $" from {Source}");

    /// <summary>The task a run belongs to: the score task id, else environment (and dataset).</summary>
    [JsonIgnore]
    public string Task => ScoreTaskId ?? (Dataset is null ? Environment : $"{Environment}/{Dataset}");

    internal static readonly JsonSerializerOptions JsonOptions = new(JsonFiles.Serializer)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The run.json text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses run.json text; <paramref name="source"/> names the file in errors.</summary>
    public static RunInfo Parse(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<RunInfo>(json, JsonOptions)
                   ?? throw new InvalidDataException($"{source}: run.json is empty (null)");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: run.json is not a valid run description ({ex.Message})", ex);
        }
    }
}
