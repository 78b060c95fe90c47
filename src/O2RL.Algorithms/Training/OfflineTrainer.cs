using System.Diagnostics;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Algorithms.Training;

/// <summary>An offline learner (CQL, IQL, TD3+BC) as the offline loop sees it; its full state can be saved and restored.</summary>
public interface IOfflineAgent : IResumableAgent
{
    /// <summary>The evaluation policy (evaluated deterministically).</summary>
    IPolicy Policy { get; }

    /// <summary>One gradient update on a dataset minibatch.</summary>
    void Update(TransitionBatch batch);

    /// <summary>Logs the latest losses and coefficients (reads device scalars; called only at log steps).</summary>
    void LogMetrics(IMetricsSink metrics, long step);
}

/// <summary>
/// Settings of the offline loop. A step is one gradient update; metrics and evaluations are logged against it.
/// </summary>
public sealed record OfflineLoopOptions
{
    /// <summary>Gradient updates to make.</summary>
    public long TotalUpdates { get; init; } = 1_000_000;
    /// <summary>Log the agent's losses, time/update and charts/sps every this many updates (0 = only where <see cref="LogAtEnd"/> says).</summary>
    public int LogEvery { get; init; } = 1_000;
    /// <summary>Also log at the last update when it is not a multiple of <see cref="LogEvery"/>.</summary>
    public bool LogAtEnd { get; init; }
    /// <summary>Evaluate every this many updates (0 = only where <see cref="EvaluateAtEnd"/> says).</summary>
    public int EvaluateEvery { get; init; } = 5_000;
    /// <summary>Also evaluate at the last update when it is not a multiple of <see cref="EvaluateEvery"/>.</summary>
    public bool EvaluateAtEnd { get; init; }
    /// <summary>Episodes per evaluation.</summary>
    public int EvaluationEpisodes { get; init; } = 10;
    /// <summary>Name on the progress line (e.g. "cql").</summary>
    public string ProgressLabel { get; init; } = "offline";
}

