using System.Globalization;
using System.Reflection;
using System.Text.Json;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;
using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.Configs;

/// <summary>
/// Resolves an algorithm config: the record's defaults (the paper's), then the shipped per-task file
/// <c>configs/&lt;algorithm&gt;/&lt;env&gt;/&lt;dataset&gt;.yaml</c> if one exists, then a user file (<c>--config</c>),
/// then <c>key=value</c> overrides (<c>--set</c>). Keys are snake_case (<c>actor_lr</c> ↔ ActorLr). Unknown
/// keys and unparsable values fail with the key, the value and the known keys.
/// </summary>
public static class ConfigLoader
{
    static readonly IDeserializer Yaml = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();

    /// <summary>The folder holding the shipped per-task configs (beside the assembly).</summary>
    public static string ShippedConfigRoot => Path.Combine(AppContext.BaseDirectory, "configs");

    /// <summary>
    /// Path of the shipped per-task file: configs/&lt;algorithm&gt;/&lt;env&gt;/&lt;dataset&gt;.yaml, else the environment's
    /// default.yaml (settings shared by every dataset of that environment, also used when the dataset is not known),
    /// else null.
    /// </summary>
    public static string? ShippedConfigPath(string algorithm, string environment, string? dataset)
    {
        string folder = Path.Combine(ShippedConfigRoot, algorithm.ToLowerInvariant(), Slug(environment));
        string path = Path.Combine(folder, Slug(dataset ?? "default") + ".yaml");
        if (File.Exists(path)) return path;
        string fallback = Path.Combine(folder, "default.yaml");
        return File.Exists(fallback) ? fallback : null;
    }

    /// <summary>
    /// The dataset levels with a shipped file of their own (not default.yaml) for this environment, over every
    /// algorithm: what a run without a known level would miss.
    /// </summary>
    public static IReadOnlyList<string> ShippedLevels(string environment)
    {
        if (!Directory.Exists(ShippedConfigRoot)) return [];
        return [.. Directory.EnumerateDirectories(ShippedConfigRoot)
            .Select(algorithmFolder => Path.Combine(algorithmFolder, Slug(environment)))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*.yaml"))
            .Select(Path.GetFileNameWithoutExtension)
            .OfType<string>()
            .Where(level => level is not ("default" or "online"))
            .Distinct().Order(StringComparer.Ordinal)];
    }

