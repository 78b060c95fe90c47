namespace O2RL.Algorithms.Training;

/// <summary>The datasets this project made and ships beside the assembly (datasets/&lt;env&gt;/&lt;env&gt;-&lt;level&gt;.hdf5).</summary>
public static class ShippedDatasets
{
    /// <summary>Folder of the shipped datasets.</summary>
    public static string Root => Path.Combine(AppContext.BaseDirectory, "datasets");

    /// <summary>The shipped file for an environment and level (e.g. Pendulum-v1, medium), or null when none ships.</summary>
    public static string? Find(string environmentId, string level)
    {
        ArgumentException.ThrowIfNullOrEmpty(environmentId);
        ArgumentException.ThrowIfNullOrEmpty(level);
        string id = environmentId.ToLowerInvariant();
        string path = Path.Combine(Root, id, $"{id}-{level.ToLowerInvariant()}.hdf5");
        return File.Exists(path) ? path : null;
    }
}
