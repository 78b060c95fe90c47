using O2RL.Cli.Commands;
using O2RL.Engine.Checkpoints;
using O2RL.Inference;
using Xunit;

namespace O2RL.Cli.Tests;

/// <summary>o2rl act and o2rl export on a small PyTorch-layout deterministic actor.</summary>
public sealed class DeployCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("o2rl-deploy-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string WritePolicy()
    {
        var random = new Random(1);
        float[] Values(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5))];
        string path = Path.Combine(folder, "actor.safetensors");
        SafetensorsFile.Write(path,
        [
            new NamedTensor("net.0.weight", [8, 3], Values(24)), new NamedTensor("net.0.bias", [8], Values(8)),
            new NamedTensor("net.2.weight", [2, 8], Values(16)), new NamedTensor("net.2.bias", [2], Values(2)),
        ]);
        return path;
    }

    [Fact]
    public void ActWritesOneActionRowPerObservation()
    {
        string policy = WritePolicy(), input = Path.Combine(folder, "obs.csv"), output = Path.Combine(folder, "actions.csv");
        File.WriteAllText(input, "a,b,c\n0.5,1,-1\n0 0 0\n");
        var error = new StringWriter();
        Assert.Equal(0, ActCommand.Run(["--policy", policy, "--input", input, "--output", output], TextWriter.Null, error));
        string[] lines = File.ReadAllLines(output);
        Assert.Equal(2, lines.Length);
        var model = PolicyModel.Load(policy);
        Assert.Equal(string.Join(",", model.Act([0.5f, 1f, -1f]).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))), lines[0]);
        Assert.Contains("2 action(s)", error.ToString());
    }

    [Fact]
    public void ActReportsTheBadRowAndLeavesNoOutput()
    {
        string policy = WritePolicy(), input = Path.Combine(folder, "obs.csv"), output = Path.Combine(folder, "actions.csv");
        File.WriteAllText(input, "0.5,1,-1\n0.5,1\n");
        var error = new StringWriter();
        Assert.Equal(1, ActCommand.Run(["--policy", policy, "--input", input, "--output", output], TextWriter.Null, error));
        Assert.Contains("line 2: 2 values but the policy expects 3", error.ToString());
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
        Assert.Throws<UsageException>(() => ActCommand.Run(["--policy", policy, "--input", input], TextWriter.Null, TextWriter.Null));
        Assert.Throws<UsageException>(() => ActCommand.Run(["--policy", policy, "--input", input, "--output", output, "--seed", "x", "--stochastic"], TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void ExportWritesAnOnnxFile()
    {
        string policy = WritePolicy(), onnx = Path.Combine(folder, "out", "actor.onnx");
        var output = new StringWriter();
        Assert.Equal(0, ExportCommand.Run(["--policy", policy, "--format", "onnx", "--out", onnx], output, TextWriter.Null));
        Assert.True(new FileInfo(onnx).Length > 100);
        Assert.Contains("opset 17", output.ToString());
        Assert.Throws<UsageException>(() => ExportCommand.Run(["--policy", policy, "--format", "tflite", "--out", onnx], TextWriter.Null, TextWriter.Null));
        File.WriteAllText(Path.Combine(folder, "junk.safetensors"), "not a safetensors file");
        var error = new StringWriter();
        Assert.Equal(1, ExportCommand.Run(["--policy", Path.Combine(folder, "junk.safetensors"), "--out", onnx], TextWriter.Null, error));
        Assert.Contains("header length", error.ToString());
    }
}
