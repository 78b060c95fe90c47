using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Online;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Envs;
using O2RL.Envs.Wrappers;

namespace O2RL.Algorithms.Training;

/// <summary>
/// Records D4RL-layout datasets by rolling a policy (or uniform random actions) in an environment: one row per
/// step with s, a, r, s′, terminals (true terminations only) and timeouts (time-limit ends), episodes back to
/// back as D4RL stores them.
/// </summary>
public static class DatasetCollection
{
    /// <summary>
    /// Runs <paramref name="steps"/> environment steps and returns the rows. Actions come from
    /// <paramref name="policy"/> (sampled unless <paramref name="deterministic"/>) or, when it is null, uniformly
    /// from the action space. Episode i is reset with seed DeriveSeed(<paramref name="seed"/>, i). When the budget
    /// ends inside an episode, that episode's rows carry neither flag (as the last episode of a D4RL file).
    /// </summary>
    public static TransitionDataset Collect(IEnvironment environment, IPolicy? policy, int steps, int seed, bool deterministic = false, DatasetMetadata? metadata = null,
        TextWriter? progress = null, string progressLabel = "collect")
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "collect at least one step");
        // Datasets feed actors, which act in [−1, 1]: actions in another box's units would be out of their reach.
        EnvironmentChecks.UnitActionBox(environment);
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        if (policy is not null && (policy.ObservationDim != obsDim || policy.ActionDim != actionDim))
            throw new ArgumentException($"policy maps {policy.ObservationDim} → {policy.ActionDim} but the environment has obs {obsDim} / action {actionDim}");
        var observations = new float[steps * obsDim];
        var nextObservations = new float[steps * obsDim];
        var actions = new float[steps * actionDim];
        var rewards = new float[steps];
        var terminals = new bool[steps];
        var timeouts = new bool[steps];
        var random = new EnvRandom(seed ^ 0x0DA7A);
        int episode = 0;
        var observation = new float[obsDim];
        environment.Reset(observation, EnvRandom.DeriveSeed(seed, episode++));
        var reporter = new ProgressReporter(progress, progressLabel, steps);
        for (int t = 0; t < steps; t++)
        {
            if ((t & 1023) == 0) reporter.Report(t);
            var action = actions.AsSpan(t * actionDim, actionDim);
            if (policy is null) environment.ActionSpace.Sample(random, action);
            else policy.Act(observation, action, deterministic);
            observation.CopyTo(observations.AsSpan(t * obsDim, obsDim));
            var next = nextObservations.AsSpan(t * obsDim, obsDim);
            var result = environment.Step(action, next);
            EnvironmentChecks.Transition(environment, result.Reward, next, t + 1);
            rewards[t] = (float)result.Reward;
            terminals[t] = result.Terminated;
            timeouts[t] = result.Truncated && !result.Terminated;
            if (result.Done) environment.Reset(observation, EnvRandom.DeriveSeed(seed, episode++));
            else next.CopyTo(observation);
        }
        reporter.Report(steps);
        reporter.Close();
        return new TransitionDataset(obsDim, actionDim, observations, actions, rewards, terminals, timeouts, nextObservations, metadata);
    }

    /// <summary>Mean undiscounted return of the dataset's complete episodes (ended by a terminal or a timeout).</summary>
    public static double MeanEpisodeReturn(TransitionDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        double total = 0;
        int count = 0, start = 0;
        double running = 0;
        for (int i = 0; i < dataset.RowCount; i++)
        {
            running += dataset.Rewards[i];
            if (dataset.Terminals[i] || dataset.Timeouts is { } timeouts && timeouts[i])
            {
                total += running; count++; running = 0; start = i + 1;
            }
        }
        if (count == 0) throw new ArgumentException($"the dataset of {dataset.RowCount} rows has no complete episode (rows {start}… never end)");
        return total / count;
    }

    /// <summary>
    /// Version string written into every generated file's metadata: the recipe's version and the build that ran it
    /// (the same command and seed on another build can train a different SAC run, so a different file).
    /// </summary>
    public static string GeneratorVersion { get; } = $"o2rl-dataset-recipe-1 (o2rl {O2RL.Engine.BuildInfo.Version})";

    /// <summary>
    /// Concatenates datasets row-wise (same dimensions); each part's trailing unfinished episode is dropped first
    /// so that the parts join at trajectory boundaries (D4RL's medium-expert).
    /// </summary>
    public static TransitionDataset Concatenate(DatasetMetadata metadata, params TransitionDataset[] parts)
    {
        if (parts.Length == 0) throw new ArgumentException("nothing to concatenate");
        int obsDim = parts[0].ObservationDim, actionDim = parts[0].ActionDim;
        var trimmed = parts.Select(p =>
        {
            if (p.ObservationDim != obsDim || p.ActionDim != actionDim)
                throw new ArgumentException($"datasets differ in dimensions: obs {p.ObservationDim} / action {p.ActionDim} vs {obsDim} / {actionDim}");
            int rows = p.RowCount;
            while (rows > 0 && !p.Terminals[rows - 1] && !(p.Timeouts?[rows - 1] ?? false)) rows--;
            return (Dataset: p, Rows: rows);
        }).ToList();
        int total = trimmed.Sum(t => t.Rows);
        var observations = new float[total * obsDim];
        var next = new float[total * obsDim];
        var actions = new float[total * actionDim];
        var rewards = new float[total];
        var terminals = new bool[total];
        var timeouts = new bool[total];
        int at = 0;
        foreach (var (p, rows) in trimmed)
        {
            p.Observations.AsSpan(0, rows * obsDim).CopyTo(observations.AsSpan(at * obsDim));
            (p.NextObservations ?? NextFromFollowingRows(p)).AsSpan(0, rows * obsDim).CopyTo(next.AsSpan(at * obsDim));
            p.Actions.AsSpan(0, rows * actionDim).CopyTo(actions.AsSpan(at * actionDim));
            p.Rewards.AsSpan(0, rows).CopyTo(rewards.AsSpan(at));
            p.Terminals.AsSpan(0, rows).CopyTo(terminals.AsSpan(at));
            if (p.Timeouts is not null) p.Timeouts.AsSpan(0, rows).CopyTo(timeouts.AsSpan(at));
            at += rows;
        }
        return new TransitionDataset(obsDim, actionDim, observations, actions, rewards, terminals, timeouts, next, metadata);
    }

    static float[] NextFromFollowingRows(TransitionDataset p)
    {
        var next = new float[p.Observations.Length];
        p.Observations.AsSpan(p.ObservationDim).CopyTo(next);
        return next;
    }
}

