using System.Text.Encodings.Web;
using System.Text.Json;

namespace O2RL.Algorithms.Runs;

/// <summary>
/// How our JSON files and <c>--json</c> outputs are written: indented, with text kept as it reads ("TD3+BC→O2SAC",
/// "+00:00", "0.1.0+abc1234") rather than \u-escaped. The default encoder escapes such characters in case the JSON
/// lands in HTML; ours is read by tools and people, and only the escapes JSON itself requires are kept.
/// </summary>
public static class JsonFiles
{
    /// <summary>For a <see cref="Utf8JsonWriter"/>.</summary>
    public static readonly JsonWriterOptions Writer = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Serializer options with the same output (no naming policy; copy and add one where needed).</summary>
    public static readonly JsonSerializerOptions Serializer = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
