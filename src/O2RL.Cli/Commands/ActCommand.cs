using System.Globalization;
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
        var reader = new ArgumentReader(args, ["policy", "input", "output", "seed"], ["stochastic", "help"]);
        if (reader.Has("help"))
        {
            output.WriteLine("usage: o2rl act --policy FILE --input obs.csv --output actions.csv [--stochastic --seed N]");
            output.WriteLine("Writes one comma-separated action per observation row (values separated by commas or spaces; blank lines,");
            output.WriteLine("'#' comments and a header line are skipped). Deterministic (the evaluation action) unless --stochastic, which");
            output.WriteLine("samples from the policy with one stream seeded by --seed (default 0). '-' reads stdin / writes stdout.");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        string policyPath = reader.Get("policy") ?? throw new UsageException("--policy FILE is required");
        string inputPath = reader.Get("input") ?? throw new UsageException("--input FILE is required ('-' for stdin)");
        string outputPath = reader.Get("output") ?? throw new UsageException("--output FILE is required ('-' for stdout)");
        if (!File.Exists(policyPath)) throw new UsageException($"policy file '{policyPath}' does not exist");
        if (inputPath != "-" && !File.Exists(inputPath)) throw new UsageException($"input file '{inputPath}' does not exist");
        ulong seed = 0;
        if (reader.Get("seed") is string seedText && !ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out seed))
            throw new UsageException($"--seed must be a non-negative integer, got '{seedText}'");
        if (reader.Has("seed") && !reader.Has("stochastic")) throw new UsageException("--seed only applies with --stochastic");

        PolicyModel policy;
        try
        {
            policy = PolicyModel.Load(policyPath);
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
            if (temporary is not null)
            {
                File.Move(temporary, outputPath, overwrite: true);
                error.WriteLine($"o2rl act: {rows} action(s) from {policy.Layout} written to {outputPath}");
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
}
