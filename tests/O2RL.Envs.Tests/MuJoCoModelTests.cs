using O2RL.Envs.MuJoCo;

namespace O2RL.Envs.Tests;

public class MuJoCoModelTests
{
    [Fact]
    public void LibraryIsVersion222()
    {
        RequireMuJoCo.OrSkip();
        Assert.Equal("2.2.2", MuJoCoLibrary.VersionString);
    }

    [Theory]
    [InlineData("hopper", new[] { 3.665191, 4.057891, 2.781357, 5.315575 }, 15.820013)]
    [InlineData("walker2d", new[] { 3.665191, 4.057891, 2.781357, 3.166725, 4.057891, 2.781357, 3.166725 }, 23.677137)]
    [InlineData("half_cheetah", new[] { 6.250209, 1.543515, 1.587448, 1.095397, 1.438075, 1.200837, 0.884519 }, 14.000000)]
    [InlineData("ant", new[] { 0.327249, 0.039158, 0.039158, 0.067592, 0.039158, 0.039158, 0.067592, 0.039158, 0.039158, 0.067592, 0.039158, 0.039158, 0.067592 }, 0.910880)]
    public void CompiledBodyMassesMatchTheFactSheet(string modelName, double[] masses, double total)
    {
        RequireMuJoCo.OrSkip();
        var model = MuJoCoModels.GetCompiled(modelName);
        var bodyMass = model.BodyMass;
        Assert.Equal(masses.Length + 1, bodyMass.Length);
        Assert.Equal(0.0, bodyMass[0]);
        double sum = 0;
        for (int i = 0; i < masses.Length; i++)
        {
            Assert.True(Math.Abs(bodyMass[i + 1] - masses[i]) < 5e-6, $"{modelName} body {i + 1}: mass {bodyMass[i + 1]}, expected {masses[i]}");
            sum += bodyMass[i + 1];
        }
        Assert.True(Math.Abs(sum - total) < 5e-6, $"{modelName}: total mass {sum}, expected {total}");
    }

    [Theory]
    [InlineData("hopper", 4, new[] { 0.33746, 1.18241, 0.45282, 0.00183, 0.00168, 0.78721 })]
    [InlineData("walker2d", 4, new[] { -0.00259, 1.20867, -0.02082, 0.01234, 0.00961, 0.80280, 0.01184, 0.00935, 0.80291 })]
    [InlineData("half_cheetah", 5, new[] { 0.48858, -0.37315, 0.51860, 0.21398, 0.21164, 0.24162, 0.70860, 0.54832, 0.39737 })]
    [InlineData("ant", 5, new[] { -0.03932, -0.00265, 0.51204, 0.98418, 0.02382, -0.09809, -0.14561, 0.52507, 1.22322, 0.52507, -0.52208, 0.52507, -0.52211, 0.52508, 1.22320 })]
    public void DeterministicRolloutMatchesTheCheckValues(string modelName, int frameSkip, double[] expectedQpos)
    {
        RequireMuJoCo.OrSkip();
        using var simulation = new MjSimulation(MuJoCoModels.GetCompiled(modelName));
        simulation.Reset();
        simulation.Forward();
        for (int step = 0; step < 50; step++)
        {
            simulation.Ctrl.Fill(0.5);
            Assert.True(simulation.Step(frameSkip), $"{modelName} became unstable at step {step}");
        }
        var qpos = simulation.Qpos;
        Assert.Equal(expectedQpos.Length, qpos.Length);
        for (int i = 0; i < qpos.Length; i++)
            Assert.True(Math.Abs(qpos[i] - expectedQpos[i]) <= 5e-6, $"{modelName} qpos[{i}] = {qpos[i]:F7}, expected {expectedQpos[i]:F5}");
    }
}
