using Xunit;
namespace O2RL.Inference.Tests;

/// <summary>Plain PyTorch state_dicts (CORL / OCR-CFT names) load and act as a double-precision reference says.</summary>
public sealed class PyTorchLayoutTests
{
    public static TheoryData<PolicyFamily, bool, string> Cases => new()
    {
        { PolicyFamily.TanhGaussian, false, "F32" },
        { PolicyFamily.Deterministic, false, "F32" },
        { PolicyFamily.Gaussian, false, "F32" },
        { PolicyFamily.TanhGaussian, true, "F32" },
        { PolicyFamily.Deterministic, true, "F64" },
        { PolicyFamily.Gaussian, false, "F16" },
        { PolicyFamily.Deterministic, false, "BF16" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ActionsMatchTheDoublePrecisionReference(PolicyFamily family, bool layerNorm, string dtype)
    {
        const int obsDim = 17, actionDim = 6;
        int[] hidden = family == PolicyFamily.TanhGaussian ? [256, 256, 256] : [256, 256];
        var actor = TestPolicies.Build(family, obsDim, actionDim, hidden, seed: 21, layerNorm, dtype: dtype);
        var model = PolicyModel.Load(TestPolicies.Write(actor.Tensors), "state_dict.safetensors");

        Assert.Equal(family, model.Family);
        Assert.Equal(obsDim, model.ObsDim);
        Assert.Equal(actionDim, model.ActionDim);
        Assert.Equal(hidden, model.HiddenWidths);
        Assert.Equal(layerNorm, model.HasLayerNorm);
        Assert.Null(model.ObservationMean);
        Assert.Contains("PyTorch", model.Layout);
        if (family == PolicyFamily.Gaussian) Assert.Equal(-20f, model.MinLogStd);

        const int rows = 9;
        float[] observations = TestPolicies.Observations(rows, obsDim, seed: 2);
        var batch = new float[rows * actionDim];
        model.ActBatch(observations, batch);
        for (int r = 0; r < rows; r++)
        {
            double[] expected = TestPolicies.ReferenceAction(actor, family, observations.AsSpan(r * obsDim, obsDim));
            float[] single = model.Act(observations.AsSpan(r * obsDim, obsDim));
            for (int j = 0; j < actionDim; j++)
            {
                Assert.True(Math.Abs(single[j] - expected[j]) <= 2e-5, $"row {r} action {j}: {single[j]} vs reference {expected[j]}");
                Assert.True(Math.Abs(batch[r * actionDim + j] - expected[j]) <= 2e-5, $"row {r} action {j}: batch {batch[r * actionDim + j]} vs reference {expected[j]}");
            }
        }
    }

    [Fact]
    public void NormalisationAndActionBoundsFromTheFileAreApplied()
    {
        const int obsDim = 5, actionDim = 2;
        var actor = TestPolicies.Build(PolicyFamily.Deterministic, obsDim, actionDim, [16], seed: 8);
        double[] mean = [0.5, -1, 2, 0, 0.25], std = [2, 0.5, 1, 3, 1.5], low = [-2, 0], high = [2, 10];
        var tensors = actor.Tensors.Concat(
        [
            new TestTensor("obs_mean", [obsDim], mean), new TestTensor("obs_std", [obsDim], std),
            new TestTensor("action_low", [actionDim], low), new TestTensor("action_high", [actionDim], high),
        ]);
        var model = PolicyModel.Load(TestPolicies.Write(tensors), "bounded");
        float[] observation = [1f, 2f, -3f, 0.5f, 4f];
        double[] expected = TestPolicies.ReferenceAction(actor, PolicyFamily.Deterministic, observation, mean, std, low, high);
        float[] actual = model.Act(observation);
        for (int j = 0; j < actionDim; j++) Assert.True(Math.Abs(actual[j] - expected[j]) <= 1e-5, $"action {j}: {actual[j]} vs {expected[j]}");
        Assert.InRange(actual[1], 0f, 10f);

        // The same constants given as options (CORL keeps state_mean/state_std outside the state_dict).
        var plain = PolicyModel.Load(TestPolicies.Write(actor.Tensors), "plain", new PolicyLoadOptions
        {
            ObservationMean = [.. mean.Select(v => (float)v)], ObservationStd = [.. std.Select(v => (float)v)],
            ActionLow = [.. low.Select(v => (float)v)], ActionHigh = [.. high.Select(v => (float)v)],
        });
        Assert.Equal(actual, plain.Act(observation));
    }

    [Fact]
    public void SampledActionsFollowTheirDistributions()
    {
        const int obsDim = 4, actionDim = 2, draws = 20000;
        float[] observation = [0.3f, -0.2f, 0.8f, 0.1f];
        foreach (var family in new[] { PolicyFamily.TanhGaussian, PolicyFamily.Gaussian, PolicyFamily.Deterministic })
        {
            var actor = TestPolicies.Build(family, obsDim, actionDim, [8], seed: 31, outputScale: 0.3);
            var model = PolicyModel.Load(TestPolicies.Write(actor.Tensors), "sampled");
            // Expected mean and std of the pre-squash Gaussian (or of the clamp-free Gaussian).
            double[] head = HeadOf(actor, observation);
            var random = new PolicyRandom(77);
            var action = new float[actionDim];
            var sum = new double[actionDim];
            var squares = new double[actionDim];
            for (int n = 0; n < draws; n++)
            {
                model.Sample(observation, action, ref random);
                for (int j = 0; j < actionDim; j++)
                {
                    Assert.InRange(action[j], -1f, 1f);
                    double u = family == PolicyFamily.TanhGaussian ? Math.Atanh(Math.Clamp(action[j], -0.999999, 0.999999)) : action[j];
                    sum[j] += u; squares[j] += u * u;
                }
            }
            for (int j = 0; j < actionDim; j++)
            {
                double mu = family == PolicyFamily.TanhGaussian ? head[j] : Math.Tanh(head[j]);
                double sigma = family switch
                {
                    PolicyFamily.TanhGaussian => Math.Exp(Math.Clamp(actor.Multiplier * head[actionDim + j] + actor.Offset, -20, 2)),
                    PolicyFamily.Gaussian => Math.Exp(actor.LogStd![j]),
                    _ => 0.1,
                };
                double mean = sum[j] / draws, std = Math.Sqrt(squares[j] / draws - mean * mean);
                // Clamping to ±1 shifts the Gaussian's moments only where μ ± 3σ leaves [−1, 1]: keep such cases out.
                if (family != PolicyFamily.TanhGaussian) Assert.True(Math.Abs(mu) + 3 * sigma < 1, $"{family} test parameters let the clamp bias the moments");
                Assert.True(Math.Abs(mean - mu) < 4 * sigma / Math.Sqrt(draws) + 1e-4, $"{family} action {j}: sample mean {mean} vs μ {mu} (σ {sigma})");
                Assert.True(Math.Abs(std - sigma) < 0.03 * sigma, $"{family} action {j}: sample std {std} vs σ {sigma}");
            }

            // Same seed, same actions; another seed, other actions.
            var first = new PolicyRandom(5);
            var second = new PolicyRandom(5);
            var third = new PolicyRandom(6);
            float[] a = new float[actionDim], b = new float[actionDim], c = new float[actionDim];
            model.Sample(observation, a, ref first);
            model.Sample(observation, b, ref second);
            model.Sample(observation, c, ref third);
            Assert.Equal(a, b);
            Assert.NotEqual(a, c);
        }
    }

    /// <summary>The last layer's raw outputs in double precision.</summary>
    static double[] HeadOf(TestPolicies.Actor actor, float[] observation)
    {
        double[] x = [.. observation.Select(v => (double)v)];
        for (int l = 0; l < actor.Layers.Count; l++)
        {
            var layer = actor.Layers[l];
            var y = new double[layer.Out];
            for (int o = 0; o < layer.Out; o++)
            {
                double s = layer.Bias[o];
                for (int i = 0; i < layer.In; i++) s += layer.Weight[o * layer.In + i] * x[i];
                y[o] = l < actor.Layers.Count - 1 ? Math.Max(0, s) : s;
            }
            x = y;
        }
        return x;
    }

    [Fact]
    public void OurCheckpointPrefixIsRecognisedBesideOtherNetworks()
    {
        var actor = TestPolicies.Build(PolicyFamily.Gaussian, 3, 2, [8, 8], seed: 1, prefix: "actor.");
        var others = new[]
        {
            new TestTensor("critic.net.0.weight", [8, 5], new double[40]), new TestTensor("critic.net.0.bias", [8], new double[8]),
            new TestTensor("value.net.0.weight", [1, 3], new double[3]),
        };
        var model = PolicyModel.Load(TestPolicies.Write(actor.Tensors.Concat(others), new Dictionary<string, string> { ["algorithm"] = "ppo" }), "ppo");
        Assert.Equal(PolicyFamily.Gaussian, model.Family);
        Assert.Equal(-10f, model.MinLogStd);
        Assert.Contains("O2RL checkpoint", model.Layout);
    }

    [Theory]
    [InlineData("actor.")]
    [InlineData("module.")]
    [InlineData("_orig_mod.")]
    [InlineData("module._orig_mod.")]
    [InlineData("policy.")]
    public void ActorsUnderPyTorchsWrappersActAsTheBareOne(string wrapper)
    {
        // DataParallel saves under 'module.', torch.compile under '_orig_mod.', an agent under its attribute name; a
        // flattened CORL agent puts its actor under 'actor.' beside critics. None records an algorithm: a PyTorch file.
        var actor = TestPolicies.Build(PolicyFamily.TanhGaussian, 4, 2, [8, 8], seed: 5);
        var bare = PolicyModel.Load(TestPolicies.Write(actor.Tensors), "bare.safetensors");
        var wrapped = PolicyModel.Load(TestPolicies.Write(actor.Tensors.Select(t => t with { Name = wrapper + t.Name })
            .Append(new TestTensor("critic_1.net.0.weight", [3, 6], new double[18]))), "wrapped.safetensors");
        Assert.StartsWith("PyTorch state_dict", wrapped.Layout);
        if (wrapper != "actor.") Assert.Contains($"actor under '{wrapper}'", wrapped.Layout);
        float[] observation = [0.3f, -1f, 2f, 0.5f];
        Assert.Equal(bare.Act(observation), wrapped.Act(observation));
    }

    [Fact]
    public void IqlsDeterministicPolicyAndCorlStateBuffersAreRead()
    {
        // CORL's IQL deterministic policy: tanh(MLP) under net.net without log_std; constants registered as state_mean/state_std.
        var actor = TestPolicies.Build(PolicyFamily.Deterministic, 3, 1, [8], seed: 6);
        double[] mean = [1, -1, 0.5], std = [2, 1, 4];
        var model = PolicyModel.Load(TestPolicies.Write(actor.Tensors.Select(t => t with { Name = "net." + t.Name })
            .Concat([new TestTensor("state_mean", [3], mean), new TestTensor("state_std", [3], std)])), "iql_det.safetensors");
        Assert.Equal(PolicyFamily.Deterministic, model.Family);
        Assert.Equal([1f, -1f, 0.5f], model.ObservationMean!);
        float[] observation = [0.2f, 0.4f, -3f];
        double[] expected = TestPolicies.ReferenceAction(actor, PolicyFamily.Deterministic, observation, mean, std);
        Assert.Equal(expected[0], model.Act(observation)[0], 5);
    }

    [Fact]
    public void StageFilesActWhenTheyKeepTheirNormalisation_ValueOnlyStageFilesAreNamed()
    {
        var actor = TestPolicies.Build(PolicyFamily.TanhGaussian, 3, 1, [8], seed: 7);
        var tensors = actor.Tensors.Select(t => t with { Name = "actor." + t.Name }).ToList();
        var kept = new Dictionary<string, string> { ["algorithm"] = "o2sac", ["stage"] = "b", ["obs_mean"] = "1,2,3", ["obs_std"] = "1,1,2" };
        var stageB = PolicyModel.Load(TestPolicies.Write(tensors, kept), "stage-b.safetensors");
        Assert.Equal([1f, 2f, 3f], stageB.ObservationMean!);

        // A stage file written before they kept it: refused rather than run on raw observations.
        var old = new Dictionary<string, string> { ["algorithm"] = "o2sac", ["stage"] = "b" };
        var refused = Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(TestPolicies.Write(tensors, old), "old-stage-b.safetensors"));
        Assert.Contains("made before stage files kept the observation normalisation", refused.Message);

        var valueOnly = new[] { new TestTensor("value.net.0.weight", [4, 3], new double[12]), new TestTensor("value.net.0.bias", [4], new double[4]) };
        var ppo = Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(TestPolicies.Write(valueOnly,
            new Dictionary<string, string> { ["algorithm"] = "o2ppo", ["stage"] = "a" }), "stage-a.safetensors"));
        Assert.Contains("holds the value network, not a policy", ppo.Message);
    }

    [Fact]
    public void ATorchSaveFileIsNamedAsSuch()
    {
        // torch.save writes a zip archive (.pt); renamed to .safetensors it failed as "truncated file?".
        byte[] zip = [(byte)'P', (byte)'K', 3, 4, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0];
        var error = Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(zip, "actor.pt"));
        Assert.Contains("a zip archive, as torch.save writes .pt files", error.Message);
        Assert.Contains("safetensors.torch.save_file", error.Message);
    }
}