/// <summary>Which SAC policy rolls out the expert level.</summary>
public enum ExpertPolicy
{
    /// <summary>The policy at the end of training (D4RL's recipe; the default).</summary>
    Final,
    /// <summary>
    /// The policy of the best periodic evaluation (the first on ties), kept as a copy when evaluated. Not D4RL's recipe:
    /// for runs whose last policy is a poor one (our Hopper SAC swung between evaluations of about 1,100 and 3,300).
    /// </summary>
    BestEvaluated,
}

/// <summary>Settings of <see cref="DatasetRecipe.Generate"/>.</summary>
public sealed record DatasetRecipeOptions
{
    /// <summary>Rows of the random, medium and expert datasets (D4RL: 1,000,000).</summary>
    public int Rows { get; init; } = 1_000_000;
    /// <summary>
    /// The expert return the medium snapshot is measured against; null = the task's registered reference maximum
    /// (D4RL REF_MAX). Required for tasks without reference scores.
    /// </summary>
    public double? ExpertReturn { get; init; }
    /// <summary>Return of the random policy used as the zero of "one third"; null = the registered reference minimum, else 0.</summary>
    public double? RandomReturn { get; init; }
    /// <summary>Fraction of the way from random to expert return at which the medium snapshot is taken (D4RL: about 1/3).</summary>
    public double MediumFraction { get; init; } = 1.0 / 3.0;
    /// <summary>Seed of the SAC run and of the roll-outs.</summary>
    public int Seed { get; init; }
    /// <summary>
    /// The levels to write (a subset of <see cref="DatasetRecipe.AllLevels"/>). Without expert and medium-expert the
    /// SAC run stops at the medium snapshot, which is what makes the medium and medium-replay sets affordable.
    /// </summary>
    public IReadOnlyList<string> Levels { get; init; } = DatasetRecipe.AllLevels;
    /// <summary>
    /// Folder for full-state checkpoints of the SAC run (networks, optimisers, replay, the recorded rows, the medium
    /// snapshot once taken), so that a stopped run continues exactly; null = no checkpoints.
    /// </summary>
    public string? CheckpointDirectory { get; init; }
    /// <summary>Environment steps between checkpoints, taken at the next episode end; null = every evaluation.</summary>
    public long? CheckpointEvery { get; init; }
    /// <summary>A checkpoint written by an earlier run of the same recipe (same task, seed, levels and SAC config) to continue from.</summary>
    public string? ResumeCheckpoint { get; init; }
    /// <summary>Stops the SAC run between two environment steps (<see cref="OperationCanceledException"/>); the last checkpoint stays valid.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>Receives the SAC run's metrics (losses, evaluations); null = kept in memory only.</summary>
    public IMetricsSink? Metrics { get; init; }
    /// <summary>Which SAC policy rolls out the expert level (default: the final one, as D4RL).</summary>
    public ExpertPolicy ExpertPolicy { get; init; } = ExpertPolicy.Final;
}

