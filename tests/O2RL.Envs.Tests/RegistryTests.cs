using O2RL.Envs.MuJoCo;
using O2RL.Envs.Wrappers;

namespace O2RL.Envs.Tests;

// The registry is process-wide: RegistrationTests adds and removes environments, which RegistryTests would see in its
// listings if the two classes ran side by side, so they share one collection (run one after the other).
[Collection(RegistryCollection.Name)]
public class RegistryTests
{
    public static TheoryData<string> Ids => new(EnvironmentRegistry.Specs.Select(s => s.Id));

    [Fact]
    public void IdsAreUniqueAndListedWithAvailability()
    {
        var specs = EnvironmentRegistry.Specs;
        Assert.Equal(specs.Count, specs.Select(s => s.Id).Distinct().Count());
        var listed = EnvironmentRegistry.ListAvailability();
        Assert.Equal(specs.Select(s => s.Id), listed.Select(e => e.Spec.Id));
        foreach (var entry in listed)
        {
            Assert.Equal(entry.Available, entry.UnavailableReason is null);
            if (!entry.Spec.NeedsMuJoCo) Assert.True(entry.Available, $"{entry.Spec.Id} is pure C# and must always be available");
        }
        Assert.Contains(specs, s => s.Id == "Hopper-v2" && s.ObservationDim == 11 && s.ActionDim == 3 && s.MaxEpisodeSteps == 1000);
        Assert.Contains(specs, s => s.Id == "Ant-v2" && s.ObservationDim == 111);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void EveryEnvironmentMakesResetsAndSteps(string id)
    {
        var spec = EnvironmentRegistry.GetSpec(id);
        if (spec.NeedsMuJoCo) RequireMuJoCo.OrSkip();
        using var env = EnvironmentRegistry.Make(id);
        Assert.Equal(id, env.Id);
        Assert.IsType<TimeLimit>(env);
        Assert.Equal(spec.MaxEpisodeSteps, ((TimeLimit)env).MaxEpisodeSteps);
        Assert.Equal(spec.ObservationDim, env.ObservationSpace.Dimension);
        Assert.Equal(spec.ActionDim, env.ActionSpace.Dimension);
        var observation = env.Reset(seed: 0);
        var action = new float[spec.ActionDim];
        env.ActionSpace.Sample(new EnvRandom(1), action);
        var result = env.Step(action, observation);
        Assert.True(double.IsFinite(result.Reward));
        Assert.All(observation, x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void UnknownIdsNameTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => EnvironmentRegistry.Make("Hopper-v9"));
        Assert.Contains("Hopper-v9", error.Message);
        Assert.Contains("Hopper-v2", error.Message);
    }

    [Fact]
    public void ModelXmlIsAvailableForMuJoCoTasksOnly()
    {
        Assert.Contains("<mujoco model=\"hopper\">", EnvironmentRegistry.GetModelXml("Hopper-v2"));
        Assert.Contains("wall_0_0", EnvironmentRegistry.GetModelXml("maze2d-umaze-v1"));
        var error = Assert.Throws<ArgumentException>(() => EnvironmentRegistry.GetModelXml("Pendulum-v1"));
        Assert.Contains("no MuJoCo model", error.Message);
    }

    [Fact]
    public void EmbeddedModelsCompile()
    {
        RequireMuJoCo.OrSkip();
        foreach (var name in MuJoCoModels.Names)
        {
            using var model = MjModel.Compile(MuJoCoModels.GetXml(name), name);
            Assert.True(model.Nu > 0);
        }
    }
}

[Collection(RegistryCollection.Name)]
public class RegistrationTests
{
    sealed class Tiny(string id, float actionBound = 1f) : EnvironmentBase(id, BoxSpace.Uniform(2, -1f, 1f), BoxSpace.Uniform(1, -actionBound, actionBound))
    {
        protected override void ResetCore(Span<float> observation) => observation.Clear();
        protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation) => new(0.0, false, false);
    }

    [Fact]
    public void ARegisteredEnvironmentIsMadeByIdWithItsTimeLimit()
    {
        string id = $"Tiny-{Guid.NewGuid():N}-v0";
        var spec = EnvironmentRegistry.Register(id, () => new Tiny(id, 3f), maxEpisodeSteps: 5);
        try
        {
            Assert.Equal((2, 1, 5), (spec.ObservationDim, spec.ActionDim, spec.MaxEpisodeSteps));
            Assert.Contains(EnvironmentRegistry.ListAvailability(), a => a.Spec.Id == id && a.Available);
            using var env = EnvironmentRegistry.Make(id);
            var observation = env.Reset(0);
            for (int t = 1; t < 5; t++) Assert.False(env.Step([0f], observation).Done);
            Assert.True(env.Step([0f], observation).Truncated);
            Assert.Contains("already registered", Assert.Throws<InvalidOperationException>(() => EnvironmentRegistry.Register(id, () => new Tiny(id), 5)).Message);
        }
        finally
        {
            Assert.True(EnvironmentRegistry.Unregister(id));
        }
        Assert.Throws<ArgumentException>(() => EnvironmentRegistry.Make(id));
        Assert.False(EnvironmentRegistry.Unregister("Pendulum-v1"));
        Assert.NotNull(EnvironmentRegistry.Make("Pendulum-v1"));
    }

    [Fact]
    public void ARegistrationThatCouldNotWorkIsRefused()
    {
        Assert.Contains("makes an environment whose Id is 'Other-v0'",
            Assert.Throws<ArgumentException>(() => EnvironmentRegistry.Register("Mine-v0", () => new Tiny("Other-v0"), 10)).Message);
        Assert.Contains("action dimension 0 has the box",
            Assert.Throws<ArgumentException>(() => EnvironmentRegistry.Register("Mine-v0", () => new Tiny("Mine-v0", float.PositiveInfinity), 10)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => EnvironmentRegistry.Register("Mine-v0", () => new Tiny("Mine-v0"), 0));
        Assert.DoesNotContain(EnvironmentRegistry.Specs, s => s.Id == "Mine-v0");
    }
}

/// <summary>The tests that read or change the process-wide environment registry.</summary>
[CollectionDefinition(Name)]
public sealed class RegistryCollection
{
    public const string Name = "environment registry";
}
