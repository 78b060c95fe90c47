using Xunit;
using System.Globalization;
using O2RL.Algorithms.FineTuning.O2Ppo;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;

namespace O2RL.Inference.Tests;

/// <summary>Checkpoints written with the training-time actors act the same through the deployment API (≤ 1e-6).</summary>
public sealed class CheckpointParityTests
{
    const int ObsDim = 11, ActionDim = 3;

    static StateNormalizer Normalizer()
    {
        var random = new Random(3);
        float[] mean = [.. Enumerable.Range(0, ObsDim).Select(_ => (float)(random.NextDouble() - 0.5))];
        float[] std = [.. Enumerable.Range(0, ObsDim).Select(_ => (float)(0.3 + random.NextDouble()))];
        return new StateNormalizer(mean, std);
    }

    static Dictionary<string, string> Metadata(string algorithm) => new()
    {
        ["algorithm"] = algorithm,
        ["env_id"] = "Hopper-v2",
        ["obs_dim"] = ObsDim.ToString(CultureInfo.InvariantCulture),
        ["act_dim"] = ActionDim.ToString(CultureInfo.InvariantCulture),
    };

    static string Join(float[] values) => string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    /// <summary>Scales one weight so the actor's outputs cover tanh's range (fresh initialisations give tiny outputs).</summary>
    static List<NamedTensor> Spread(IEnumerable<NamedTensor> tensors, string name, float factor) =>
        [.. tensors.Select(t => t.Name == name ? t with { Data = [.. t.Data.Select(v => v * factor)] } : t)];

    /// <summary>Writes the checkpoint of one family the way its trainer does.</summary>
    static void WriteCheckpoint(Backend backend, string algorithm, string path)
    {
        var normalizer = Normalizer();
        switch (algorithm)
        {
            case CqlRun.Algorithm or SacRun.Algorithm:
            {
                // SAC/CQL keep the normaliser in the metadata only (SacCheckpoint).
                var actor = new TanhGaussianActor(backend, ObsDim, ActionDim, seed: 11);
                var metadata = Metadata(algorithm);
                metadata["obs_mean"] = Join(normalizer.Mean);
                metadata["obs_std"] = Join(normalizer.Std);
                SafetensorsFile.Write(path, Spread(actor.Parameters.ToNamedTensors("actor"), "actor.base_network.6.weight", 150f), metadata);
                break;
            }
            case Td3BcRun.AlgorithmName or Td3Run.AlgorithmName:
            {
                // TD3 keeps it as tensors and in the metadata (Td3Checkpoint).
                var actor = new DeterministicActor(backend, ObsDim, ActionDim, seed: 12);
                var metadata = Metadata(algorithm);
                metadata["obs_mean"] = Join(normalizer.Mean);
                metadata["obs_std"] = Join(normalizer.Std);
                SafetensorsFile.Write(path, [.. actor.Parameters.ToNamedTensors("actor"), .. GaussianActorCheckpoint.NormalizerTensors(normalizer)], metadata);
                break;
            }
            default:
            {
                // IQL/PPO keep it as tensors (GaussianActorCheckpoint).
                var actor = new GaussianActor(backend, ObsDim, ActionDim, seed: 13, minLogStd: -20f);
                var tensors = actor.Parameters.ToNamedTensors("actor").Select(t => t.Name == "actor.log_std" ? t with { Data = [-0.3f, 0.1f, -1.2f] } : t);
                SafetensorsFile.Write(path, [.. tensors, .. GaussianActorCheckpoint.NormalizerTensors(normalizer)], GaussianActorCheckpoint.Metadata(algorithm, "Hopper-v2", ObsDim, ActionDim, "{}"));
                break;
            }
        }
    }

