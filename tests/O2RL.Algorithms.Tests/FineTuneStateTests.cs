using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.Tests.Runs;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// The stage-C pieces outside the networks as a training state carries them: λ with its Adam, the reference rule's
/// best score, and the dynamic reward scaler. Each continues after a save, a write, a read and a restore into a fresh
/// object exactly as the original does.
/// </summary>
public sealed class FineTuneStateTests
{
    static TrainingState ThroughFile(TrainingState state, TemporaryFolder root)
    {
        string path = root.Combine("state.safetensors");
        state.Write(path);
        return TrainingState.Read(path);
    }

    [Fact]
    public void LagrangeMultiplier_RestoredIntoAFreshOne_TakesTheSameNextSteps()
    {
        using var root = new TemporaryFolder();
        using var backend = new CpuBackend(1);
        var divergence = backend.FromArray([0.1f, 0.9f, 2.5f, 0.3f], 4);
        var original = new LagrangeMultiplier(backend, 4, initialLambda: 1.3f);
        for (int i = 0; i < 5; i++) { original.Refresh(); original.DualGradient(divergence, 0.4f); original.Step(); }
        var state = new TrainingState();
        original.SaveState(state, "lambda");

        var restored = new LagrangeMultiplier(backend, 4, initialLambda: 1.3f);
        restored.RestoreState(ThroughFile(state, root), "lambda");
        Assert.Equal(original.Optimizer.StepCount, restored.Optimizer.StepCount);
        Assert.Equal(backend.ReadScalar(original.Loss), backend.ReadScalar(restored.Loss));
        for (int i = 0; i < 3; i++)
            foreach (var multiplier in new[] { original, restored }) { multiplier.Refresh(); multiplier.DualGradient(divergence, 0.2f); multiplier.Step(); }
        Assert.Equal(original.ReadLambda(), restored.ReadLambda());
        Assert.NotEqual(1.3f, restored.ReadLambda());
    }

    [Fact]
    public void ReferencePolicyTracker_RestoredKeepsItsBestScore_AndRefusesAnotherRule()
    {
        using var root = new TemporaryFolder();
        var original = new ReferencePolicyTracker(ReferenceRule.BestSoFar, 1, 100);
        original.ChooseInitial(-1000, -900);
        Assert.True(original.ShouldReplace(100, -500));
        Assert.False(original.ShouldReplace(200, -700));
        var state = new TrainingState();
        original.SaveState(state, "tracker");
        var read = ThroughFile(state, root);

        var restored = new ReferencePolicyTracker(ReferenceRule.BestSoFar, 1, 100);
        restored.ChooseInitial(-1000, -900);
        restored.RestoreState(read, "tracker");
        Assert.Equal((-500.0, 1), (restored.BestScore, restored.Replacements));
        // -600 beats the initial choice but not the restored best score.
        Assert.False(restored.ShouldReplace(300, -600));

        var periodic = new ReferencePolicyTracker(ReferenceRule.EveryN, 2, 100);
        var ex = Assert.Throws<InvalidDataException>(() => periodic.RestoreState(read, "tracker"));
        Assert.Contains("BestSoFar", ex.Message);
    }

    [Fact]
    public void RewardScaler_ImportedState_ScalesTheNextRewardsIdentically()
    {
        var original = new RunningRewardScaler(0.9);
        foreach (float r in new[] { 1f, -2f, 0.5f, 3f }) original.Scale(r);
        original.ResetSum();
        original.Scale(0.25f);
        var (sum, count, mean, m2, std) = original.ExportState();
        var restored = new RunningRewardScaler(0.9);
        restored.ImportState(sum, count, mean, m2, std);
        foreach (float r in new[] { -1f, 2f, 0.75f })
            Assert.Equal(original.Scale(r), restored.Scale(r));
        Assert.Equal(original.Std, restored.Std);
        Assert.Throws<ArgumentException>(() => restored.ImportState(double.NaN, 1, 0, 0, 1));
    }
}
