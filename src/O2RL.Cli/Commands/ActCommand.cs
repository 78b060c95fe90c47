using System.Globalization;
using O2RL.Data;
using O2RL.Inference;

namespace O2RL.Cli.Commands;

/// <summary>
/// <c>o2rl act</c>: the actions of a trained policy (any of our checkpoints, or a CORL-layout PyTorch state_dict in
/// safetensors) for observations in a CSV file, one action row per observation row, through the deployment library.
/// </summary>
public static class ActCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var reader = new ArgumentReader(args, ["policy", "input", "output", "seed", .. LoadOptionNames], ["stochastic", "help"]);
        if (reader.Has("help"))
        {
            output.WriteLine("usage: o2rl act --policy FILE --input obs.csv --output actions.csv [--stochastic --seed N]");
            output.WriteLine("Writes one comma-separated action per observation row (values separated by commas or spaces; blank lines,");
            output.WriteLine("'#' comments and a header line are skipped). Deterministic (the evaluation action) unless --stochastic, which");
            output.WriteLine("samples from the policy with one stream seeded by --seed (default 0). '-' reads stdin / writes stdout.");
            output.WriteLine("Observations are normalised with the constants the policy file holds (our checkpoints). A PyTorch state_dict");
            output.WriteLine("holds none: give them with --obs-mean a,b,… --obs-std a,b,… (std as the divisor, ε included), or");
            output.WriteLine("--normalize-from DATASET.hdf5 (mean and std + 1e-3 of the dataset's Q-learning rows, time-limit ends dropped, as");
            output.WriteLine("our trainers and CORL's CQL, IQL and TD3+BC compute them). Either replaces the file's own constants. --action-low a,… --action-high a,… map the");
            output.WriteLine("actor's [-1, 1] onto the task's action box (our checkpoints record it when it is not [-1, 1]).");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        string policyPath = reader.Get("policy") ?? throw new UsageException("--policy FILE is required");
        string inputPath = reader.Get("input") ?? throw new UsageException("--input FILE is required ('-' for stdin)");
        string outputPath = reader.Get("output") ?? throw new UsageException("--output FILE is required ('-' for stdout)");
        if (!File.Exists(policyPath)) throw new UsageException($"policy file '{policyPath}' does not exist");
        if (inputPath != "-" && !File.Exists(inputPath)) throw new UsageException($"input file '{inputPath}' does not exist");
        // Checked here: otherwise the error names the temporary file written beside the output, which the user never gave.
        if (outputPath != "-" && Path.GetDirectoryName(Path.GetFullPath(outputPath)) is string outputFolder && !Directory.Exists(outputFolder))
            throw new UsageException($"the folder of --output '{outputPath}' does not exist");
        ulong seed = 0;
        if (reader.Get("seed") is string seedText && !ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out seed))
            throw new UsageException($"--seed must be a non-negative integer, got '{seedText}'");
        if (reader.Has("seed") && !reader.Has("stochastic")) throw new UsageException("--seed only applies with --stochastic");

        var options = LoadOptions(reader);
        PolicyModel policy;
        try
        {
            policy = PolicyModel.Load(policyPath, options);
        }
        catch (PolicyFormatException e)
        {
            error.WriteLine($"o2rl act: {e.Message}");
            return 1;
        }

        using var input = inputPath == "-" ? Console.In : new StreamReader(inputPath);
        string? temporary = outputPath == "-" ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outputPath))!, $".{Path.GetFileName(outputPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            int rows;
            // Write to a temporary file and rename at the end, so a bad row leaves no half-written output.
            using (var writer = temporary is null ? null : new StreamWriter(temporary))
                rows = PolicyCsv.Act(policy, input, writer ?? output, reader.Has("stochastic"), seed);
            // An empty file is almost always the wrong file; a stream on stdin may well be empty.
            if (rows == 0 && inputPath != "-")
                throw new FormatException($"holds no observations (one CSV row of {policy.ObsDim} numbers per observation)");
            if (temporary is not null)
            {
                File.Move(temporary, outputPath, overwrite: true);
                error.WriteLine($"o2rl act: {rows} action(s) from {policy.Layout} written to {outputPath}; {Describe(policy, options, reader)}");
            }
            return 0;
        }
        catch (FormatException e)
        {
            error.WriteLine($"o2rl act: {inputPath} {e.Message}");
            return 1;
        }
        finally
        {
            if (temporary is not null && File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>
    /// How observations go in and actions come out, for the closing line of act and export: a PyTorch state_dict
    /// without constants or action box is run as it is, which is rarely what its author trained (CORL normalises
    /// states and scales tanh by max_action), so that case says what to give.
    /// </summary>
    internal static string Describe(PolicyModel policy, PolicyLoadOptions options, ArgumentReader reader)
    {
        bool pytorch = policy.Algorithm is null;
        string observations = options.ObservationMean is not null ? $"observations normalised with {NormalizationSource(reader)}"
            : policy.ObservationMean is not null ? "observations normalised with the file's constants"
            : pytorch ? "raw observations: the file has no normalisation constants (CORL trains on normalised states: give --normalize-from DATASET.hdf5 or --obs-mean/--obs-std)"
            : "raw observations (the policy was trained on them)";
        string actions = policy.ActionLow is not null
            ? $"actions in [{string.Join(", ", policy.ActionLow.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)))}] … [{string.Join(", ", policy.ActionHigh!.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)))}]"
            : pytorch ? "actions in [-1, 1]: the file has no action box (a CORL actor multiplies by max_action: give --action-low/--action-high)"
            : "actions in [-1, 1]";
        return $"{observations}; {actions}";
    }

    /// <summary>The options <see cref="LoadOptions"/> reads (act and export take the same).</summary>
    internal static readonly string[] LoadOptionNames = ["obs-mean", "obs-std", "normalize-from", "action-low", "action-high"];

    /// <summary>
    /// The observation constants given on the command line (both or neither of --obs-mean/--obs-std, or
    /// --normalize-from) and the action box (both or neither of --action-low/--action-high).
    /// </summary>
    internal static PolicyLoadOptions LoadOptions(ArgumentReader reader)
    {
        var (mean, std) = ObservationConstants(reader);
        string? lowText = reader.Get("action-low"), highText = reader.Get("action-high");
        if ((lowText is null) != (highText is null)) throw new UsageException("--action-low and --action-high go together");
        float[]? low = lowText is null ? null : Floats(lowText, "--action-low"), high = highText is null ? null : Floats(highText, "--action-high");
        if (low is not null && (low.Length != high!.Length || low.Zip(high).Any(p => !(p.First < p.Second))))
            throw new UsageException("--action-low and --action-high need as many values each, every low under its high");
        return new PolicyLoadOptions { ObservationMean = mean, ObservationStd = std, ActionLow = low, ActionHigh = high };
    }

    /// <summary>The observation constants given on the command line (both or neither of --obs-mean/--obs-std, or --normalize-from; eval takes them too).</summary>
    internal static (float[]? Mean, float[]? Std) ObservationConstants(ArgumentReader reader)
    {
        string? meanText = reader.Get("obs-mean"), stdText = reader.Get("obs-std"), datasetPath = reader.Get("normalize-from");
        if ((meanText is null) != (stdText is null)) throw new UsageException("--obs-mean and --obs-std go together");
        if (datasetPath is not null && meanText is not null) throw new UsageException("--normalize-from and --obs-mean/--obs-std are alternatives; give one");
        if (datasetPath is not null)
        {
            if (!File.Exists(datasetPath)) throw new UsageException($"dataset '{datasetPath}' does not exist");
            // The trainers' (and CORL's) constants: over the Q-learning rows (time-limit ends dropped), std + 1e-3.
            var normalizer = StateNormalizer.ForQLearning(D4rlHdf5.Read(datasetPath).ToQLearning());
            return (normalizer.Mean, normalizer.Std);
        }
        if (meanText is null) return (null, null);
        float[] mean = Floats(meanText, "--obs-mean"), std = Floats(stdText!, "--obs-std");
        if (mean.Length != std.Length) throw new UsageException($"--obs-mean has {mean.Length} values but --obs-std has {std.Length}");
        if (std.Any(v => v <= 0f)) throw new UsageException("--obs-std values must be positive (they divide the observations)");
        return (mean, std);
    }

    static string NormalizationSource(ArgumentReader reader) =>
        reader.Get("normalize-from") is string dataset ? $"the mean and std + 1e-3 of {Path.GetFileName(dataset)}" : "--obs-mean/--obs-std";

    static float[] Floats(string text, string option)
    {
        var parts = text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                throw new UsageException($"{option}: '{parts[i]}' is not a finite number");
        if (values.Length == 0) throw new UsageException($"{option} needs comma-separated numbers, one per observation feature");
        return values;
    }
}
