using System.Globalization;
using O2RL.Inference;

// o2rl-act POLICY [--stochastic SEED]
// Reads one observation per line from stdin (numbers separated by commas and/or whitespace) and prints the
// policy's action for it on stdout, one comma-separated line each. Errors name the line and exit with 1.

if (args.Length is not (1 or 3) || args[0] is "-h" or "--help" || (args.Length == 3 && args[1] != "--stochastic"))
{
    Console.Error.WriteLine("usage: o2rl-act POLICY.safetensors [--stochastic SEED] < observations > actions");
    return args.Length == 1 ? 0 : 2;
}

PolicyModel policy;
try
{
    policy = PolicyModel.Load(args[0]);
}
catch (Exception e) when (e is PolicyFormatException or IOException)
{
    Console.Error.WriteLine($"o2rl-act: {e.Message}");
    return 1;
}

// A bare PyTorch state_dict keeps neither: run as it is, it is rarely what its author trained (CORL normalises states
// and scales tanh by max_action). Said once on stderr; `o2rl export --normalize-from … --action-low …` bakes both in.
if (policy.Algorithm is null && (policy.ObservationMean is null || policy.ActionLow is null))
    Console.Error.WriteLine($"o2rl-act: note: {policy.Layout} has {(policy.ObservationMean is null ? "no observation normalisation (raw observations go in)" : "its normalisation")} and " +
        $"{(policy.ActionLow is null ? "no action box (actions are in [-1, 1])" : "an action box")}; give a file that has them (o2rl act/export take --normalize-from and --action-low/--action-high)");

bool stochastic = args.Length == 3;
ulong seed = 0;
if (stochastic && !ulong.TryParse(args[2], NumberStyles.None, CultureInfo.InvariantCulture, out seed))
{
    Console.Error.WriteLine($"o2rl-act: SEED must be a non-negative integer, got '{args[2]}'");
    return 2;
}

using var output = new StreamWriter(Console.OpenStandardOutput());
try
{
    // Flushed per line: a controller writing one observation and waiting for its action must not block.
    PolicyCsv.Act(policy, Console.In, output, stochastic, seed, flushEachRow: true);
}
catch (FormatException e)
{
    output.Flush();
    Console.Error.WriteLine($"o2rl-act: stdin {e.Message}");
    return 1;
}
return 0;
