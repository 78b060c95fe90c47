using Xunit;
using Microsoft.ML.OnnxRuntime;
using O2RL.Inference.Onnx;

namespace O2RL.Inference.Tests;

/// <summary>The exported ONNX graph, run by ONNX Runtime, gives our actions (≤ 1e-5).</summary>
public sealed class OnnxExportTests
{
    /// <summary>Runs the model bytes on a batch with ONNX Runtime (one intra-op thread).</summary>
    internal static float[] RunOnnxRuntime(byte[] model, float[] observations, int rows, int obsDim)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var input = OrtValue.CreateTensorValueFromMemory(observations, [rows, obsDim]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [OnnxExporter.InputName], [input], [OnnxExporter.OutputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public static TheoryData<PolicyFamily, bool, bool> Cases => new()
    {
        { PolicyFamily.TanhGaussian, false, false },
        { PolicyFamily.Deterministic, false, true },
        { PolicyFamily.Gaussian, false, true },
        { PolicyFamily.TanhGaussian, true, true },
        { PolicyFamily.Deterministic, true, false },
        { PolicyFamily.Gaussian, true, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void OnnxRuntimeAgreesWithOurActions(PolicyFamily family, bool layerNorm, bool normaliseAndScale)
    {
        const int obsDim = 17, actionDim = 6, rows = 33;
        var actor = TestPolicies.Build(family, obsDim, actionDim, family == PolicyFamily.TanhGaussian ? [256, 256, 256] : [256, 256], seed: 12, layerNorm);
        var tensors = actor.Tensors.ToList();
        if (normaliseAndScale)
        {
            var random = new Random(4);
            tensors.Add(new TestTensor("obs_mean", [obsDim], [.. Enumerable.Range(0, obsDim).Select(_ => random.NextDouble() - 0.5)]));
            tensors.Add(new TestTensor("obs_std", [obsDim], [.. Enumerable.Range(0, obsDim).Select(_ => 0.2 + random.NextDouble())]));
            tensors.Add(new TestTensor("action_low", [actionDim], [.. Enumerable.Range(0, actionDim).Select(j => -1.0 - j)]));
            tensors.Add(new TestTensor("action_high", [actionDim], [.. Enumerable.Range(0, actionDim).Select(j => 0.5 + j)]));
        }
        var model = PolicyModel.Load(TestPolicies.Write(tensors, new Dictionary<string, string> { ["algorithm"] = "test", ["env_id"] = "Hopper-v4" }), "export");
        byte[] onnx = OnnxExporter.Export(model);

        float[] observations = TestPolicies.Observations(rows, obsDim, seed: 8);
        var ours = new float[rows * actionDim];
        model.ActBatch(observations, ours);
        float[] theirs = RunOnnxRuntime(onnx, observations, rows, obsDim);
        Assert.Equal(ours.Length, theirs.Length);
        for (int i = 0; i < ours.Length; i++)
            Assert.True(Math.Abs(ours[i] - theirs[i]) <= 1e-5, $"row {i / actionDim} action {i % actionDim}: ours {ours[i]} vs ONNX Runtime {theirs[i]}");
        Assert.True(ours.Max() - ours.Min() > 0.1, "actions do not vary, so the comparison would prove little");
    }

    [Fact]
    public void ExportedFileStatesItsOpsetAndProducer()
    {
        var model = PolicyModel.Load(TestPolicies.Write(TestPolicies.Build(PolicyFamily.Deterministic, 3, 1, [4], seed: 1).Tensors), "small");
        using var file = new TestPolicies.TempFile();
        OnnxExporter.Export(model, file.Path);
        using var session = new InferenceSession(file.Path);
        Assert.Equal("O2RL.Inference", session.ModelMetadata.ProducerName);
        Assert.Equal([-1, 3], session.InputMetadata[OnnxExporter.InputName].Dimensions);
        Assert.Equal([-1, 1], session.OutputMetadata[OnnxExporter.OutputName].Dimensions);
    }
}