/// <summary>
/// The datasets one recipe run produced, with their behaviour returns. A random-only recipe trains no SAC: its
/// <see cref="MediumSnapshotStep"/> is −1 and the returns are NaN.
/// </summary>
public sealed record DatasetRecipeResult(IReadOnlyDictionary<string, TransitionDataset> Datasets, IReadOnlyDictionary<string, string> Paths,
    long MediumSnapshotStep, double MediumSnapshotReturn, double ExpertSnapshotReturn)
{
    /// <summary>Environment steps SAC trained for (the medium snapshot step when the run stopped there).</summary>
    public long TrainedSteps { get; init; }
    /// <summary>
    /// The step whose policy rolled out the expert level: <see cref="TrainedSteps"/> for the final policy, the best
    /// evaluation's step for <see cref="ExpertPolicy.BestEvaluated"/>; −1 without an expert level. Its evaluation
    /// return is <see cref="ExpertSnapshotReturn"/>.
    /// </summary>
    public long ExpertSnapshotStep { get; init; } = -1;
}

/// <summary>
/// D4RL's dataset recipe (ENVIRONMENTS.md §3.3) for any registered environment: random (uniform actions),
/// medium (roll-outs of the SAC snapshot first evaluated at about one third of the way to the expert return,
/// sampled actions), medium-replay (that SAC run's replay up to the snapshot), expert (roll-outs of the SAC policy
/// trained to completion) and medium-expert (medium then expert, joined at a trajectory boundary). Each is written
/// with <see cref="D4rlHdf5.Write"/> as <c>&lt;env&gt;-&lt;level&gt;.hdf5</c> with metadata (env id, level, behaviour
/// return, generator version, seed, algorithm).
/// </summary>
public static class DatasetRecipe
{
    /// <summary>The five D4RL levels, in the order they are made.</summary>
    public static readonly IReadOnlyList<string> AllLevels = ["random", "medium", "medium-replay", "expert", "medium-expert"];

