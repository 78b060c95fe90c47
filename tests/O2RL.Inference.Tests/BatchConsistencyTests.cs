using Xunit;

namespace O2RL.Inference.Tests;

/// <summary>An observation gets the same action bits alone and at any position in a batch.</summary>
public sealed class BatchConsistencyTests
{
    [Theory]
    [InlineData(PolicyFamily.Deterministic, new[] { 256, 256 })]
    [InlineData(PolicyFamily.Gaussian, new[] { 96, 40 })]      // a 64-wide block then a 32-wide one; a padded layer
    [InlineData(PolicyFamily.TanhGaussian, new[] { 17 })]
    public void ActionsDoNotDependOnTheRowsBesideThem(PolicyFamily family, int[] hidden)
    {
        // Before: rows went through the network four at a time, and the leftover rows through a one-row kernel
        // that summed in another order, so the 5th copy of an observation differed from the first four by an ulp.
        const int obsDim = 11, actionDim = 3;
        var model = PolicyModel.Load(TestPolicies.Write(TestPolicies.Build(family, obsDim, actionDim, hidden, seed: 5).Tensors), "policy");
        var random = new Random(2);
        var observation = new float[obsDim];
        for (int i = 0; i < obsDim; i++) observation[i] = (float)(random.NextDouble() * 4 - 2);
        var alone = model.Act(observation);
        for (int rows = 1; rows <= 9; rows++)
        {
            var batch = new float[rows * obsDim];
            for (int r = 0; r < rows; r++) observation.CopyTo(batch, r * obsDim);
            var actions = new float[rows * actionDim];
            model.ActBatch(batch, actions);
            for (int r = 0; r < rows; r++)
                Assert.Equal(alone, actions.AsSpan(r * actionDim, actionDim).ToArray());
        }
    }
}
