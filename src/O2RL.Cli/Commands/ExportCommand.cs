using O2RL.Inference;
using O2RL.Inference.Onnx;

namespace O2RL.Cli.Commands;

/// <summary><c>o2rl export</c>: a policy's deterministic action as a standard ONNX graph, for other runtimes.</summary>
public static class ExportCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var reader = new ArgumentReader(args, ["policy", "format", "out", .. ActCommand.LoadOptionNames], ["help"]);
        if (reader.Has("help"))
        {
            output.WriteLine("usage: o2rl export --policy FILE --format onnx --out actor.onnx [--normalize-from DATASET.hdf5 | --obs-mean a,b,… --obs-std a,b,…] [--action-low a,… --action-high a,…]");
            output.WriteLine($"Writes the deterministic action (observation normalisation, the MLP, the head and any action scaling) as an ONNX");
            output.WriteLine($"model (IR {OnnxExporter.IrVersion}, opset {OnnxExporter.Opset}) with input '{OnnxExporter.InputName}' [batch, obs] and output '{OnnxExporter.OutputName}' [batch, act].");
            output.WriteLine("A bare PyTorch state_dict keeps no normalisation or action box: give them as for o2rl act (see o2rl act --help).");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        string policyPath = reader.Get("policy") ?? throw new UsageException("--policy FILE is required");
        string format = reader.Get("format", "onnx")!;
        if (format != "onnx") throw new UsageException($"--format '{format}' is not supported (formats: onnx)");
        string outPath = reader.Get("out") ?? throw new UsageException("--out FILE is required");
        if (!File.Exists(policyPath)) throw new UsageException($"policy file '{policyPath}' does not exist");
        var options = ActCommand.LoadOptions(reader);
        try
        {
            var policy = PolicyModel.Load(policyPath, options);
            byte[] model = OnnxExporter.Export(policy);
            string? folder = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (folder is not null) Directory.CreateDirectory(folder);
            File.WriteAllBytes(outPath, model);
            output.WriteLine($"exported {policy.Layout} to {outPath} ({model.Length} bytes, ONNX opset {OnnxExporter.Opset}); {ActCommand.Describe(policy, options, reader)}");
            return 0;
        }
        catch (PolicyFormatException e)
        {
            error.WriteLine($"o2rl export: {e.Message}");
            return 1;
        }
    }
}