    /// <summary>Runs the recipe; SAC trains with <paramref name="sac"/> (its evaluations pick the medium snapshot).</summary>
    public static DatasetRecipeResult Generate(Backend backend, string environmentId, SacConfig sac, DatasetRecipeOptions options, string outputDirectory,
        TextWriter? progress = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(sac);
        ArgumentNullException.ThrowIfNull(options);
        if (sac.EvalEvery < 1) throw new ArgumentOutOfRangeException(nameof(sac), sac.EvalEvery, "the recipe needs periodic evaluations (eval_every ≥ 1) to pick the medium snapshot");
        var levels = new HashSet<string>(options.Levels ?? AllLevels);
        if (levels.Count == 0) throw new ArgumentException("choose at least one level", nameof(options));
        foreach (string level in levels)
            if (!AllLevels.Contains(level)) throw new ArgumentException($"unknown level '{level}' (levels: {string.Join(", ", AllLevels)})", nameof(options));
        if (levels.All(level => level == "random"))
        {
            // Uniform random actions need no policy: no SAC run (it used to train to the medium snapshot first, and to
            // fail when SAC did not get there).
            using var env = PolicyEnvironment.Make(environmentId, StateNormalizer.Identity(EnvironmentRegistry.GetSpec(environmentId).ObservationDim));
            var randomSet = WithReturn(DatasetCollection.Collect(env, null, options.Rows, options.Seed + 1, progress: progress, progressLabel: "random"),
                environmentId, "random", options.Seed + 1, "uniform random actions");
            Directory.CreateDirectory(outputDirectory);
            string randomPath = Path.Combine(outputDirectory, $"{environmentId.ToLowerInvariant()}-random.hdf5");
            D4rlHdf5.Write(randomSet, randomPath);
            return new DatasetRecipeResult(new Dictionary<string, TransitionDataset> { ["random"] = randomSet }, new Dictionary<string, string> { ["random"] = randomPath },
                -1, double.NaN, double.NaN) { TrainedSteps = 0, ExpertSnapshotStep = -1 };
        }
        bool referenced = NormalizedScores.TryGet(environmentId, out var reference);
        double expert = options.ExpertReturn ?? (referenced ? reference.Max
            : throw new ArgumentException($"'{environmentId}' has no reference scores; pass the expert return (o2rl collect --expert-return R; DatasetRecipeOptions.ExpertReturn)"));
        double random = options.RandomReturn ?? (referenced ? reference.Min : 0.0);
        double threshold = random + options.MediumFraction * (expert - random);
        // Expert data needs SAC trained to the end; without it the run stops as soon as the medium snapshot exists.
        bool needsExpert = levels.Contains("expert") || levels.Contains("medium-expert");
        // Stops SAC at the medium snapshot, or when the caller cancels.
        using var stopAtMedium = CancellationTokenSource.CreateLinkedTokenSource(options.Cancellation);
        bool stoppedAtSnapshot = false;

        var spec = EnvironmentRegistry.GetSpec(environmentId);
        var identity = StateNormalizer.Identity(spec.ObservationDim);
        var agent = new SacAgent(backend, spec.ObservationDim, spec.ActionDim, sac, (ulong)options.Seed);
        var medium = new Networks.TanhGaussianActor(backend, spec.ObservationDim, spec.ActionDim, 0, trainable: true, hiddenDims: sac.ActorHidden);
        var best = needsExpert && options.ExpertPolicy == ExpertPolicy.BestEvaluated ? new Networks.TanhGaussianActor(backend, spec.ObservationDim, spec.ActionDim, 0, trainable: true, hiddenDims: sac.ActorHidden) : null;
        using var recorder = new RecordingEnvironment(PolicyEnvironment.Make(environmentId, identity));
        using var evaluator = new Evaluator(PolicyEnvironment.Make(environmentId, identity), null, options.Seed + 10_000);
        int capacity = (int)Math.Min(sac.ReplayCapacity, Math.Max(sac.TotalSteps, sac.BatchSize + 1));
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, spec.ObservationDim, spec.ActionDim, capacity, sac.BatchSize,
            new DeviceRandom((ulong)options.Seed * 7 + 5));
        var run = new RecipeRunState(agent, recorder, medium, best, environmentId, options.Seed, threshold, string.Join(",", levels.Order(StringComparer.Ordinal)));
        if (options.CheckpointDirectory is not null) Directory.CreateDirectory(options.CheckpointDirectory);
        var checkpoints = TrainingCheckpoints.Create(options.CheckpointDirectory, options.CheckpointEvery, sac.EvalEvery, options.ResumeCheckpoint,
            run, RecipeRunState.Algorithm);
        var trainer = new OffPolicyTrainer(recorder, evaluator, agent, sampler, new OffPolicyLoopOptions
        {
            TotalSteps = sac.TotalSteps, WarmupSteps = sac.WarmupSteps, RandomWarmup = true, UpdatesPerStep = sac.UpdatesPerStep,
            EvaluateEvery = sac.EvalEvery, EvaluationEpisodes = sac.EvalEpisodes, LogEvery = sac.LogEvery, Seed = options.Seed,
        }, options.Metrics ?? new MemoryMetrics(), progress)
        {
            Cancellation = stopAtMedium.Token,
            Checkpoints = checkpoints,
            OnEvaluation = (step, result) =>
            {
                // Strictly better (the first of equal evaluations stays); a NaN return never counts as better.
                if (best is not null && result.MeanReturn > run.BestReturn)
                {
                    run.BestStep = step; run.BestReturn = result.MeanReturn;
                    best.Parameters.CopyValuesFrom(agent.Learner.Actor.Parameters);
                }
                if (run.SnapshotStep >= 0 || result.MeanReturn < threshold) return;
                run.SnapshotStep = step; run.SnapshotReturn = result.MeanReturn;
                medium.Parameters.CopyValuesFrom(agent.Learner.Actor.Parameters);
                if (!needsExpert)
                {
                    stoppedAtSnapshot = true;
                    stopAtMedium.Cancel();
                }
            },
        };
        double finalReturn = double.NaN;
        try
        {
            finalReturn = (trainer.Run() ?? evaluator.Evaluate(agent.Policy, sac.EvalEpisodes)).MeanReturn;
        }
        catch (OperationCanceledException) when (stoppedAtSnapshot)
        {
            // Stopped on purpose at the medium snapshot: there is no expert policy, and its return stays NaN.
        }
        long snapshotStep = run.SnapshotStep;
        double snapshotReturn = run.SnapshotReturn;
        if (snapshotStep < 0)
            throw new InvalidOperationException($"SAC never reached the medium threshold {threshold:F1} (final return {finalReturn:F1}); train longer or lower the expert return");

