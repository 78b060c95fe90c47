using System.Reflection;

namespace O2RL.Engine;

/// <summary>
/// The build that is running, as "version+commit" (e.g. "0.1.0+38bc1f54…": the SDK appends the commit the build
/// was made from; uncommitted changes are not marked). Results depend on the build, not only on the seed: a change
/// that rounds an op differently changes every training run after it, so run folders, checkpoints and datasets
/// record this string beside the seed.
/// </summary>
public static class BuildInfo
{
    /// <summary>The informational version of the engine assembly (every O2RL assembly is built from the same tree).</summary>
    public static string Version { get; } =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(BuildInfo).Assembly.GetName().Version?.ToString()
        ?? "unknown";
}
