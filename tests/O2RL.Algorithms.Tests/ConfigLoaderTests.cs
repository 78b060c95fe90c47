using O2RL.Algorithms.Configs;
using Xunit;

namespace O2RL.Algorithms.Tests;

public sealed class ConfigLoaderTests
{
    public enum Mixing { Half, All }

    public sealed record SampleConfig
    {
        public float ActorLr { get; init; } = 1e-4f;
        public int BatchSize { get; init; } = 256;
        public bool LayerNorm { get; init; } = true;
        public int[] HiddenDims { get; init; } = [256, 256];
        public Mixing BufferLoad { get; init; } = Mixing.Half;
        public float? MaxGradNorm { get; init; }
    }

    [Fact]
    public void LayersApplyInOrderDefaultsFileOverrides()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "actor_lr: 3e-4\nbatch_size: 512\nhidden_dims: [64, 64, 64]\nbuffer_load: all\n");
            var config = ConfigLoader.Resolve(new SampleConfig(), null, file, ["batch_size=128", "layer_norm=false", "max_grad_norm=0.25"]);
            Assert.Equal(3e-4f, config.ActorLr);
            Assert.Equal(128, config.BatchSize);
            Assert.False(config.LayerNorm);
            Assert.Equal([64, 64, 64], config.HiddenDims);
            Assert.Equal(Mixing.All, config.BufferLoad);
            Assert.Equal(0.25f, config.MaxGradNorm);
            Assert.Equal(256, new SampleConfig().BatchSize);   // defaults untouched
            string json = ConfigLoader.ToJson(config);
            Assert.Contains("\"batch_size\": 128", json);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void EvaluationKeysWorkInEitherSpellingForEveryAlgorithm()
    {
        // SAC spells them eval_every / eval_episodes, TD3 evaluate_every / evaluation_episodes.
        var sac = ConfigLoader.Set(new SacConfig(), "evaluate_every", "2000", "--set");
        sac = ConfigLoader.Set(sac, "evaluation_episodes", "3", "--set");
        Assert.Equal((2000, 3), (sac.EvalEvery, sac.EvalEpisodes));
        var td3 = ConfigLoader.Set(new Td3Config(), "eval_every", "1500", "--set");
        td3 = ConfigLoader.Set(td3, "eval_episodes", "4", "--set");
        Assert.Equal((1500, 4), (td3.EvaluateEvery, td3.EvaluationEpisodes));
        Assert.Throws<ArgumentException>(() => ConfigLoader.Set(new SacConfig(), "eval_everything", "1", "--set"));
    }

    [Fact]
    public void UnknownKeysAndBadValuesAreNamed()
    {
        var unknown = Assert.Throws<ArgumentException>(() => ConfigLoader.Resolve(new SampleConfig(), null, null, ["actor_learning_rate=1"]));
        Assert.Contains("actor_learning_rate", unknown.Message);
        Assert.Contains("actor_lr", unknown.Message);
        var bad = Assert.Throws<ArgumentException>(() => ConfigLoader.Resolve(new SampleConfig(), null, null, ["batch_size=big"]));
        Assert.Contains("'big'", bad.Message);
        Assert.Throws<ArgumentException>(() => ConfigLoader.Resolve(new SampleConfig(), null, null, ["batch_size"]));
        Assert.Throws<FileNotFoundException>(() => ConfigLoader.Resolve(new SampleConfig(), null, "/nonexistent/config.yaml", []));
    }
}