    /// <summary>Applies the layers in order and returns the resolved config.</summary>
    public static T Resolve<T>(T defaults, string? shippedFile, string? userFile, IEnumerable<string> overrides) where T : class
    {
        var config = defaults;
        if (shippedFile is not null) config = ApplyYaml(config, shippedFile);
        if (userFile is not null)
        {
            if (!File.Exists(userFile)) throw new FileNotFoundException($"config file '{userFile}' does not exist", userFile);
            config = ApplyYaml(config, userFile);
        }
        foreach (string assignment in overrides)
        {
            int eq = assignment.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"override '{assignment}' is not key=value");
            config = Set(config, assignment[..eq].Trim(), assignment[(eq + 1)..].Trim(), "--set");
        }
        return config;
    }

    /// <summary>Applies the scalar keys of a YAML mapping file.</summary>
    public static T ApplyYaml<T>(T config, string path) where T : class
    {
        Dictionary<string, object?>? map;
        try
        {
            using var reader = new StreamReader(path);
            map = Yaml.Deserialize<Dictionary<string, object?>>(reader);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new InvalidDataException($"config '{path}' is not valid YAML: {ex.Message}", ex);
        }
        if (map is null) return config;
        foreach (var (key, value) in map)
            config = Set(config, key, value switch { null => "", List<object> list => string.Join(",", list), _ => Convert.ToString(value, CultureInfo.InvariantCulture)! }, path);
        return config;
    }

    /// <summary>Returns a copy of the record with one property (by snake_case key) set from text.</summary>
    public static T Set<T>(T config, string key, string text, string source) where T : class
    {
        var property = FindProperty(typeof(T), key)
            ?? throw new ArgumentException($"{source}: unknown key '{key}' for {typeof(T).Name}{RunLengthHint(typeof(T), key)}; known: {string.Join(", ", Keys(typeof(T)))}");
        object value = Parse(property.PropertyType, text, key, source);
        // Records are immutable: clone through the compiler-generated copy constructor, then set the init-only property.
        var clone = (T)typeof(T).GetMethod("<Clone>$")!.Invoke(config, null)!;
        property.SetValue(clone, value);
        return clone;
    }

    /// <summary>The snake_case keys of a config type.</summary>
    public static IEnumerable<string> Keys(Type type) => WritableProperties(type).Select(p => SnakeCase(p.Name));

    /// <summary>The resolved config as indented JSON with snake_case keys (saved in every run folder).</summary>
    public static string ToJson<T>(T config) where T : class
    {
        var map = new SortedDictionary<string, object?>();
        // Enums by their snake_case name, as a YAML file or --set spells them ("dynamic", not 1).
        foreach (var p in WritableProperties(typeof(T)))
        {
            object? value = p.GetValue(config);
            map[SnakeCase(p.Name)] = value is Enum choice ? SnakeCase(choice.ToString()) : value;
        }
        return JsonSerializer.Serialize(map, JsonFiles.Serializer);
    }

    /// <summary>PascalCase → snake_case.</summary>
    public static string SnakeCase(string name)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]))) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    static string Slug(string name) => name.ToLowerInvariant().Replace(' ', '-');

    static IEnumerable<PropertyInfo> WritableProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.Name != "EqualityContract");

    static PropertyInfo? FindProperty(Type type, string key) =>
        FindExactly(type, key) ?? (Synonyms.TryGetValue(key.ToLowerInvariant(), out var synonym) ? FindExactly(type, synonym) : null);

    /// <summary>
    /// The keys that set how long a run is, which each algorithm names after its release: offline gradient steps
    /// are CQL's steps and IQL's and TD3+BC's max_steps; online environment steps are SAC's, TD3's, PPO's and
    /// O2PPO's total_steps and O2SAC's and O2TD3's online_steps (after stages A and B). Within each pair either
    /// spelling works (<see cref="Synonyms"/>); across pairs the meaning differs, so a key of the other pair is
    /// refused with this algorithm's own key named.
    /// </summary>
    static readonly string[] RunLengthKeys = ["steps", "max_steps", "total_steps", "online_steps"];

    static string RunLengthHint(Type type, string key)
    {
        if (!RunLengthKeys.Contains(key.ToLowerInvariant())) return "";
        string? own = RunLengthKeys.FirstOrDefault(candidate => FindExactly(type, candidate) is not null);
        if (own is null) return "";
        string unit = own is "steps" or "max_steps" ? "gradient steps" : "environment steps";
        return $" (its run length is '{own}', {unit})";
    }

    static PropertyInfo? FindExactly(Type type, string key) =>
        WritableProperties(type).FirstOrDefault(p => SnakeCase(p.Name) == key.ToLowerInvariant() || p.Name == key);

    /// <summary>
    /// Keys some configs spell one way and others the other (SAC, CQL and O2SAC follow their reference code's
    /// eval_*; TD3, IQL, TD3+BC, PPO and the other O2 variants evaluate_* / evaluation_*; the run lengths of
    /// <see cref="RunLengthKeys"/>): either spelling works for every algorithm, so one command line (one
    /// <c>o2rl sweep offline --algo cql,iql --set steps=…</c>) serves them all. No config has both keys of a pair.
    /// </summary>
    static readonly Dictionary<string, string> Synonyms = new()
    {
        ["eval_every"] = "evaluate_every",
        ["evaluate_every"] = "eval_every",
        ["eval_episodes"] = "evaluation_episodes",
        ["evaluation_episodes"] = "eval_episodes",
        ["steps"] = "max_steps",
        ["max_steps"] = "steps",
        ["total_steps"] = "online_steps",
        ["online_steps"] = "total_steps",
    };

    static object Parse(Type type, string text, string key, string source)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
            return text is "" or "null" or "none" ? null! : Parse(underlying, text, key, source);
        try
        {
            if (type == typeof(string)) return text;
            if (type == typeof(bool)) return text.ToLowerInvariant() switch
            {
                "true" or "1" or "yes" or "on" => true,
                "false" or "0" or "no" or "off" => false,
                _ => throw new FormatException(),
            };
            if (type == typeof(int)) return int.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            // No key means anything by NaN or ±∞ (and a long would silently take 0 or its limit from them): rejected here.
            if (type == typeof(long)) return (long)Finite(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
            if (type == typeof(float)) return (float)Finite(float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
            if (type == typeof(double)) return Finite(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
            if (type.IsEnum) return Enum.Parse(type, text.Replace("_", ""), ignoreCase: true);
            if (type == typeof(int[]))
                return text.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
        {
            throw new ArgumentException($"{source}: '{key}' expects {Describe(type)}, got '{text}'", ex);
        }
        throw new ArgumentException($"{source}: '{key}' has a type ({type.Name}) that configs cannot set");
    }

    static double Finite(double value) => double.IsFinite(value) ? value : throw new FormatException();

    static string Describe(Type type) =>
        type.IsEnum ? "one of " + string.Join(", ", Enum.GetNames(type).Select(n => SnakeCase(n))) : type == typeof(int[]) ? "a list of integers"
        : type == typeof(float) || type == typeof(double) ? "a finite number" : "a " + type.Name.ToLowerInvariant();
}