    [Theory]
    [InlineData(CqlRun.Algorithm, PolicyFamily.TanhGaussian)]
    [InlineData(SacRun.Algorithm, PolicyFamily.TanhGaussian)]
    [InlineData(Td3BcRun.AlgorithmName, PolicyFamily.Deterministic)]
    [InlineData(IqlRun.Algorithm, PolicyFamily.Gaussian)]
    [InlineData(PpoRun.Algorithm, PolicyFamily.Gaussian)]
    [InlineData(O2PpoRun.Algorithm, PolicyFamily.Gaussian)]
    public void DeterministicActionsMatchTheTrainingTimeActor(string algorithm, PolicyFamily family)
    {
        using var backend = new CpuBackend(1);
        using var file = new TestPolicies.TempFile();
        WriteCheckpoint(backend, algorithm, file.Path);

        var training = PolicyCheckpoints.Load(backend, file.Path);
        var model = PolicyModel.Load(file.Path);
        Assert.Equal(family, model.Family);
        Assert.Equal(ObsDim, model.ObsDim);
        Assert.Equal(ActionDim, model.ActionDim);
        Assert.Equal(algorithm, model.Algorithm);
        Assert.Equal("Hopper-v2", model.EnvironmentId);
        Assert.NotNull(model.ObservationMean);
        // O2PPO fine-tunes with PPO's clamp (O2PpoRun loads its actor with Gaussian.PpoMinLogStd).
        Assert.Equal(algorithm is PpoRun.Algorithm or O2PpoRun.Algorithm ? -10f : -20f, model.MinLogStd);

        const int rows = 23;
        float[] observations = TestPolicies.Observations(rows, ObsDim, seed: 5);
        var batch = new float[rows * ActionDim];
        model.ActBatch(observations, batch);
        var single = new float[ActionDim];
        var expected = new float[ActionDim];
        double largest = 0, spread = 0;
        for (int r = 0; r < rows; r++)
        {
            float[] normalized = observations.AsSpan(r * ObsDim, ObsDim).ToArray();
            training.Normalizer!.NormalizeInPlace(normalized);
            training.Policy.Act(normalized, expected, deterministic: true);
            model.Act(observations.AsSpan(r * ObsDim, ObsDim), single);
            for (int j = 0; j < ActionDim; j++)
            {
                Assert.True(Math.Abs(single[j] - expected[j]) <= 1e-6, $"{algorithm} row {r} action {j}: single {single[j]} vs training {expected[j]}");
                Assert.True(Math.Abs(batch[r * ActionDim + j] - expected[j]) <= 1e-6, $"{algorithm} row {r} action {j}: batch {batch[r * ActionDim + j]} vs training {expected[j]}");
                largest = Math.Max(largest, Math.Abs(expected[j]));
                spread += Math.Abs(expected[j] - expected[0]);
            }
        }
        // The comparison means something only if the actions are not all (near) zero or saturated alike.
        Assert.True(largest > 0.05, $"actions are all near zero (largest {largest})");
        Assert.True(spread > 0.05, "actions do not vary");
    }

    [Fact]
    public void TrainingCheckpointWithoutNormalizerActsOnRawObservations()
    {
        using var backend = new CpuBackend(1);
        using var file = new TestPolicies.TempFile();
        var actor = new DeterministicActor(backend, ObsDim, ActionDim, seed: 4, hiddenDims: [32, 16]);
        SafetensorsFile.Write(file.Path, [.. actor.Parameters.ToNamedTensors("actor")], Metadata(Td3Run.AlgorithmName));
        var training = PolicyCheckpoints.Load(backend, file.Path);
        Assert.Null(training.Normalizer);
        var model = PolicyModel.Load(file.Path);
        Assert.Null(model.ObservationMean);
        Assert.Equal([32, 16], model.HiddenWidths);
        float[] observation = TestPolicies.Observations(1, ObsDim, seed: 9);
        var expected = new float[ActionDim];
        training.Policy.Act(observation, expected, deterministic: true);
        var actual = model.Act(observation);
        for (int j = 0; j < ActionDim; j++) Assert.True(Math.Abs(actual[j] - expected[j]) <= 1e-6, $"action {j}: {actual[j]} vs {expected[j]}");
    }
}
