using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Envs;
using O2RL.Envs.Wrappers;
using Xunit;

namespace O2RL.Algorithms.Tests.Training;

/// <summary>A user's own task: registered, it runs like a built-in one; unregistered or unwrapped, the loops say what is missing.</summary>
public sealed class CustomEnvironmentTests
{
    /// <summary>Move x towards a target with an action in [−2, 2] (not the actors' [−1, 1]); never ends by itself.</summary>
    sealed class Reach(string id, int nanRewardAt = -1) : EnvironmentBase(id, BoxSpace.Uniform(2, -10f, 10f), BoxSpace.Uniform(1, -2f, 2f))
    {
        float x;
        int step;
        protected override void ResetCore(Span<float> observation)
        {
            x = 0f; step = 0;
            observation[0] = x; observation[1] = 1f;
        }
        protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation)
        {
            x = Math.Clamp(x + 0.1f * Math.Clamp(action[0], -2f, 2f), -10f, 10f);
            observation[0] = x; observation[1] = 1f;
            return new StepResult(++step == nanRewardAt ? double.NaN : -Math.Abs(x - 1f), false, false);
        }
    }

    static string UniqueId() => $"Reach-{Guid.NewGuid():N}-v0";

    [Fact]
    public void ARegisteredTaskRunsByIdAndItsCheckpointRecordsTheActionBox()
    {
        string id = UniqueId();
        EnvironmentRegistry.Register(id, () => new Reach(id), maxEpisodeSteps: 40);
        string root = Path.Combine(Path.GetTempPath(), "o2rl-custom-env-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new CpuBackend(1);
            var result = SacRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = id, Seed = 1, OutputDirectory = root,
                Overrides = ["total_steps=200", "warmup_steps=80", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=100", "eval_episodes=1"],
            });
            Assert.Equal(40, result.FinalEvaluation!.MeanLength);
            var metadata = Engine.Checkpoints.SafetensorsFile.Read(result.CheckpointPath!).Metadata;
            // Without these a deployed policy would hand the task half its action (the actor acts in [−1, 1]).
            Assert.Equal(("-2", "2"), (metadata["action_low"], metadata["action_high"]));
        }
        finally
        {
            EnvironmentRegistry.Unregister(id);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void ARegisteredTaskGoesThroughTheWholeOfflineToOnlinePipeline()
    {
        // Collect a dataset, pre-train CQL on it, fine-tune with O2SAC: every step by the registered id.
        string id = UniqueId();
        EnvironmentRegistry.Register(id, () => new Reach(id), maxEpisodeSteps: 40);
        string root = Path.Combine(Path.GetTempPath(), "o2rl-custom-o2o-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(root);
            string dataset = Path.Combine(root, "reach.hdf5");
            using (var environment = PolicyEnvironment.Make(id, null))
                Data.D4rlHdf5.Write(DatasetCollection.Collect(environment, null, 400, seed: 1), dataset);
            using var backend = new CpuBackend(1);
            var cql = Offline.CqlRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = id, Seed = 1, DatasetPath = dataset, OutputDirectory = Path.Combine(root, "cql"),
                Overrides = ["steps=40", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=0", "eval_episodes=1"],
            });
            var o2sac = FineTuning.O2Sac.O2SacRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = id, Seed = 1, DatasetPath = dataset, InitialCheckpoint = cql.CheckpointPath,
                OutputDirectory = Path.Combine(root, "o2sac"),
                Overrides = ["reevaluation_steps=20", "alignment_steps=20", "online_steps=120", "warmup_steps=60", "batch_size=16",
                             "critic_hidden=[8,8,8]", "eval_every=60", "eval_episodes=1"],
            });
            Assert.Equal(40, o2sac.FinalEvaluation!.MeanLength);
            var metadata = Engine.Checkpoints.SafetensorsFile.Read(o2sac.CheckpointPath!).Metadata;
            Assert.Equal(("-2", "2"), (metadata["action_low"], metadata["action_high"]));
        }
        finally
        {
            EnvironmentRegistry.Unregister(id);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void ADatasetWithActionsInTheTasksOwnUnitsIsRefusedNamingTheValueAndTheFix()
    {
        // A controller's log of the [−2, 2] task, written as recorded: the actors act in [−1, 1], so CQL's critics would
        // be fitted on actions the actor cannot reach and PPO's clip would halve them. Runs refuse it before any work.
        string id = UniqueId();
        EnvironmentRegistry.Register(id, () => new Reach(id), maxEpisodeSteps: 40);
        string root = Path.Combine(Path.GetTempPath(), "o2rl-native-units-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(root);
            string dataset = Path.Combine(root, "reach.hdf5");
            int rows = 50;
            var actions = new float[rows];
            for (int i = 0; i < rows; i++) actions[i] = i % 2 == 0 ? 0.5f : -1.5f;
            actions[17] = 1.9f;
            Data.D4rlHdf5.Write(new Data.TransitionDataset(2, 1, new float[rows * 2], actions, new float[rows], new bool[rows]), dataset);
            using var backend = new CpuBackend(1);
            var context = new RunContext { Backend = backend, EnvironmentId = id, Seed = 1, DatasetPath = dataset };
            var error = Assert.Throws<ArgumentException>(() => context.ReadDataset());
            Assert.Contains("actions reach 1.9 (row 17, column 0; 25 values outside [−1, 1])", error.Message);
            Assert.Contains("low [-2] and high [2]", error.Message);
            Assert.Contains("2·(a − low)/(high − low) − 1", error.Message);
            var cql = Assert.Throws<ArgumentException>(() => Offline.CqlRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = id, Seed = 1, DatasetPath = dataset, OutputDirectory = Path.Combine(root, "cql"),
                Overrides = ["steps=10", "batch_size=16", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=0", "eval_episodes=1"],
            }));
            Assert.Contains("actions reach 1.9", cql.Message);

            // Float rounding of a converted file (1 + 5e-5) is not an action in another unit.
            for (int i = 0; i < rows; i++) actions[i] = i % 2 == 0 ? 1.00005f : -1f;
            Data.D4rlHdf5.Write(new Data.TransitionDataset(2, 1, new float[rows * 2], actions, new float[rows], new bool[rows]), dataset);
            Assert.Equal(rows, context.ReadDataset().RowCount);
        }
        finally
        {
            EnvironmentRegistry.Unregister(id);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AD4rlScoreTaskOfAnotherBodyIsRefusedForAUsersScoreTask()
    {
        // `--score-task hopper-medium-v2` on Pendulum printed Pendulum returns "normalised" against Hopper's reference returns.
        var error = Assert.Throws<ArgumentException>(() => ScoreTasks.CheckPairing("hopper-medium-v2", "Pendulum-v1"));
        Assert.Contains("score task 'hopper-medium-v2' is scored against another task's reference returns than Pendulum-v1's", error.Message);
        Assert.Throws<ArgumentException>(() => ScoreTasks.CheckPairing("walker2d-medium-replay-v2", "Hopper-v2"));
        // A task's own ids, no id, or one the user registered are accepted.
        ScoreTasks.CheckPairing("hopper-medium-replay-v2", "Hopper-v2");
        ScoreTasks.CheckPairing("antmaze-large-diverse-v2", "antmaze-large-diverse-v2");
        ScoreTasks.CheckPairing(null, "Pendulum-v1");
        ScoreTasks.CheckPairing("pendulum-own", "Pendulum-v1");
    }

    [Fact]
    public void AnUnregisteredTaskCannotSilentlyLoseItsActionBox()
    {
        var error = Assert.Throws<ArgumentException>(() => PolicyEnvironment.AddActionBounds(new Dictionary<string, string>(), "Unknown-v0"));
        Assert.Contains("environment 'Unknown-v0' is not registered", error.Message);
    }

    static OffPolicyTrainer Trainer(IEnvironment environment, CpuBackend backend, MixedReplaySampler sampler, Evaluator evaluator) =>
        new(environment, evaluator, new RandomAgent(), sampler,
            new OffPolicyLoopOptions { TotalSteps = 30, WarmupSteps = 30, RandomWarmup = true, EvaluateEvery = 0, LogEvery = 0, Seed = 1 }, new MemoryMetrics());

    sealed class RandomAgent : IOffPolicyAgent
    {
        public IPolicy Policy { get; } = new ZeroPolicy();
        public void Update(TransitionBatch batch, long environmentStep, int updateIndex) { }
        public void LogMetrics(IMetricsSink metrics, long step) { }
    }

    sealed class ZeroPolicy : IPolicy
    {
        public int ObservationDim => 2;
        public int ActionDim => 1;
        public void Act(ReadOnlySpan<float> observation, Span<float> action, bool deterministic) => action.Clear();
    }

    [Fact]
    public void TheLoopsRefuseABoxOtherThanTheActorsAndNameAnEnvironmentsNaN()
    {
        using var backend = new CpuBackend(1);
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 2, 1, 64, 16, new DeviceRandom(1));
        using var evaluator = new Evaluator(new TimeLimit(new RescaleAction(new Reach("Reach-v0"), -1f, 1f), 10), null, 1);

        // The actor would never reach half of [−2, 2] while the random warm-up stored actions it cannot produce.
        using (var raw = new TimeLimit(new Reach("Reach-v0"), 10))
        {
            var error = Assert.Throws<ArgumentException>(() => Trainer(raw, backend, sampler, evaluator).Run());
            Assert.Contains("Reach-v0: the action box is [-2] to [2], not [-1, 1]", error.Message);
            Assert.Contains("RescaleAction", error.Message);
        }
        // A NaN reward used to surface hundreds of updates later as "losses/qf_loss = NaN".
        using var nan = new TimeLimit(new RescaleAction(new Reach("Reach-v0", nanRewardAt: 5), -1f, 1f), 10);
        var nanError = Assert.Throws<NonFiniteValueException>(() => Trainer(nan, backend, sampler, evaluator).Run());
        Assert.Contains("Reach-v0: the environment returned the reward NaN at step 5", nanError.Message);
    }

    [Fact]
    public void AnEvaluationThatNeverEndsStopsWithAnError()
    {
        using var evaluator = new Evaluator(new Reach("Reach-v0"), null, 1);
        var error = Assert.Throws<InvalidOperationException>(() => evaluator.Evaluate(new ZeroPolicy(), 1));
        Assert.Contains("Reach-v0: evaluation episode 1 has run 1,000,000 steps without ending; give the environment a time limit", error.Message);
    }
}
