using System.Globalization;

namespace O2RL.Inference;

/// <summary>
/// Acts on observations given as text, one observation per line: values separated by commas and/or whitespace,
/// invariant culture. Empty lines and lines starting with '#' are skipped; a first line without any number is taken
/// as a header. Writes one comma-separated action per observation, in order, with round-trip precision.
/// </summary>
public static class PolicyCsv
{
    static readonly char[] Separators = [',', ' ', '\t', ';'];

    /// <summary>
    /// Reads every observation from <paramref name="input"/> and writes its action to <paramref name="output"/>:
    /// deterministic, or sampled from one stream seeded with <paramref name="seed"/> (reproducible). Returns the
    /// number of observations. With <paramref name="flushEachRow"/> each action is flushed as soon as it is written, so a
    /// program that writes an observation and waits for the action (a control loop over a pipe) gets it at once.
    /// </summary>
    /// <exception cref="FormatException">A line is not a row of <see cref="PolicyModel.ObsDim"/> numbers; the message gives its line number.</exception>
    public static int Act(PolicyModel policy, TextReader input, TextWriter output, bool stochastic = false, ulong seed = 0, bool flushEachRow = false)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var observation = new float[policy.ObsDim];
        var action = new float[policy.ActionDim];
        var random = new PolicyRandom(seed);
        int lineNumber = 0, rows = 0;
        bool seenData = false;
        string? line;
        while ((line = input.ReadLine()) is not null)
        {
            lineNumber++;
            if (!TryParseRow(line, observation, out string? problem, out bool blank))
            {
                if (blank) continue;
                if (!seenData && problem == HeaderProblem) { seenData = true; continue; }
                throw new FormatException($"line {lineNumber}: {problem}");
            }
            seenData = true;
            if (stochastic) policy.Sample(observation, action, ref random);
            else policy.Act(observation, action);
            for (int j = 0; j < action.Length; j++)
            {
                if (j > 0) output.Write(',');
                output.Write(action[j].ToString("R", CultureInfo.InvariantCulture));
            }
            output.WriteLine();
            if (flushEachRow) output.Flush();
            rows++;
        }
        return rows;
    }

    const string HeaderProblem = "no numbers (a header?)";

    /// <summary>
    /// Parses one line into <paramref name="values"/> (exactly its length). False with a reason when it is not such a
    /// row; <paramref name="blank"/> is true for empty and comment lines.
    /// </summary>
    public static bool TryParseRow(string line, Span<float> values, out string? problem, out bool blank)
    {
        ArgumentNullException.ThrowIfNull(line);
        string trimmed = line.Trim();
        blank = trimmed.Length == 0 || trimmed[0] == '#';
        problem = null;
        if (blank) { problem = "empty"; return false; }
        var fields = trimmed.Split(Separators, StringSplitOptions.RemoveEmptyEntries);
        int numbers = 0, firstBad = -1;
        for (int i = 0; i < fields.Length; i++)
        {
            if (float.TryParse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
            {
                if (i < values.Length) values[i] = value;
                numbers++;
            }
            else if (firstBad < 0) firstBad = i;
        }
        if (numbers == 0) { problem = HeaderProblem; return false; }
        // "1,,3" is a missing value, not the two values the split above sees (a trailing comma is tolerated).
        if (EmptyField(trimmed) is int empty) { problem = $"value {empty} is empty"; return false; }
        if (firstBad >= 0) { problem = $"value {firstBad + 1} ('{fields[firstBad]}') is not a number"; return false; }
        if (fields.Length != values.Length)
        {
            problem = $"{fields.Length} values but the policy expects {values.Length} observation features";
            return false;
        }
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) { problem = $"value {i + 1} is {values[i].ToString(CultureInfo.InvariantCulture)}, not finite"; return false; }
        return true;
    }

    /// <summary>The 1-based position of the first empty comma- or semicolon-separated field, or null.</summary>
    static int? EmptyField(string line)
    {
        int field = 1, start = 0;
        for (int i = 0; i <= line.Length; i++)
        {
            if (i < line.Length && line[i] is not (',' or ';')) continue;
            bool last = i == line.Length;
            if (line.AsSpan(start, i - start).IsWhiteSpace() && !(last && start > 0)) return field;
            field++;
            start = i + 1;
        }
        return null;
    }
}
