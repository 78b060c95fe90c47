using O2RL.Envs.MuJoCo;
using O2RL.Envs.Wrappers;

namespace O2RL.Envs.Tests;

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
