using System.Text.RegularExpressions;
using O2RL.Data;

namespace O2RL.Algorithms.Configs;

/// <summary>A dataset level ("medium", "umaze-diverse", …) and where it was read from.</summary>
public sealed record DatasetLevel(string Name, string Source);

/// <summary>
/// Tells a dataset's level when the caller did not name it (no <c>--level</c>), because the per-task settings of
/// ALGORITHMS.md §7 (ε₀/ε_end, σ_e, LayerNorm, reward maps, stage lengths) are keyed on it and must not silently
/// fall back to the defaults. In order: an AntMaze environment id names its one dataset; our own files carry a
/// <c>level</c> attribute; D4RL's file names contain the level (<c>hopper_medium_replay-v2.hdf5</c>,
/// <c>hopper-v2-medium.hdf5</c>).
/// </summary>
public static partial class DatasetLevels
{
    /// <summary>The MuJoCo levels of D4RL, the two-word ones first so that "medium-expert" is not read as "expert".</summary>
    public static IReadOnlyList<string> MuJoCoLevels { get; } = ["medium-replay", "medium-expert", "full-replay", "random", "medium", "expert"];

    /// <summary>The level of a run's dataset, or null when neither the environment id, the file nor its name says.</summary>
    public static DatasetLevel? Infer(string environmentId, string? datasetPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(environmentId);
        var antMaze = AntMazeId().Match(environmentId.ToLowerInvariant());
        if (antMaze.Success) return new DatasetLevel(antMaze.Groups["maze"].Value, $"the environment id {environmentId}");
        if (datasetPath is null) return null;
        if (D4rlHdf5.ReadMetadataOnly(datasetPath)?.Level is { Length: > 0 } stored)
            return new DatasetLevel(stored, $"the 'level' attribute of {Path.GetFileName(datasetPath)}");
        return FromFileName(datasetPath) is string named ? new DatasetLevel(named, $"the file name {Path.GetFileName(datasetPath)}") : null;
    }

    /// <summary>The MuJoCo level named in a file name (underscores read as hyphens), or null.</summary>
    public static string? FromFileName(string path)
    {
        string name = Path.GetFileNameWithoutExtension(path).ToLowerInvariant().Replace('_', '-');
        string[] words = name.Split('-', StringSplitOptions.RemoveEmptyEntries);
        foreach (string level in MuJoCoLevels)
        {
            string[] parts = level.Split('-');
            for (int i = 0; i + parts.Length <= words.Length; i++)
                if (words.AsSpan(i, parts.Length).SequenceEqual(parts)) return level;
        }
        return null;
    }

    [GeneratedRegex(@"^antmaze-(?<maze>[a-z]+(-[a-z]+)?)-v\d+$")]
    private static partial Regex AntMazeId();
}