        var datasets = new Dictionary<string, TransitionDataset>();
        if (levels.Contains("random"))
            using (var env = PolicyEnvironment.Make(environmentId, identity))
                datasets["random"] = WithReturn(DatasetCollection.Collect(env, null, options.Rows, options.Seed + 1, progress: progress, progressLabel: "random"), environmentId, "random", options.Seed + 1,
                    "uniform random actions");
        if (levels.Contains("medium") || levels.Contains("medium-expert"))
            using (var env = PolicyEnvironment.Make(environmentId, identity))
                datasets["medium"] = WithReturn(DatasetCollection.Collect(env, PolicyCheckpoints.Acting(backend, medium, new DeviceRandom((ulong)(options.Seed + 2) * 13 + 1)), options.Rows, options.Seed + 2, progress: progress, progressLabel: "medium"), environmentId, "medium", options.Seed + 2,
                    Described($"SAC policy at step {snapshotStep:N0} (first evaluation past one third, return {snapshotReturn:F1}), sampled actions"));
        // The SAC run's replay up to the snapshot: the first snapshotStep recorded rows.
        if (levels.Contains("medium-replay"))
            datasets["medium-replay"] = WithReturn(recorder.ToDataset(DatasetMetadata.Empty, (int)snapshotStep), environmentId, "medium-replay", options.Seed,
                Described($"the SAC run's replay up to step {snapshotStep:N0}"));
        long expertStep = -1;
        double expertReturn = finalReturn;
        if (needsExpert)
        {
            var expertActor = agent.Learner.Actor;
            expertStep = trainer.Step;
            string expertPolicy = Described($"SAC policy after {trainer.Step:N0} steps (final, evaluation return {finalReturn:F1}), sampled actions");
            if (best is not null && run.BestStep >= 0)
            {
                if (progress is not null && run.BestStep != trainer.Step)
                    progress.WriteLine($"expert level: the policy of the best evaluation (step {run.BestStep:N0}, return {run.BestReturn:F1}), not the final one (return {finalReturn:F1})");
                expertActor = best; expertStep = run.BestStep; expertReturn = run.BestReturn;
                expertPolicy = Described($"SAC policy at step {run.BestStep:N0} of {trainer.Step:N0} (best evaluation, return {run.BestReturn:F1}), sampled actions");
            }
            using (var env = PolicyEnvironment.Make(environmentId, identity))
                datasets["expert"] = WithReturn(DatasetCollection.Collect(env, PolicyCheckpoints.Acting(backend, expertActor, new DeviceRandom((ulong)(options.Seed + 3) * 13 + 1)), options.Rows, options.Seed + 3, progress: progress, progressLabel: "expert"), environmentId, "expert", options.Seed + 3, expertPolicy);
        }
        if (levels.Contains("medium-expert"))
        {
            var mediumExpert = DatasetCollection.Concatenate(DatasetMetadata.Empty, datasets["medium"], datasets["expert"]);
            datasets["medium-expert"] = WithReturn(mediumExpert, environmentId, "medium-expert", options.Seed,
                $"medium ({datasets["medium"].Metadata.BehaviourPolicy}) then expert ({datasets["expert"].Metadata.BehaviourPolicy})");
        }
        // Parts made only to build medium-expert are not written unless asked for.
        foreach (string level in datasets.Keys.ToList())
            if (!levels.Contains(level)) datasets.Remove(level);

