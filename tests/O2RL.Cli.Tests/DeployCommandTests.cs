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
    public void ActIntoAMissingFolderNamesTheOutputNotATemporaryFile()
    {
        string policy = WritePolicy(), input = Path.Combine(folder, "obs.csv");
        File.WriteAllText(input, "0.1,0.2,0.3\n");
        var (code, _, error) = CliRunner.Run("act", "--policy", policy, "--input", input, "--output", Path.Combine(folder, "missing", "actions.csv"));
        Assert.Equal(2, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("missing", error);
        Assert.DoesNotContain(".tmp", error);
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
    public void ActNormalisesABareStateDictWithGivenOrDatasetConstants()
    {
        string policy = WritePolicy(), input = Path.Combine(folder, "obs.csv"), output = Path.Combine(folder, "actions.csv");
        File.WriteAllText(input, "0.5,1,-1\n2,0,0.25\n");
        string Act(params string[] extra)
        {
            var error = new StringWriter();
            Assert.Equal(0, ActCommand.Run(["--policy", policy, "--input", input, "--output", output, .. extra], TextWriter.Null, error));
            return File.ReadAllText(output) + "|" + error;
        }
        static string Row(float[] action) => string.Join(",", action.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));

        // Given constants: the actor sees (s − mean) / std.
        float[] mean = [0.25f, -1f, 0.5f], std = [2f, 0.5f, 4f];
        var model = PolicyModel.Load(policy);
        string given = Act("--obs-mean", "0.25,-1,0.5", "--obs-std", "2, 0.5, 4");
        float[] Normalised(float[] s, float[] m, float[] d) => [.. s.Select((v, j) => (v - m[j]) / d[j])];
        Assert.StartsWith(Row(model.Act(Normalised([0.5f, 1f, -1f], mean, std))) + "\n" + Row(model.Act(Normalised([2f, 0f, 0.25f], mean, std))), given);
        Assert.Contains("normalised with --obs-mean/--obs-std", given);
        // A bare state_dict with neither constants nor action box is run as it is, and the closing line says what to give.
        string bare = Act();
        Assert.Contains("raw observations: the file has no normalisation constants", bare);
        Assert.Contains("actions in [-1, 1]: the file has no action box (a CORL actor multiplies by max_action: give --action-low/--action-high)", bare);
        Assert.Contains("actions in [-2, 0] … [2, 1]", Act("--action-low", "-2,0", "--action-high", "2,1"));

        // From a dataset: the mean and std + 1e-3 of its Q-learning rows (time-limit ends dropped), as the trainers and
        // CORL compute them; before, every row counted, so a deployed policy acted on constants its run never used.
        string dataset = Path.Combine(folder, "data.hdf5");
        using (var env = O2RL.Algorithms.Training.PolicyEnvironment.Make("Pendulum-v1", O2RL.Data.StateNormalizer.Identity(3)))
            O2RL.Data.D4rlHdf5.Write(O2RL.Algorithms.Training.DatasetCollection.Collect(env, null, 300, seed: 4), dataset);
        var rows = O2RL.Data.D4rlHdf5.Read(dataset);
        var constants = O2RL.Data.StateNormalizer.ForQLearning(O2RL.Data.DatasetConversions.ToQLearning(rows));
        Assert.NotEqual(O2RL.Data.StateNormalizer.FromRows(rows.Observations, 3).Mean, constants.Mean);
        string fromDataset = Act("--normalize-from", dataset);
        Assert.StartsWith(Row(model.Act(Normalised([0.5f, 1f, -1f], constants.Mean, constants.Std))), fromDataset);
        Assert.Contains("the mean and std + 1e-3 of data.hdf5", fromDataset);

        // Misuse: one half of the pair, both sources, a wrong count, a zero std.
        Assert.Throws<UsageException>(() => ActCommand.Run(["--policy", policy, "--input", input, "--output", output, "--obs-mean", "0,0,0"], TextWriter.Null, TextWriter.Null));
        Assert.Throws<UsageException>(() => ActCommand.Run(["--policy", policy, "--input", input, "--output", output, "--obs-mean", "0,0,0", "--obs-std", "1,1,1", "--normalize-from", dataset], TextWriter.Null, TextWriter.Null));
        Assert.Throws<UsageException>(() => ActCommand.Run(["--policy", policy, "--input", input, "--output", output, "--obs-mean", "0,0,0", "--obs-std", "1,0,1"], TextWriter.Null, TextWriter.Null));
        var wrongCount = new StringWriter();
        Assert.Equal(1, ActCommand.Run(["--policy", policy, "--input", input, "--output", output, "--obs-mean", "0,0", "--obs-std", "1,1"], TextWriter.Null, wrongCount));
        Assert.Contains("obs_mean has 2 and obs_std 2 values but the actor takes 3", wrongCount.ToString());
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

    [Theory]
    [InlineData("sac", "total_steps=300", "warmup_steps=100", "eval_every=300", "eval_episodes=1")]
    [InlineData("td3", "total_steps=300", "warmup_steps=100", "evaluate_every=300", "evaluation_episodes=1")]
    [InlineData("ppo", "total_steps=256", "rollout_length=128", "evaluate_every=256", "evaluation_episodes=1")]
    public void APendulumCheckpointActsInTheTorqueBox(string algorithm, params string[] settings)
    {
        // The actor acts in [−1, 1] and training rescales onto Pendulum's [−2, 2]; the deployed policy must do the same.
        string run = Path.Combine(folder, algorithm);
        var (code, _, error) = CliRunner.Run(["online", "--algo", algorithm, "--env", "Pendulum-v1", "--out", run, "--quiet",
            .. settings.SelectMany(s => new[] { "--set", s })]);
        Assert.True(code == 0, error);
        var model = PolicyModel.Load(Path.Combine(run, algorithm + ".safetensors"));
        Assert.Equal([-2f], model.ActionLow!);
        Assert.Equal([2f], model.ActionHigh!);
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

    [Fact]
    public void ActMapsOntoAGivenActionBox()
    {
        // For a checkpoint made before checkpoints recorded the box, or a PyTorch policy of a task whose box is not [−1, 1].
        string policy = WritePolicy(), input = Path.Combine(folder, "obs.csv"), output = Path.Combine(folder, "actions.csv");
        File.WriteAllText(input, "0.5,1,-1\n");
        Assert.Equal(0, ActCommand.Run(["--policy", policy, "--input", input, "--output", output, "--action-low", "-2,-1", "--action-high", "2,3"],
            TextWriter.Null, TextWriter.Null));
        float[] unit = PolicyModel.Load(policy).Act([0.5f, 1f, -1f]);
        float[] expected = [-2f + (unit[0] + 1f) * 2f, -1f + (unit[1] + 1f) * 2f];
        float[] written = [.. File.ReadAllText(output).Trim().Split(',').Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture))];
        Assert.Equal(expected, written);
        Assert.Throws<UsageException>(() => ActCommand.Run(["--policy", policy, "--input", input, "--output", output, "--action-low", "-2,-1"], TextWriter.Null, TextWriter.Null));
        Assert.Throws<UsageException>(() => ActCommand.Run(["--policy", policy, "--input", input, "--output", output, "--action-low", "1,1", "--action-high", "0,2"], TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void ExportTakesTheNormalisationOfABareStateDict()
    {
        // Before: export had no --obs-mean/--obs-std/--normalize-from, so a bare state_dict exported without normalisation.
        string policy = WritePolicy(), plain = Path.Combine(folder, "plain.onnx"), normalised = Path.Combine(folder, "normalised.onnx");
        Assert.Equal(0, ExportCommand.Run(["--policy", policy, "--out", plain], TextWriter.Null, TextWriter.Null));
        Assert.Equal(0, ExportCommand.Run(["--policy", policy, "--out", normalised, "--obs-mean", "0.5,-1,2", "--obs-std", "2,0.5,4"], TextWriter.Null, TextWriter.Null));
        var options = new PolicyLoadOptions { ObservationMean = [0.5f, -1f, 2f], ObservationStd = [2f, 0.5f, 4f] };
        Assert.Equal(O2RL.Inference.Onnx.OnnxExporter.Export(PolicyModel.Load(policy, options)), File.ReadAllBytes(normalised));
        Assert.NotEqual(File.ReadAllBytes(plain), File.ReadAllBytes(normalised));
        Assert.Throws<UsageException>(() => ExportCommand.Run(["--policy", policy, "--out", plain, "--obs-mean", "1,2,3"], TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void EvalScoresAPyTorchStateDictWithTheConstantsItWasTrainedWith()
    {
        // Before: eval refused any file without our metadata. A TD3+BC run's actor, saved as CORL would (bare names,
        // no constants), evaluates exactly as the run's own checkpoint when given the dataset it was trained on.
        string dataset = O2RL.Algorithms.Training.ShippedDatasets.Find("Pendulum-v1", "medium")!;
        string run = Path.Combine(folder, "td3bc");
        var trained = CliRunner.Run("offline", "--algo", "td3bc", "--env", "Pendulum-v1", "--dataset", dataset, "--out", run, "--quiet",
            "--set", "max_steps=100", "--set", "batch_size=32", "--set", "actor_hidden=[16]", "--set", "critic_hidden=[16]", "--set", "evaluate_every=0");
        Assert.True(trained.Code == 0, trained.Error);
        string ours = Path.Combine(run, "td3_bc.safetensors"), pytorch = Path.Combine(folder, "actor.safetensors");
        SafetensorsFile.Write(pytorch, [.. SafetensorsFile.Read(ours).Tensors.Values.Where(t => t.Name.StartsWith("actor.net.", StringComparison.Ordinal))
            .Select(t => t with { Name = t.Name["actor.".Length..] })]);

        string Returns((int Code, string Output, string Error) result)
        {
            Assert.True(result.Code == 0, result.Error);
            return System.Text.Json.JsonDocument.Parse(result.Output).RootElement.GetProperty("returns").GetRawText();
        }
        string expected = Returns(CliRunner.Run("eval", "--policy", ours, "--episodes", "2", "--json"));
        Assert.Equal(expected, Returns(CliRunner.Run("eval", "--policy", pytorch, "--env", "Pendulum-v1", "--episodes", "2", "--json", "--normalize-from", dataset)));

        // Without constants it is refused naming the way; our checkpoints refuse constants given on the command line.
        var refused = CliRunner.Run("eval", "--policy", pytorch, "--env", "Pendulum-v1", "--episodes", "1");
        Assert.Equal(2, refused.Code);
        Assert.Contains("keeps no observation normalisation", refused.Error);
        Assert.Equal(2, CliRunner.Run("eval", "--policy", ours, "--episodes", "1", "--normalize-from", dataset).Code);
    }
}
