using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;

namespace O2RL.Data;

/// <summary>Options for writing a dataset in D4RL's HDF5 layout.</summary>
public sealed record D4rlWriteOptions
{
    /// <summary>
    /// Rows per chunk. Whole rows per chunk matter: h5py's automatic chunks for (N, 11) arrays are single columns
    /// and read about 5× slower.
    /// </summary>
    public int ChunkRows { get; init; } = 10_000;

    /// <summary>Deflate (gzip) level; PureHDF accepts 0, 1, 9 and −1 (zlib's default).</summary>
    public int DeflateLevel { get; init; } = 1;

    /// <summary>Write the next_observations key when the dataset has it.</summary>
    public bool WriteNextObservations { get; init; } = true;
}

/// <summary>The result of <see cref="D4rlHdf5.Load"/>: the dataset (null when it could not be built) and the report.</summary>
/// <param name="Dataset">The loaded dataset, or null after a structural error.</param>
/// <param name="Report">Every problem found.</param>
public sealed record DatasetLoadResult(TransitionDataset? Dataset, ValidationReport Report);

/// <summary>
/// Reads and writes datasets in D4RL's flat HDF5 layout (observations, actions, rewards, terminals, timeouts,
/// next_observations; gzip-compressed chunked arrays) with PureHDF, so our files open in h5py and D4RL files open
/// here. Flags are written as numpy's bool type (an HDF5 enum with members FALSE = 0 and TRUE = 1, over uint8).
/// Metadata goes into root attributes: environment_id, level, behaviour_return, generator_version, seed.
/// </summary>
public static class D4rlHdf5
{
    /// <summary>Key names of the layout.</summary>
    public const string ObservationsKey = "observations", ActionsKey = "actions", RewardsKey = "rewards",
        TerminalsKey = "terminals", TimeoutsKey = "timeouts", NextObservationsKey = "next_observations";

    /// <summary>Attribute names of our metadata.</summary>
    public const string EnvironmentIdAttribute = "environment_id", LevelAttribute = "level",
        BehaviourReturnAttribute = "behaviour_return", GeneratorVersionAttribute = "generator_version", SeedAttribute = "seed",
        BehaviourPolicyAttribute = "behaviour_policy";

    const ushort SzipFilterId = 4, LzfFilterId = 32000;

    /// <summary>
    /// numpy's bool as HDF5 sees it: an enum with the two members FALSE = 0 and TRUE = 1. h5py maps any enum with
    /// exactly these members to numpy bool; numpy itself writes int8 as the base type, PureHDF 2.2.0 can only write
    /// enums whose base type is unsigned, so ours is over uint8 (same size, same values, read as bool by h5py).
    /// </summary>
    internal enum NumpyBool : byte
    {
        FALSE = 0,
        TRUE = 1,
    }

    /// <summary>
    /// Loads a file and validates it; never throws for problems in the data (they are in the report), only for a
    /// missing file. <see cref="DatasetLoadResult.Dataset"/> is null when the structure is broken.
    /// </summary>
    public static DatasetLoadResult Load(string path, ValidationOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new ValidationOptions();
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset file {path} does not exist", path);
        string name = Path.GetFileName(path);
        var report = new ValidationReport(name, options.Strict);
        NativeFile file;
        try
        {
            file = H5File.OpenRead(path);
        }
        catch (Exception ex)
        {
            report.Add(IssueSeverity.Error, "(file)", null, $"not a readable HDF5 file: {ex.Message}");
            return new DatasetLoadResult(null, report);
        }
        using (file)
        {
            var dataset = ReadStructure(file, report);
            if (dataset is not null) DatasetValidator.CheckContents(dataset, options, report);
            return new DatasetLoadResult(dataset, report);
        }
    }

