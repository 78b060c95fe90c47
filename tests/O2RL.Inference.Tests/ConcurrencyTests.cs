using Xunit;
namespace O2RL.Inference.Tests;

/// <summary>One shared model, many threads; and no allocation per call.</summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public void ManyThreadsGetTheSameActionsAsOneThread()
    {
        const int obsDim = 17, actionDim = 6, rows = 64;
        var actor = TestPolicies.Build(PolicyFamily.TanhGaussian, obsDim, actionDim, [256, 256], seed: 4, layerNorm: true);
        var model = PolicyModel.Load(TestPolicies.Write(actor.Tensors), "shared");
        float[] observations = TestPolicies.Observations(rows, obsDim, seed: 6);
        var expectedSingle = new float[rows * actionDim];
        for (int r = 0; r < rows; r++) model.Act(observations.AsSpan(r * obsDim, obsDim), expectedSingle.AsSpan(r * actionDim, actionDim));
        var expectedBatch = new float[rows * actionDim];
        model.ActBatch(observations, expectedBatch);

        int failures = 0;
        var threads = Enumerable.Range(0, 16).Select(t => new Thread(() =>
        {
            var action = new float[actionDim];
            var batch = new float[rows * actionDim];
            for (int iteration = 0; iteration < 200; iteration++)
            {
                int r = (iteration * 7 + t) % rows;
                model.Act(observations.AsSpan(r * obsDim, obsDim), action);
                if (!action.AsSpan().SequenceEqual(expectedSingle.AsSpan(r * actionDim, actionDim))) Interlocked.Increment(ref failures);
                if (iteration % 20 == 0)
                {
                    model.ActBatch(observations, batch);
                    if (!batch.AsSpan().SequenceEqual(expectedBatch)) Interlocked.Increment(ref failures);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(0, failures);
    }

    [Fact]
    public void ActingAllocatesNothingAfterWarmUp()
    {
        const int obsDim = 17, actionDim = 6;
        var model = PolicyModel.Load(TestPolicies.Write(TestPolicies.Build(PolicyFamily.Gaussian, obsDim, actionDim, [256, 256], seed: 5).Tensors), "alloc");
        float[] observation = TestPolicies.Observations(1, obsDim, seed: 1), action = new float[actionDim];
        float[] batch = TestPolicies.Observations(256, obsDim, seed: 2), actions = new float[256 * actionDim];
        var random = new PolicyRandom(3);
        model.Act(observation, action);
        model.ActBatch(batch, actions);
        model.Sample(observation, action, ref random);
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                model.Act(observation, action);
                model.Sample(observation, action, ref random);
                model.ActBatch(batch, actions);
            }
        }));
    }

    [Fact]
    public void WideLayersUseRentedScratchAndStayCorrect()
    {
        const int obsDim = 6, actionDim = 2;
        var actor = TestPolicies.Build(PolicyFamily.Deterministic, obsDim, actionDim, [2100], seed: 9);
        var model = PolicyModel.Load(TestPolicies.Write(actor.Tensors), "wide");
        Assert.True(model.ScratchLength > 16 * 1024);
        float[] observation = TestPolicies.Observations(1, obsDim, seed: 4);
        double[] expected = TestPolicies.ReferenceAction(actor, PolicyFamily.Deterministic, observation);
        float[] actual = model.Act(observation);
        for (int j = 0; j < actionDim; j++) Assert.True(Math.Abs(actual[j] - expected[j]) <= 2e-5, $"action {j}: {actual[j]} vs {expected[j]}");
    }
}
