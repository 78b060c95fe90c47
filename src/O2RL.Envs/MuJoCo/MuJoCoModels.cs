using System.Collections.Concurrent;

namespace O2RL.Envs.MuJoCo;

/// <summary>
/// The MJCF models shipped in the assembly, and the process-wide cache of their compiled forms: each task compiles
/// its model once and every environment copy gets its own mjData on that shared, read-only mjModel.
/// </summary>
public static class MuJoCoModels
{
    private static readonly ConcurrentDictionary<string, Lazy<MjModel>> Compiled = new();

    /// <summary>Names of the embedded models (file names without ".xml").</summary>
    public static IReadOnlyList<string> Names { get; } = ["hopper", "walker2d", "half_cheetah", "ant"];

    /// <summary>The MJCF text of embedded model <paramref name="modelName"/> (e.g. "hopper").</summary>
    public static string GetXml(string modelName)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        var resource = $"O2RL.Envs.Models.{modelName}.xml";
        using var stream = typeof(MuJoCoModels).Assembly.GetManifestResourceStream(resource)
            ?? throw new ArgumentException($"there is no embedded model named '{modelName}'; known: {string.Join(", ", Names)}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The shared compiled model for <paramref name="key"/>, built from <paramref name="xmlFactory"/> on first use.
    /// A failed compilation is not cached, so the error repeats with its message on every attempt.
    /// </summary>
    internal static MjModel GetCompiled(string key, Func<string> xmlFactory)
    {
        MuJoCoLibrary.EnsureAvailable();
        var lazy = Compiled.GetOrAdd(key, k => new Lazy<MjModel>(() => MjModel.Compile(xmlFactory(), k), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Compiled.TryRemove(new KeyValuePair<string, Lazy<MjModel>>(key, lazy));
            throw;
        }
    }

    /// <summary>The shared compiled form of embedded model <paramref name="modelName"/>.</summary>
    internal static MjModel GetCompiled(string modelName) => GetCompiled(modelName, () => GetXml(modelName));
}