    /// <summary>
    /// Reads only the metadata of a file (our root attributes and D4RL's <c>metadata/algorithm</c>), without its arrays;
    /// null when the file is missing or not readable HDF5. A malformed attribute leaves its field null.
    /// </summary>
    public static DatasetMetadata? ReadMetadataOnly(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) return null;
        try
        {
            using var file = H5File.OpenRead(path);
            return ReadMetadata(file, new ValidationReport(Path.GetFileName(path), strict: false));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return null;
        }
    }

    /// <summary>Loads and validates a file; throws <see cref="DatasetValidationException"/> when validation fails.</summary>
    public static TransitionDataset Read(string path, ValidationOptions? options = null)
    {
        var result = Load(path, options);
        if (!result.Report.Passed || result.Dataset is null) throw new DatasetValidationException(result.Report);
        return result.Dataset;
    }

    static TransitionDataset? ReadStructure(NativeFile file, ValidationReport report)
    {
        int errorsBefore = report.ErrorCount;
        var obs = ReadArray(file, ObservationsKey, required: true, rank: 2, report);
        var act = ReadArray(file, ActionsKey, required: true, rank: 2, report);
        var rew = ReadArray(file, RewardsKey, required: true, rank: 1, report);
        var term = ReadArray(file, TerminalsKey, required: true, rank: 1, report);
        var timeouts = ReadArray(file, TimeoutsKey, required: false, rank: 1, report);
        var next = ReadArray(file, NextObservationsKey, required: false, rank: 2, report);
        if (report.ErrorCount > errorsBefore || obs is null || act is null || rew is null || term is null) return null;

        long rows = rew.Rows;
        foreach (var (key, array) in new[] { (ObservationsKey, obs), (ActionsKey, act), (TerminalsKey, term), (TimeoutsKey, timeouts), (NextObservationsKey, next) })
            if (array is not null && array.Rows != rows)
                report.Add(IssueSeverity.Error, key, null, $"has {array.Rows} rows but rewards has {rows}");
        if (next is not null && next.Cols != obs.Cols)
            report.Add(IssueSeverity.Error, NextObservationsKey, null, $"has {next.Cols} columns but observations has {obs.Cols}");
        if (obs.Cols < 1) report.Add(IssueSeverity.Error, ObservationsKey, null, "has no columns");
        if (act.Cols < 1) report.Add(IssueSeverity.Error, ActionsKey, null, "has no columns");
        if (report.ErrorCount > errorsBefore) return null;

        return new TransitionDataset((int)obs.Cols, (int)act.Cols, obs.Floats!, act.Floats!, rew.Floats!,
            term.Flags!, timeouts?.Flags, next?.Floats, ReadMetadata(file, report));
    }

    sealed record LoadedArray(long Rows, long Cols, float[]? Floats, bool[]? Flags);

    static LoadedArray? ReadArray(NativeFile file, string key, bool required, int rank, ValidationReport report)
    {
        if (!file.LinkExists(key))
        {
            if (required) report.Add(IssueSeverity.Error, key, null, "required key is missing");
            return null;
        }
        IH5Dataset dataset;
        try
        {
            dataset = file.Dataset(key);
        }
        catch (Exception ex)
        {
            report.Add(IssueSeverity.Error, key, null, $"is not a dataset: {ex.Message}");
            return null;
        }
        ulong[] dims = dataset.Space.Dimensions;
        // Vectors stored as (N, 1) (some older reward files) are squeezed.
        bool squeezable = rank == 1 && dims.Length == 2 && dims[1] == 1;
        if (dims.Length != rank && !squeezable)
        {
            string expected = rank == 1 ? "(N,)" : "(N, dim)";
            report.Add(IssueSeverity.Error, key, null, $"has rank {dims.Length} (shape ({string.Join(", ", dims)})) but must be {expected}");
            return null;
        }
        if (dims.Aggregate(1UL, (a, b) => a * b) > int.MaxValue)
        {
            report.Add(IssueSeverity.Error, key, null, $"shape ({string.Join(", ", dims)}) is too large for one array");
            return null;
        }
        long rows = (long)dims[0];
        long cols = rank == 2 ? (long)dims[1] : 1;
        bool flags = key is TerminalsKey or TimeoutsKey;
        try
        {
            return flags
                ? new LoadedArray(rows, cols, null, ReadFlags(dataset, key))
                : new LoadedArray(rows, cols, ReadFloats(dataset, key), null);
        }
        catch (NotSupportedException ex)
        {
            report.Add(IssueSeverity.Error, key, null, ex.Message);
        }
        catch (Exception ex)
        {
            report.Add(IssueSeverity.Error, key, null, DescribeReadFailure(ex));
        }
        return null;
    }

    static float[] ReadFloats(IH5Dataset dataset, string key)
    {
        var type = dataset.Type;
        switch (type.Class)
        {
            case H5DataTypeClass.FloatingPoint when type.Size == 4:
                return dataset.Read<float[]>();
            case H5DataTypeClass.FloatingPoint when type.Size == 8:
                return Array.ConvertAll(dataset.Read<double[]>(), v => (float)v);
            case H5DataTypeClass.FixedPoint:
            case H5DataTypeClass.Enumerated:
            case H5DataTypeClass.BitField:
                return Array.ConvertAll(ReadIntegers(dataset), v => (float)v);
            default:
                throw new NotSupportedException($"has HDF5 type class {type.Class} of {type.Size} bytes; expected float32 or float64");
        }
    }

    static bool[] ReadFlags(IH5Dataset dataset, string key)
    {
        var type = dataset.Type;
        return type.Class switch
        {
            H5DataTypeClass.FloatingPoint => FlagsOf(ReadFloats(dataset, key), v => v == 0f ? false : v == 1f ? true : null),
            H5DataTypeClass.FixedPoint or H5DataTypeClass.Enumerated or H5DataTypeClass.BitField =>
                FlagsOf(ReadIntegers(dataset), v => v == 0 ? false : v == 1 ? true : null),
            _ => throw new NotSupportedException($"has HDF5 type class {type.Class}; expected bool (numpy enum), an integer or a float type for flags"),
        };
    }

    /// <summary>
    /// Flags must be 0 or 1 (numpy bools, or 0.0/1.0 as floats): a 0.5 or a NaN read as "not zero" would end episodes
    /// the data never ended, silently.
    /// </summary>
    static bool[] FlagsOf<T>(T[] values, Func<T, bool?> flag)
    {
        var flags = new bool[values.Length];
        for (int i = 0; i < values.Length; i++)
            flags[i] = flag(values[i])
                ?? throw new NotSupportedException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"has the value {values[i]} at row {i}; flags must be 0 or 1"));
        return flags;
    }

    /// <summary>Integer-like data (numpy bool enums, uint8, int32, …) widened to long.</summary>
    static long[] ReadIntegers(IH5Dataset dataset)
    {
        var type = dataset.Type;
        bool signed = type.Class switch
        {
            H5DataTypeClass.FixedPoint => type.FixedPoint.IsSigned,
            H5DataTypeClass.Enumerated => type.Enumeration.BaseType.Class == H5DataTypeClass.FixedPoint && type.Enumeration.BaseType.FixedPoint.IsSigned,
            _ => false,
        };
        // Enumerations are read through their integer base type; PureHDF maps the raw values to same-size integers.
        return (type.Size, signed) switch
        {
            (1, true) => Array.ConvertAll(ReadRaw<sbyte>(dataset), v => (long)v),
            (1, false) => Array.ConvertAll(ReadRaw<byte>(dataset), v => (long)v),
            (2, true) => Array.ConvertAll(ReadRaw<short>(dataset), v => (long)v),
            (2, false) => Array.ConvertAll(ReadRaw<ushort>(dataset), v => (long)v),
            (4, true) => Array.ConvertAll(ReadRaw<int>(dataset), v => (long)v),
            (4, false) => Array.ConvertAll(ReadRaw<uint>(dataset), v => (long)v),
            (8, _) => ReadRaw<long>(dataset),
            _ => throw new NotSupportedException($"has an integer type of {type.Size} bytes, which is not supported"),
        };
    }

    static T[] ReadRaw<T>(IH5Dataset dataset) where T : unmanaged
    {
        if (dataset.Type.Class != H5DataTypeClass.Enumerated) return dataset.Read<T[]>();
        // PureHDF reads an enumeration into a C# enum of the same size; reinterpret its values.
        return typeof(T) == typeof(sbyte) || typeof(T) == typeof(byte)
            ? System.Runtime.InteropServices.MemoryMarshal.Cast<NumpyBool, T>(dataset.Read<NumpyBool[]>()).ToArray()
            : throw new NotSupportedException($"has an enumeration type of {dataset.Type.Size} bytes; only 1-byte enumerations (numpy bool) are supported");
    }

    /// <summary>
    /// Turns PureHDF's failure to decode a chunk into a message that says what to do. PureHDF 2.2.0 reports a missing
    /// filter as "Could not find filter '…' with ID '…'"; LZF (32000, h5py's own) and SZIP (4) are the ones met in
    /// practice.
    /// </summary>
    internal static string DescribeReadFailure(Exception ex)
    {
        var messages = new List<string>();
        for (Exception? e = ex; e is not null; e = e.InnerException) messages.Add(e.Message);
        string all = string.Join(" | ", messages);
        if (all.Contains($"ID '{LzfFilterId}'") || all.Contains("'lzf'", StringComparison.OrdinalIgnoreCase))
            return $"is compressed with the LZF filter (HDF5 filter {LzfFilterId}), which this reader does not support; re-save the file with gzip, e.g. in h5py: f.create_dataset(name, data=..., compression='gzip')";
        if (all.Contains($"ID '{SzipFilterId}'") || all.Contains("'szip'", StringComparison.OrdinalIgnoreCase))
            return $"is compressed with the SZIP filter (HDF5 filter {SzipFilterId}), which this reader does not support; re-save the file with gzip compression";
        // PureHDF says "Could not find filter '…'" or "The filter with id … is not supported" for a filter it lacks, and
        // "Filter pipeline failed." when a supported filter (gzip, shuffle …) meets bytes it cannot decode.
        if (all.Contains("Could not find filter", StringComparison.OrdinalIgnoreCase) || all.Contains("The filter with id", StringComparison.OrdinalIgnoreCase))
            return $"uses an HDF5 filter this reader does not support (supported: gzip/deflate, shuffle, fletcher32, scale-offset): {all}";
        if (all.Contains("filter", StringComparison.OrdinalIgnoreCase))
            return $"has a compressed chunk that could not be decoded: the file is corrupt (re-download or re-create it): {all}";
        return $"could not be read: {all}";
    }

    static DatasetMetadata ReadMetadata(NativeFile file, ValidationReport report)
    {
        string? algorithm = null;
        if (file.LinkExists("metadata/algorithm"))
        {
            // D4RL stores it as a scalar string dataset; an odd encoding there only costs the field.
            try { algorithm = file.Dataset("metadata/algorithm").Read<string>(); }
            catch (Exception ex) { report.Add(IssueSeverity.Warning, "metadata/algorithm", null, $"could not be read as a string: {ex.Message}"); }
        }
        return new DatasetMetadata
        {
            EnvironmentId = Attribute<string>(file, EnvironmentIdAttribute, report) as string,
            Level = Attribute<string>(file, LevelAttribute, report) as string,
            GeneratorVersion = Attribute<string>(file, GeneratorVersionAttribute, report) as string,
            BehaviourReturn = Attribute<double>(file, BehaviourReturnAttribute, report) as double?,
            Seed = Attribute<long>(file, SeedAttribute, report) as long?,
            Algorithm = algorithm,
            BehaviourPolicy = Attribute<string>(file, BehaviourPolicyAttribute, report) as string,
        };
    }

    /// <summary>
    /// A root attribute as a string, double or long, or null when absent. Numbers are read at their stored width
    /// (PureHDF does not widen: an int32 seed must be read as int) and converted. An attribute of another type is a
    /// warning, not a failure.
    /// </summary>
    static object? Attribute<T>(NativeFile file, string name, ValidationReport report)
    {
        if (!file.AttributeExists(name)) return null;
        try
        {
            var attribute = file.Attribute(name);
            var type = attribute.Type;
            if (typeof(T) == typeof(string)) return attribute.Read<string>();
            object? number = (type.Class, type.Size, type.Class == H5DataTypeClass.FixedPoint && type.FixedPoint.IsSigned) switch
            {
                (H5DataTypeClass.FloatingPoint, 4, _) => (double)attribute.Read<float>(),
                (H5DataTypeClass.FloatingPoint, 8, _) => attribute.Read<double>(),
                (H5DataTypeClass.FixedPoint, 1, true) => (long)attribute.Read<sbyte>(),
                (H5DataTypeClass.FixedPoint, 1, false) => (long)attribute.Read<byte>(),
                (H5DataTypeClass.FixedPoint, 2, true) => (long)attribute.Read<short>(),
                (H5DataTypeClass.FixedPoint, 2, false) => (long)attribute.Read<ushort>(),
                (H5DataTypeClass.FixedPoint, 4, true) => (long)attribute.Read<int>(),
                (H5DataTypeClass.FixedPoint, 4, false) => (long)attribute.Read<uint>(),
                (H5DataTypeClass.FixedPoint, 8, true) => attribute.Read<long>(),
                (H5DataTypeClass.FixedPoint, 8, false) => unchecked((long)attribute.Read<ulong>()),
                _ => null,
            };
            object? converted = (number, typeof(T)) switch
            {
                (double d, var t) when t == typeof(double) => d,
                (long l, var t) when t == typeof(double) => (double)l,
                (long l, var t) when t == typeof(long) => l,
                _ => null,
            };
            if (converted is null)
                report.Add(IssueSeverity.Warning, "@" + name, null, $"attribute of HDF5 type {type.Class} ({type.Size} bytes) is not a {(typeof(T) == typeof(long) ? "integer" : "number")}; ignored");
            return converted;
        }
        catch (Exception ex)
        {
            report.Add(IssueSeverity.Warning, "@" + name, null, $"attribute could not be read as {typeof(T).Name}: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Writes a dataset in D4RL's layout: float32 arrays and numpy-bool flags, gzip-compressed in chunks of whole
    /// rows, metadata as root attributes. Overwrites an existing file.
    /// </summary>
    public static void Write(TransitionDataset dataset, string path, D4rlWriteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new D4rlWriteOptions();
        if (options.ChunkRows < 1) throw new ArgumentOutOfRangeException(nameof(options), options.ChunkRows, "chunk rows must be at least 1");
        if (options.DeflateLevel is not (0 or 1 or 9 or -1))
            throw new ArgumentOutOfRangeException(nameof(options), options.DeflateLevel, "deflate level must be 0, 1, 9 or -1 (PureHDF's supported levels)");

        var file = new H5File
        {
            [ObservationsKey] = Chunked(dataset.Observations, dataset.RowCount, dataset.ObservationDim, options),
            [ActionsKey] = Chunked(dataset.Actions, dataset.RowCount, dataset.ActionDim, options),
            [RewardsKey] = Chunked(dataset.Rewards, dataset.RowCount, null, options),
            [TerminalsKey] = Chunked(ToNumpyBool(dataset.Terminals), dataset.RowCount, null, options),
        };
        if (dataset.Timeouts is not null) file[TimeoutsKey] = Chunked(ToNumpyBool(dataset.Timeouts), dataset.RowCount, null, options);
        if (dataset.NextObservations is not null && options.WriteNextObservations)
            file[NextObservationsKey] = Chunked(dataset.NextObservations, dataset.RowCount, dataset.ObservationDim, options);

        var m = dataset.Metadata;
        if (m.EnvironmentId is not null) file.Attributes[EnvironmentIdAttribute] = m.EnvironmentId;
        if (m.Level is not null) file.Attributes[LevelAttribute] = m.Level;
        if (m.BehaviourReturn is double r) file.Attributes[BehaviourReturnAttribute] = r;
        if (m.GeneratorVersion is not null) file.Attributes[GeneratorVersionAttribute] = m.GeneratorVersion;
        if (m.Seed is long seed) file.Attributes[SeedAttribute] = seed;
        if (m.BehaviourPolicy is not null) file.Attributes[BehaviourPolicyAttribute] = m.BehaviourPolicy;
        if (m.Algorithm is not null) file["metadata"] = new H5Group { ["algorithm"] = m.Algorithm };

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        file.Write(path);
    }

    static NumpyBool[] ToNumpyBool(bool[] flags) => Array.ConvertAll(flags, f => f ? NumpyBool.TRUE : NumpyBool.FALSE);

    static H5Dataset Chunked<T>(T[] values, int rows, int? cols, D4rlWriteOptions options)
    {
        ulong[] dims = cols is int c ? [(ulong)rows, (ulong)c] : [(ulong)rows];
        // HDF5 cannot chunk an empty dataset of fixed size; write it contiguous.
        if (rows == 0) return new H5Dataset(values, fileDims: dims);
        uint chunkRows = (uint)Math.Min(options.ChunkRows, rows);
        uint[] chunks = cols is int cc ? [chunkRows, (uint)cc] : [chunkRows];
        var creation = new H5DatasetCreation(Filters:
        [
            new H5Filter(DeflateFilter.Id, new Dictionary<string, object> { [DeflateFilter.COMPRESSION_LEVEL] = options.DeflateLevel }),
        ]);
        return new H5Dataset(values, chunks: chunks, fileDims: dims, datasetCreation: creation);
    }
}