        Directory.CreateDirectory(outputDirectory);
        var paths = new Dictionary<string, string>();
        foreach (var (level, dataset) in datasets)
        {
            string path = Path.Combine(outputDirectory, $"{environmentId.ToLowerInvariant()}-{level}.hdf5");
            D4rlHdf5.Write(dataset, path);
            paths[level] = path;
        }
        return new DatasetRecipeResult(datasets, paths, snapshotStep, snapshotReturn, expertReturn) { TrainedSteps = trainer.Step, ExpertSnapshotStep = expertStep };
    }

    static DatasetMetadata Metadata(string environmentId, string level, double? behaviourReturn, long seed, string behaviourPolicy) => new()
    {
        EnvironmentId = environmentId, Level = level, BehaviourReturn = behaviourReturn, GeneratorVersion = DatasetCollection.GeneratorVersion,
        Seed = seed, Algorithm = "SAC", BehaviourPolicy = behaviourPolicy,
    };

    /// <summary>The same rows with metadata whose behaviour return is the mean return of the complete episodes.</summary>
    static TransitionDataset WithReturn(TransitionDataset d, string environmentId, string level, long seed, string behaviourPolicy) =>
        new(d.ObservationDim, d.ActionDim, d.Observations, d.Actions, d.Rewards, d.Terminals, d.Timeouts, d.NextObservations,
            Metadata(environmentId, level, DatasetCollection.MeanEpisodeReturn(d), seed, behaviourPolicy));

    /// <summary>Numbers in a description written the same on every machine.</summary>
    static string Described(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>Records every step taken through it in D4RL layout (the SAC run's replay, with terminals and timeouts).</summary>
    sealed class RecordingEnvironment(IEnvironment inner) : EnvironmentWrapper(inner)
    {
        readonly List<float> observations = [], nextObservations = [], actions = [], rewards = [];
        readonly List<bool> terminals = [], timeouts = [];
        float[] current = [];

        public override void Reset(Span<float> observation, int? seed = null)
        {
            base.Reset(observation, seed);
            current = observation.ToArray();
        }

        public override StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
        {
            var result = base.Step(action, observation);
            observations.AddRange(current);
            foreach (float a in action) actions.Add(a);
            rewards.Add((float)result.Reward);
            terminals.Add(result.Terminated);
            timeouts.Add(result.Truncated && !result.Terminated);
            foreach (float o in observation) nextObservations.Add(o);
            current = observation.ToArray();
            return result;
        }

        /// <summary>Steps recorded so far.</summary>
        public long RecordedSteps => rewards.Count;

        /// <summary>The first <paramref name="rows"/> recorded steps.</summary>
        public TransitionDataset ToDataset(DatasetMetadata metadata, int rows)
        {
            int obsDim = ObservationSpace.Dimension, actionDim = ActionSpace.Dimension;
            if (rows < 0 || rows > rewards.Count) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"{rewards.Count} steps were recorded");
            return new(obsDim, actionDim, observations.GetRange(0, rows * obsDim).ToArray(), actions.GetRange(0, rows * actionDim).ToArray(),
                rewards.GetRange(0, rows).ToArray(), terminals.GetRange(0, rows).ToArray(), timeouts.GetRange(0, rows).ToArray(),
                nextObservations.GetRange(0, rows * obsDim).ToArray(), metadata);
        }

        public void Save(TrainingState state, string name)
        {
            int rows = rewards.Count, obsDim = ObservationSpace.Dimension, actionDim = ActionSpace.Dimension;
            state.SetTensor(name + ".observations", [rows, obsDim], [.. observations]);
            state.SetTensor(name + ".actions", [rows, actionDim], [.. actions]);
            state.SetTensor(name + ".rewards", [rows], [.. rewards]);
            state.SetTensor(name + ".next_observations", [rows, obsDim], [.. nextObservations]);
            state.SetTensor(name + ".terminals", [rows], [.. terminals.Select(t => t ? 1f : 0f)]);
            state.SetTensor(name + ".timeouts", [rows], [.. timeouts.Select(t => t ? 1f : 0f)]);
        }

        public void Restore(TrainingState state, string name, long expectedRows)
        {
            int obsDim = ObservationSpace.Dimension, actionDim = ActionSpace.Dimension;
            float[] Read(string part, int width)
            {
                var tensor = state.GetTensor(name + "." + part);
                if (tensor.Data.LongLength != expectedRows * width)
                    throw new InvalidDataException($"{state.Source}: '{name}.{part}' holds {tensor.Data.Length} values, not {expectedRows} steps × {width}");
                return tensor.Data;
            }
            var readObservations = Read("observations", obsDim);
            var readActions = Read("actions", actionDim);
            var readRewards = Read("rewards", 1);
            var readNext = Read("next_observations", obsDim);
            var readTerminals = Read("terminals", 1);
            var readTimeouts = Read("timeouts", 1);
            observations.Clear(); observations.AddRange(readObservations);
            actions.Clear(); actions.AddRange(readActions);
            rewards.Clear(); rewards.AddRange(readRewards);
            nextObservations.Clear(); nextObservations.AddRange(readNext);
            terminals.Clear(); terminals.AddRange(readTerminals.Select(t => t != 0f));
            timeouts.Clear(); timeouts.AddRange(readTimeouts.Select(t => t != 0f));
        }
    }

    /// <summary>
    /// What a recipe run adds to SAC's training state for an exact resume: the recorded rows (medium-replay is
    /// their prefix), the medium snapshot once taken (step, return, actor), and what identifies the recipe.
    /// </summary>
    sealed class RecipeRunState(SacAgent agent, RecordingEnvironment recorder, Networks.TanhGaussianActor medium,
        Networks.TanhGaussianActor? best, string environmentId, int seed, double threshold, string levels) : IResumableAgent
    {
        public const string Algorithm = "sac-dataset-recipe";

        public long SnapshotStep = -1;
        public double SnapshotReturn = double.NaN;
        /// <summary>The best evaluation so far, kept when the expert level rolls out that policy (best is then not null).</summary>
        public long BestStep = -1;
        public double BestReturn = double.NegativeInfinity;

        string ExpertRule => best is null ? "final" : "best-evaluated";

        public void SaveState(TrainingState state)
        {
            agent.SaveState(state);
            state.SetText("recipe.environment", environmentId);
            state.SetCounter("recipe.seed", seed);
            state.SetReal("recipe.threshold", threshold);
            state.SetText("recipe.levels", levels);
            state.SetCounter("recipe.recorded_steps", recorder.RecordedSteps);
            recorder.Save(state, "recipe.recorded");
            state.SetCounter("recipe.snapshot_step", SnapshotStep);
            state.SetReal("recipe.snapshot_return", SnapshotReturn);
            if (SnapshotStep >= 0) state.SetParameters("recipe.medium_actor", medium.Parameters);
            state.SetText("recipe.expert_policy", ExpertRule);
            if (best is not null)
            {
                state.SetCounter("recipe.best_step", BestStep);
                state.SetReal("recipe.best_return", BestReturn);
                if (BestStep >= 0) state.SetParameters("recipe.best_actor", best.Parameters);
            }
        }

        public void RestoreState(TrainingState state)
        {
            Check("task", state.GetTextOrNull("recipe.environment"), environmentId);
            Check("seed", state.GetCounter("recipe.seed").ToString(System.Globalization.CultureInfo.InvariantCulture), seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Check("levels", state.GetTextOrNull("recipe.levels"), levels);
            // Checkpoints from before the rule existed rolled out the final policy.
            Check("expert policy", state.GetTextOrNull("recipe.expert_policy") ?? "final", ExpertRule);
            double storedThreshold = state.GetReal("recipe.threshold");
            if (storedThreshold != threshold)
                throw new InvalidDataException($"{state.Source}: the medium threshold was {storedThreshold:R} but this run's is {threshold:R}; the expert or random return differs");
            agent.RestoreState(state);
            long steps = state.GetCounter("recipe.recorded_steps");
            if (steps != state.GetCounter("trainer.step"))
                throw new InvalidDataException($"{state.Source}: {steps} recorded steps at environment step {state.GetCounter("trainer.step")}");
            recorder.Restore(state, "recipe.recorded", steps);
            SnapshotStep = state.GetCounter("recipe.snapshot_step");
            SnapshotReturn = state.GetReal("recipe.snapshot_return");
            if (SnapshotStep >= 0) state.RestoreParameters("recipe.medium_actor", medium.Parameters);
            if (best is not null)
            {
                BestStep = state.GetCounter("recipe.best_step");
                BestReturn = state.GetReal("recipe.best_return");
                if (BestStep >= 0) state.RestoreParameters("recipe.best_actor", best.Parameters);
            }

            void Check(string what, string? stored, string expected)
            {
                if (stored != expected)
                    throw new InvalidDataException($"{state.Source} was saved by a recipe run with {what} '{stored}'; this run has '{expected}'");
            }
        }
    }
}
