using O2RL.Algorithms.Runs;
using O2RL.Data;
using O2RL.Engine;
using O2RL.Envs;

namespace O2RL.Algorithms.Training;

/// <summary>
/// Everything a training run needs from its caller (the CLI, a sweep, a test): device, task, seed, where to write,
/// where to log, and the config layers. Algorithms resolve their own config from it with
/// <see cref="Configs.ConfigLoader"/> (defaults → shipped per-task file → <see cref="ConfigFile"/> → <see cref="Overrides"/>).
/// </summary>
public sealed record RunContext
{
    /// <summary>The compute device.</summary>
    public required Backend Backend { get; init; }
    /// <summary>Environment id from the registry (e.g. "Pendulum-v1", "Hopper-v2").</summary>
    public required string EnvironmentId { get; init; }
    /// <summary>Seed of networks, sampling and environments.</summary>
    public int Seed { get; init; }
    /// <summary>Dataset file (D4RL HDF5 layout) for offline learning or offline mixing; null for pure online runs.</summary>
    public string? DatasetPath { get; init; }
    /// <summary>
    /// Dataset level used to pick per-task configs and reference scores (e.g. "medium", "medium-replay"); null = tell it
    /// from the environment id or the dataset file (<see cref="ResolveDatasetName"/>).
    /// </summary>
    public string? DatasetName { get; init; }
    /// <summary>Task id for normalised scores (e.g. "hopper-medium-v2", "Pendulum-v1"); null = environment id.</summary>
    public string? ScoreTaskId { get; init; }
    /// <summary>Run folder for checkpoints and the resolved config; null = write nothing.</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>A user config file (--config).</summary>
    public string? ConfigFile { get; init; }
    /// <summary>key=value overrides (--set), applied last.</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];
    /// <summary>Metrics destination.</summary>
    public IMetricsSink Metrics { get; init; } = new MemoryMetrics();
    /// <summary>Where progress lines go; null = quiet.</summary>
    public TextWriter? Progress { get; init; }
    /// <summary>Checkpoint to start from (fine-tuning, naive baselines); null = from scratch.</summary>
    public string? InitialCheckpoint { get; init; }
    /// <summary>
    /// Environment steps between full-state checkpoints in <see cref="OutputDirectory"/>/checkpoints (taken at the
    /// first episode end at or after each interval; offline runs count gradient updates and save at every multiple);
    /// null = at the evaluation interval, 0 = never.
    /// </summary>
    public long? CheckpointEvery { get; init; }
    /// <summary>A full-state checkpoint (written by a run of the same algorithm, config and seed) to continue from; null = start fresh.</summary>
    public string? ResumeCheckpoint { get; init; }
    /// <summary>Stops training between two environment steps (Ctrl+C, tests); the loop throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>
    /// <see cref="DatasetName"/> when given, else the level <see cref="Configs.DatasetLevels.Infer"/> reads from the
    /// environment id or <see cref="DatasetPath"/> (null when neither says). A method, not a property, because it may
    /// open the dataset file.
    /// </summary>
    public string? ResolveDatasetName() => DatasetName ?? Configs.DatasetLevels.Infer(EnvironmentId, DatasetPath)?.Name;

    /// <summary>
    /// Reads <see cref="DatasetPath"/> (D4RL layout) and checks that its observations and actions have the sizes of
    /// <see cref="EnvironmentId"/>'s: a dataset of another task is refused naming both, instead of failing later with
    /// a message about a policy or a normaliser.
    /// </summary>
    public TransitionDataset ReadDataset()
    {
        string path = DatasetPath ?? throw new ArgumentException("this run needs a dataset file (--dataset FILE)");
        var dataset = D4rlHdf5.Read(path);
        var spec = EnvironmentRegistry.GetSpec(EnvironmentId);
        if (dataset.ObservationDim != spec.ObservationDim || dataset.ActionDim != spec.ActionDim)
            throw new ArgumentException($"dataset '{path}' has {dataset.ObservationDim} observation and {dataset.ActionDim} action dimensions but " +
                $"{EnvironmentId} has {spec.ObservationDim} and {spec.ActionDim}: is it a dataset of another task?");
        CheckActionsInActorSpace(dataset, path, EnvironmentId);
        return dataset;
    }