/// <summary>
/// The loop shared by the offline learners: sample a minibatch with the algorithm's own sampler, update, log the
/// losses (plus time/update in milliseconds and charts/sps in updates per second) every
/// <see cref="OfflineLoopOptions.LogEvery"/> updates, evaluate every <see cref="OfflineLoopOptions.EvaluateEvery"/>,
/// flush once per logged step, report progress. Deterministic given its seeds on the CPU backend.
/// <para>
/// With <see cref="Checkpoints"/> it saves the full state (agent, sampler random stream, loop counters, last
/// evaluation and the dataset's fingerprint) every <see cref="TrainingCheckpoints.Interval"/> updates, after that
/// step's values are flushed, and it can continue from such a state exactly: the dataset is fixed, so the sampler's
/// random counter is all of the sampler's state. A non-finite loss (seen where losses are logged) stops it with a
/// <see cref="TrainingDivergedException"/>; <see cref="Cancellation"/> stops it between two updates.
/// </para>
/// </summary>
/// <param name="evaluator">Evaluates the agent's policy (its episode counter is part of the saved state).</param>
/// <param name="agent">The learner.</param>
/// <param name="sample">Draws the next minibatch (the algorithm's own sampler; it must draw only from <paramref name="samplingRandom"/>).</param>
/// <param name="samplingRandom">The only random stream <paramref name="sample"/> reads; its counter is saved.</param>
/// <param name="dataset">The dataset's fingerprint, saved with every state and checked on resume.</param>
/// <param name="options">Loop settings.</param>
/// <param name="metrics">Metrics destination.</param>
/// <param name="progressOutput">Where progress lines go; null = quiet.</param>
public sealed class OfflineTrainer(Evaluator evaluator, IOfflineAgent agent, Func<TransitionBatch> sample, DeviceRandom samplingRandom,
    DatasetFingerprint dataset, OfflineLoopOptions options, IMetricsSink metrics, TextWriter? progressOutput = null)
{
    /// <summary>Full-state checkpoints and the state to resume from; null = neither.</summary>
    public TrainingCheckpoints? Checkpoints { get; init; }

    /// <summary>Stops the loop between two updates (it throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Updates made so far (the step metrics are logged at).</summary>
    public long Step { get; private set; }

    /// <summary>Runs the loop to <see cref="OfflineLoopOptions.TotalUpdates"/>; returns the last evaluation (or null when none ran).</summary>
    public EvaluationResult? Run()
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(samplingRandom);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(metrics);
        if (options.TotalUpdates < 0) throw new ArgumentOutOfRangeException(nameof(options), options.TotalUpdates, "total updates cannot be negative");
        if (options.LogEvery < 0 || options.EvaluateEvery < 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"log_every {options.LogEvery} and evaluate_every {options.EvaluateEvery} must be ≥ 0");
        if (Checkpoints is not null && !ReferenceEquals(Checkpoints.Agent, agent))
            throw new ArgumentException("the checkpoints save another agent than the one this loop trains", nameof(Checkpoints));

        var watch = new LossWatch(metrics);
        EvaluationResult? last = null;
        if (Checkpoints?.ResumeState is TrainingState resume)
        {
            last = Restore(resume);
            Checkpoints.MarkResumed(Step);
        }

        var progress = new ProgressReporter(progressOutput, options.ProgressLabel, options.TotalUpdates, startedAt: Step);
        // time/update times sampling plus the update alone; charts/sps is wall-clock throughput, evaluations included.
        var updateClock = new Stopwatch();
        var wallClock = Stopwatch.StartNew();
        long updatesSinceLog = 0, stepAtLastCheck = Step;
        double secondsAtLastLog = 0;
        try
        {
            while (Step < options.TotalUpdates)
            {
                Cancellation.ThrowIfCancellationRequested();
                updateClock.Start();
                agent.Update(sample());
                updateClock.Stop();
                Step++;
                updatesSinceLog++;

                bool end = Step == options.TotalUpdates;
                bool log = options.LogEvery > 0 && Step % options.LogEvery == 0 || options.LogAtEnd && end;
                bool evaluate = options.EvaluateEvery > 0 && Step % options.EvaluateEvery == 0 || options.EvaluateAtEnd && end;
                if (log)
                {
                    agent.LogMetrics(watch, Step);
                    double seconds = wallClock.Elapsed.TotalSeconds;
                    metrics.Log(Step, "time/update", updateClock.Elapsed.TotalMilliseconds / updatesSinceLog);
                    metrics.Log(Step, "charts/sps", updatesSinceLog / Math.Max(seconds - secondsAtLastLog, 1e-9));
                    updateClock.Reset(); updatesSinceLog = 0; secondsAtLastLog = seconds;
                    if (watch.FirstNonFinite is var (name, value))
                    {
                        // The values of this step stay on record; the state is not saved, the last good checkpoint is kept.
                        metrics.Flush(Step);
                        throw new TrainingDivergedException(
                            $"{name} = {value} at update {Step:N0}, first seen between updates {stepAtLastCheck + 1:N0} and {Step:N0}",
                            Checkpoints?.LastGoodStep ?? -1, Checkpoints?.LastSavedPath);
                    }
                    stepAtLastCheck = Step;
                }
                if (evaluate)
                {
                    try { last = evaluator.Evaluate(agent.Policy, options.EvaluationEpisodes); }
                    catch (NonFiniteActionException nan)
                    {
                        metrics.Flush(Step);
                        throw new TrainingDivergedException($"{nan.Message} at update {Step:N0} (updates {stepAtLastCheck + 1:N0}–{Step:N0} since the last check)",
                            Checkpoints?.LastGoodStep ?? -1, Checkpoints?.LastSavedPath);
                    }
                    metrics.Log(Step, "eval/return", last.MeanReturn);
                    if (last.NormalizedMean is double normalized) metrics.Log(Step, "eval/normalized_return", normalized);
                    Checkpoints?.Evaluated(Step, last);
                }
                if (log || evaluate) metrics.Flush(Step);
                // Every value of this step is flushed; the final step needs no state (the run writes its final files).
                if (Checkpoints is { Interval: > 0 } checkpoints && Step % checkpoints.Interval == 0 && !end)
                    checkpoints.Save(Step, SaveLoopState(last));
                progress.Report(Step, last?.Score ?? double.NaN);
            }
        }
        finally
        {
            progress.Close();
        }
        return last;
    }

    TrainingState SaveLoopState(EvaluationResult? last)
    {
        var state = new TrainingState();
        dataset.Save(state);
        state.SetCounter("trainer.evaluation_episodes_run", evaluator.EpisodesRun);
        state.SetRandom("offline.sampling_random", samplingRandom);
        EvaluationState.Save(state, last);
        return state;
    }

    EvaluationResult? Restore(TrainingState state)
    {
        // The dataset first: a state of another dataset would otherwise fail later on a less telling shape mismatch.
        dataset.CheckSameAs(state);
        long step = state.GetCounter("trainer.step");
        if (step < 0 || step > options.TotalUpdates)
            throw new InvalidDataException($"{state.Source}: saved at update {step} but this run stops at {options.TotalUpdates}");
        Step = step;
        evaluator.EpisodesRun = (int)state.GetCounter("trainer.evaluation_episodes_run");
        state.RestoreRandom("offline.sampling_random", samplingRandom);
        agent.RestoreState(state);
        return EvaluationState.Restore(state);
    }
}
