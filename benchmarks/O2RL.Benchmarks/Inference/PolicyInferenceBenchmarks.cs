using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using O2RL.Engine.Checkpoints;
using O2RL.Inference;
using O2RL.Inference.Onnx;

namespace O2RL.Benchmarks.Inference;

/// <summary>
/// Deployment latency and throughput of a trained actor (obs 17, act 6, Hopper-sized): one observation, and a batch of
/// 256, through O2RL.Inference's SIMD forward pass and through ONNX Runtime (one intra-op thread, sequential) on the
/// graph our exporter writes for the same weights. Both run on one core. Actors: TD3+BC's deterministic 2×256 and
/// CQL/SAC's tanh-Gaussian 3×256 (random weights; speed does not depend on their values).
/// </summary>
[MemoryDiagnoser, MinColumn, MedianColumn]
public class PolicyInferenceBenchmarks
{
    const int ObsDim = 17, ActionDim = 6, Batch = 256;

    PolicyModel model = null!;
    InferenceSession session = null!;
    RunOptions runOptions = null!;
    OrtValue singleInput = null!, singleOutput = null!, batchInput = null!, batchOutput = null!;
    readonly string[] inputNames = [OnnxExporter.InputName], outputNames = [OnnxExporter.OutputName];
    readonly float[] observation = new float[ObsDim], action = new float[ActionDim];
    readonly float[] observations = new float[Batch * ObsDim], actions = new float[Batch * ActionDim];
    readonly float[] ortAction = new float[ActionDim], ortActions = new float[Batch * ActionDim];

    /// <summary>"td3_2x256" (deterministic, 2 hidden layers) or "sac_3x256" (tanh-Gaussian, 3 hidden layers).</summary>
    [Params("td3_2x256", "sac_3x256")]
    public string Actor { get; set; } = "td3_2x256";

    [GlobalSetup]
    public void Setup()
    {
        bool tanhGaussian = Actor.StartsWith("sac", StringComparison.Ordinal);
        int hiddenLayers = tanhGaussian ? 3 : 2, outDim = tanhGaussian ? 2 * ActionDim : ActionDim;
        string body = tanhGaussian ? "base_network" : "net";
        var random = new Random(1);
        float[] Values(int n, double scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((2 * random.NextDouble() - 1) * scale))];
        var tensors = new List<NamedTensor>();
        int inDim = ObsDim;
        for (int layer = 0; layer <= hiddenLayers; layer++)
        {
            int width = layer == hiddenLayers ? outDim : 256;
            tensors.Add(new NamedTensor($"{body}.{2 * layer}.weight", [width, inDim], Values(width * inDim, 1 / Math.Sqrt(inDim))));
            tensors.Add(new NamedTensor($"{body}.{2 * layer}.bias", [width], Values(width, 0.1)));
            inDim = width;
        }
        if (tanhGaussian)
        {
            tensors.Add(new NamedTensor("log_std_multiplier.constant", [1], [1f]));
            tensors.Add(new NamedTensor("log_std_offset.constant", [1], [-1f]));
        }
        tensors.Add(new NamedTensor("obs_mean", [ObsDim], Values(ObsDim, 0.5)));
        tensors.Add(new NamedTensor("obs_std", [ObsDim], [.. Values(ObsDim, 0.5).Select(v => 1 + v)]));
        var stream = new MemoryStream();
        SafetensorsFile.Write(stream, tensors);
        model = PolicyModel.Load(stream.ToArray(), Actor);
        Values(ObsDim, 2).CopyTo(observation, 0);
        Values(Batch * ObsDim, 2).CopyTo(observations, 0);

        var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        session = new InferenceSession(OnnxExporter.Export(model), options);
        runOptions = new RunOptions();
        singleInput = OrtValue.CreateTensorValueFromMemory(observation, [1, ObsDim]);
        singleOutput = OrtValue.CreateTensorValueFromMemory(ortAction, [1, ActionDim]);
        batchInput = OrtValue.CreateTensorValueFromMemory(observations, [Batch, ObsDim]);
        batchOutput = OrtValue.CreateTensorValueFromMemory(ortActions, [Batch, ActionDim]);

        // The two must agree before their speeds are worth comparing.
        model.ActBatch(observations, actions);
        session.Run(runOptions, inputNames, [batchInput], outputNames, [batchOutput]);
        for (int i = 0; i < actions.Length; i++)
            if (Math.Abs(actions[i] - ortActions[i]) > 1e-4f)
                throw new InvalidOperationException($"ONNX Runtime and O2RL.Inference disagree at {i}: {ortActions[i]} vs {actions[i]}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        singleInput.Dispose(); singleOutput.Dispose(); batchInput.Dispose(); batchOutput.Dispose();
        runOptions.Dispose();
        session.Dispose();
    }

    [Benchmark(Description = "O2RL.Inference, 1 observation")]
    public float OursSingle()
    {
        model.Act(observation, action);
        return action[0];
    }

    [Benchmark(Description = "ONNX Runtime, 1 observation")]
    public float OnnxRuntimeSingle()
    {
        session.Run(runOptions, inputNames, [singleInput], outputNames, [singleOutput]);
        return ortAction[0];
    }

    [Benchmark(Description = "O2RL.Inference, batch 256")]
    public float OursBatch()
    {
        model.ActBatch(observations, actions);
        return actions[0];
    }

    [Benchmark(Description = "ONNX Runtime, batch 256")]
    public float OnnxRuntimeBatch()
    {
        session.Run(runOptions, inputNames, [batchInput], outputNames, [batchOutput]);
        return ortActions[0];
    }
}
