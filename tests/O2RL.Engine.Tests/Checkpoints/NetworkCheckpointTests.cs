using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using Xunit;

namespace O2RL.Engine.Tests;

public sealed class NetworkCheckpointTests
{
    [Fact]
    public void NetworksRoundTripThroughSafetensorsWithPyTorchNames()
    {
        using var backend = new CpuBackend(1);
        var spec = new MlpSpec(17, [32, 32], 6) { LayerNorm = true };
        var source = new Mlp(backend, spec, seed: 1);
        var critics = new Ensemble(backend, new MlpSpec(23, [16], 1), 2, seed: 2);
        string path = Path.Combine(Path.GetTempPath(), $"o2rl-net-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafetensorsFile.Write(path, [.. source.Parameters.ToNamedTensors("actor"), .. critics.Parameters.ToNamedTensors("critic")],
                new Dictionary<string, string> { ["algorithm"] = "test" });
            var checkpoint = SafetensorsFile.Read(path);
            Assert.Contains("actor.net.0.weight", checkpoint.Tensors.Keys);
            Assert.Equal([32, 17], checkpoint.Tensors["actor.net.0.weight"].Shape);
            Assert.Equal([2, 16, 23], checkpoint.Tensors["critic.net.0.weight"].Shape);

            var restored = new Mlp(backend, spec, seed: 99);
            Assert.NotEqual(source.Parameters.Values.ToArray(), restored.Parameters.Values.ToArray());
            restored.Parameters.LoadFrom(checkpoint, "actor");
            Assert.Equal(source.Parameters.Values.ToArray(), restored.Parameters.Values.ToArray());

            var wrongShape = new Mlp(backend, new MlpSpec(11, [32, 32], 6) { LayerNorm = true }, seed: 1);
            var ex = Assert.Throws<ArgumentException>(() => wrongShape.Parameters.LoadFrom(checkpoint, "actor"));
            Assert.Contains("[32, 17]", ex.Message);
            Assert.Contains("[32, 11]", ex.Message);
        }
        finally { File.Delete(path); }
    }
}
