using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Training;
using O2RL.Data;
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
            // An enum is written by name, as a YAML file spells it, and config.json reads back as a config file.
            Assert.Contains("\"buffer_load\": \"all\"", json);
            File.WriteAllText(file, json);
            var reread = ConfigLoader.Resolve(new SampleConfig(), null, file, []);
            Assert.Equal(config with { HiddenDims = [] }, reread with { HiddenDims = [] });
            Assert.Equal(config.HiddenDims, reread.HiddenDims);
            var ppo = ConfigLoader.Set(new O2PpoConfig(), "reward_scaling", "dynamic", "--set");
            Assert.Contains("\"reward_scaling\": \"dynamic\"", ConfigLoader.ToJson(ppo));
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
    public void RunLengthKeysWorkInEitherSpellingOfTheirKind()
    {
        // Offline gradient steps: CQL's steps, IQL's and TD3+BC's max_steps; online environment steps: total_steps
        // (SAC, TD3, PPO, O2PPO) and online_steps (O2SAC, O2TD3). One --set must drive a sweep over algorithms.
        Assert.Equal(1234, ConfigLoader.Set(new IqlConfig(), "steps", "1234", "--set").MaxSteps);
        Assert.Equal(1234, ConfigLoader.Set(new Td3BcConfig(), "steps", "1234", "--set").MaxSteps);
        Assert.Equal(1234, ConfigLoader.Set(new CqlConfig(), "max_steps", "1234", "--set").Steps);
        Assert.Equal(4321, ConfigLoader.Set(new O2SacConfig(), "total_steps", "4321", "--set").OnlineSteps);
        Assert.Equal(4321, ConfigLoader.Set(new O2PpoConfig(), "online_steps", "4321", "--set").TotalSteps);
        Assert.Equal(4321, ConfigLoader.Set(new SacConfig(), "online_steps", "4321", "--set").TotalSteps);
    }

    [Theory]
    [InlineData(typeof(IqlConfig), "total_steps", "'max_steps', gradient steps")]
    [InlineData(typeof(CqlConfig), "online_steps", "'steps', gradient steps")]
    [InlineData(typeof(O2SacConfig), "steps", "'online_steps', environment steps")]
    [InlineData(typeof(SacConfig), "max_steps", "'total_steps', environment steps")]
    public void ARunLengthOfTheOtherKindIsRefusedNamingThisAlgorithmsKey(Type configType, string key, string expected)
    {
        // Offline gradient steps and online environment steps are different things: no silent mapping between them,
        // but the refusal names the key this algorithm uses instead of leaving a list of 30 keys to search by eye.
        var set = typeof(ConfigLoader).GetMethod(nameof(ConfigLoader.Set))!.MakeGenericMethod(configType);
        var error = Assert.Throws<System.Reflection.TargetInvocationException>(
            () => set.Invoke(null, [Activator.CreateInstance(configType), key, "1000", "--set"]));
        var refused = Assert.IsType<ArgumentException>(error.InnerException);
        Assert.Contains($"its run length is {expected}", refused.Message);
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

    [Theory]
    [InlineData("gamma=nan")]
    [InlineData("gamma=inf")]
    [InlineData("total_steps=-Infinity")]
    public void NonFiniteNumbersAreRejectedNamingTheKey(string assignment)
    {
        // Before: gamma=nan reached the run and failed on writing config.json with a JSON serializer message; total_steps=nan became 0.
        var bad = Assert.Throws<ArgumentException>(() => ConfigLoader.Resolve(new SacConfig(), null, null, [assignment]));
        Assert.Contains($"'{assignment.Split('=')[0]}' expects a", bad.Message);
        Assert.Contains($"got '{assignment.Split('=')[1]}'", bad.Message);
    }

    [Fact]
    public void EveryShippedConfigPassesItsRangeChecks()
    {
        // The range checks must not refuse a file we ship: each is resolved into its algorithm's settings and checked.
        int checkedFiles = 0;
        foreach (string file in Directory.EnumerateFiles(ConfigLoader.ShippedConfigRoot, "*.yaml", SearchOption.AllDirectories))
        {
            string algorithm = Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(file))!);
            // td3 and td3_bc check their settings inside their agents (Td3Agent.Validate, Td3BcAgent.Validate).
            Action validate = Validation(algorithm, file, []) ?? (() => { });
            validate();
            checkedFiles++;
        }
        Assert.True(checkedFiles > 40, $"only {checkedFiles} shipped configs found");
    }

    [Theory]
    [InlineData("cql", "gamma=1.5", "gamma must be in [0, 1], got 1.5")]
    [InlineData("cql", "steps=0", "steps must be at least 1, got 0")]
    [InlineData("cql", "nactions=0", "nactions must be at least 1, got 0")]
    [InlineData("iql", "beta=-1", "beta must be ≥ 0, got -1")]
    [InlineData("iql", "gamma=1.5", "gamma must be in [0, 1], got 1.5")]
    [InlineData("ppo", "minibatch_size=100", "minibatch_size (100) must divide rollout_length (2048)")]
    [InlineData("ppo", "gae_lambda=1.2", "gae_lambda must be in [0, 1], got 1.2")]
    [InlineData("o2sac", "online_steps=-1", "online_steps must be ≥ 0, got -1")]
    [InlineData("o2sac", "tau=0", "tau must be in (0, 1], got 0")]
    [InlineData("o2sac", "actor_lr=-0.1", "actor_lr must be ≥ 0, got -0.1")]
    [InlineData("o2ppo", "value_pretrain_batch_size=0", "value_pretrain_batch_size must be at least 1, got 0")]
    [InlineData("o2ppo", "reference_update_n=0", "reference_update_n must be at least 1, got 0")]
    [InlineData("sac", "critic_lr=-1", "critic_lr must be ≥ 0, got -1")]
    public void OutOfRangeSettingsAreRefusedNamingTheKeyAndValue(string algorithm, string assignment, string expected)
    {
        Action validate = Validation(algorithm, null, [assignment])!;
        Assert.Equal(expected, Assert.Throws<ArgumentException>(validate).Message);
    }

    /// <summary>The settings of <paramref name="algorithm"/> resolved from a file and overrides, as their Validate; null for others.</summary>
    static Action? Validation(string algorithm, string? file, string[] overrides) => algorithm switch
    {
        "sac" => ConfigLoader.Resolve(new SacConfig(), file, null, overrides).Validate,
        "cql" => ConfigLoader.Resolve(new CqlConfig(), file, null, overrides).Validate,
        "iql" => ConfigLoader.Resolve(new IqlConfig(), file, null, overrides).Validate,
        "ppo" => ConfigLoader.Resolve(new PpoConfig(), file, null, overrides).Validate,
        "o2sac" => ConfigLoader.Resolve(new O2SacConfig(), file, null, overrides).Validate,
        "o2ppo" => ConfigLoader.Resolve(new O2PpoConfig(), file, null, overrides).Validate,
        "o2td3" => ConfigLoader.Resolve(new O2Td3Config(), file, null, overrides).Validate,
        _ => null,
    };

    [Theory]
    [InlineData("hopper_medium_replay-v2.hdf5", "medium-replay")]
    [InlineData("halfcheetah-medium-expert-v2.hdf5", "medium-expert")]
    [InlineData("walker2d-v2-expert.hdf5", "expert")]
    [InlineData("Hopper-v2-Medium.hdf5", "medium")]
    [InlineData("hopper_full_replay-v2.hdf5", "full-replay")]
    [InlineData("pendulum-v1-random.hdf5", "random")]
    [InlineData("my-intermediate-data.hdf5", null)]
    [InlineData("replay.hdf5", null)]
    public void TheLevelIsReadFromD4rlStyleFileNames(string fileName, string? level) =>
        Assert.Equal(level, DatasetLevels.FromFileName(Path.Combine("some", "folder", fileName)));

    [Fact]
    public void TheLevelComesFromTheAntMazeIdThenTheFileAttributeThenTheName()
    {
        string folder = Path.Combine(Path.GetTempPath(), "o2rl-levels-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            Assert.Equal("umaze-diverse", DatasetLevels.Infer("antmaze-umaze-diverse-v2", null)?.Name);
            Assert.Equal("large-play", DatasetLevels.Infer("antmaze-large-play-v2", "anything.hdf5")?.Name);
            Assert.Null(DatasetLevels.Infer("Hopper-v2", null));

            // Our files carry a 'level' attribute, which wins over the name.
            TransitionDataset Rows(string? level)
            {
                using var env = PolicyEnvironment.Make("Pendulum-v1", StateNormalizer.Identity(3));
                return DatasetCollection.Collect(env, null, 20, seed: 1, metadata: level is null ? null : new DatasetMetadata { Level = level });
            }
            string attributed = Path.Combine(folder, "hopper-medium-v2.hdf5");
            D4rlHdf5.Write(Rows("medium-replay"), attributed);
            var fromAttribute = DatasetLevels.Infer("Hopper-v2", attributed);
            Assert.Equal("medium-replay", fromAttribute?.Name);
            Assert.Contains("'level' attribute", fromAttribute!.Source);

            string named = Path.Combine(folder, "walker2d_medium_replay-v2.hdf5");
            D4rlHdf5.Write(Rows(null), named);
            Assert.Equal("medium-replay", DatasetLevels.Infer("Walker2d-v2", named)?.Name);
            var context = new RunContext { Backend = null!, EnvironmentId = "Walker2d-v2", DatasetPath = named };
            Assert.Equal("medium-replay", context.ResolveDatasetName());
            Assert.Equal("expert", (context with { DatasetName = "expert" }).ResolveDatasetName());
            Assert.EndsWith(Path.Combine("o2td3", "walker2d-v2", "medium-replay.yaml"), ConfigLoader.ShippedConfigPath("o2td3", "Walker2d-v2", context.ResolveDatasetName()));

            string unnamed = Path.Combine(folder, "data.hdf5");
            D4rlHdf5.Write(Rows(null), unnamed);
            Assert.Null(DatasetLevels.Infer("Walker2d-v2", unnamed));
            // A file that is not there is not opened; its name still tells.
            Assert.Equal("the file name missing-medium.hdf5", DatasetLevels.Infer("Walker2d-v2", Path.Combine(folder, "missing-medium.hdf5"))?.Source);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void AnUnknownLevelStillGetsTheEnvironmentsDefaultFile()
    {
        Assert.EndsWith(Path.Combine("iql", "pendulum-v1", "default.yaml"), ConfigLoader.ShippedConfigPath("iql", "Pendulum-v1", null));
        Assert.EndsWith(Path.Combine("iql", "pendulum-v1", "default.yaml"), ConfigLoader.ShippedConfigPath("iql", "Pendulum-v1", "medium"));
        Assert.Null(ConfigLoader.ShippedConfigPath("o2sac", "Hopper-v2", null));
        Assert.Contains("medium-replay", ConfigLoader.ShippedLevels("Hopper-v2"));
        Assert.DoesNotContain("default", ConfigLoader.ShippedLevels("Pendulum-v1"));
    }
}