    /// <summary>
    /// Dataset actions beyond 1 + this are refused: D4RL's and our collected actions lie in [−1, 1] exactly, and this
    /// leaves room for float rounding in a converted file, not for actions in another unit.
    /// </summary>
    public const float ActionTolerance = 1e-4f;

    /// <summary>
    /// Refuses a dataset whose actions leave [−1, 1], naming the row, column and value. Every actor acts in [−1, 1]
    /// (the environment's box is rescaled to it), so actions in the task's own units (a controller's log of a [−2, 2]
    /// task) would fit critics on actions the tanh actor cannot reach, and PPO's ±(1 − 1e-5) clip would cut them
    /// without a word.
    /// </summary>
    public static void CheckActionsInActorSpace(TransitionDataset dataset, string path, string environmentId)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        float[] actions = dataset.Actions;
        int worst = -1;
        for (int k = 0; k < actions.Length; k++)
            if (MathF.Abs(actions[k]) > 1f + ActionTolerance && (worst < 0 || MathF.Abs(actions[k]) > MathF.Abs(actions[worst]))) worst = k;
        if (worst < 0) return;
        long outside = actions.LongCount(a => MathF.Abs(a) > 1f + ActionTolerance);
        string box = "";
        try
        {
            using var environment = EnvironmentRegistry.Make(environmentId, timeLimit: false);
            var space = environment.ActionSpace;
            box = FormattableString.Invariant($" ({environmentId}'s own box has low [{string.Join(", ", space.Low.ToArray())}] and high [{string.Join(", ", space.High.ToArray())}])");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or DllNotFoundException)
        {
            // The box only decorates the message; an unknown id or a missing native library must not hide the error.
        }
        throw new ArgumentException(FormattableString.Invariant(
            $"dataset '{path}': actions reach {actions[worst]} (row {worst / dataset.ActionDim}, column {worst % dataset.ActionDim}; {outside} values outside [−1, 1]). ") +
            "Our actors act in [−1, 1] and datasets must store actions in that space" + box +
            ": rescale them with a' = 2·(a − low)/(high − low) − 1, or clip them if they only overshoot the box.");
    }

    /// <summary>
    /// Writes the resolved config to <see cref="OutputDirectory"/>/config.json (nothing when there is no output
    /// folder), replacing the file atomically. Runs call it as soon as their config is final and before any long work,
    /// so a run that stops early (an exception, Ctrl+C, a killed process) still says how it was configured, and a
    /// resumed run re-records the same file.
    /// </summary>
    public void RecordConfig(string resolvedConfigJson)
    {
        ArgumentNullException.ThrowIfNull(resolvedConfigJson);
        if (OutputDirectory is null) return;
        AtomicFile.WriteAllText(Path.Combine(OutputDirectory, RunFolder.ConfigFile), resolvedConfigJson);
    }

    /// <summary>
    /// Writes the run's final policy file, <see cref="OutputDirectory"/>/<paramref name="algorithm"/>.safetensors, with
    /// <paramref name="save"/> (the same writer the step checkpoints use) and returns its path; null and nothing written
    /// when there is no output folder.
    /// </summary>
    public string? SaveFinalPolicy(string algorithm, Action<string> save)
    {
        ArgumentNullException.ThrowIfNull(save);
        if (OutputDirectory is null) return null;
        Directory.CreateDirectory(OutputDirectory);
        string path = Path.Combine(OutputDirectory, algorithm + ".safetensors");
        save(path);
        return path;
    }
}

/// <summary>What a run produced.</summary>
public sealed record RunResult(EvaluationResult? FinalEvaluation, string? CheckpointPath, string ResolvedConfigJson);
