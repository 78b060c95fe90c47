using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Envs;
using O2RL.Envs.Wrappers;

namespace O2RL.Algorithms.Training;

/// <summary>An on-policy learner (PPO, and O2PPO's fine-tuning stage) as the rollout loop sees it.</summary>
public interface IOnPolicyAgent
{
    /// <summary>The deterministic policy (Gaussian mean) used for evaluation.</summary>
    IPolicy Policy { get; }

    /// <summary>
    /// Draws the exploration action for one (normalised) observation: a ~ N(μ(s), σ²) clamped to [−1, 1], and
    /// log π(a_j|s) of the clamped action per coordinate under the unclamped Gaussian (pitfall 15).
    /// </summary>
    /// <param name="observation">s: [obsDim].</param>
    /// <param name="action">receives a: [actDim].</param>
    /// <param name="logProbs">receives log π_old(a_j|s): [actDim].</param>
    void Act(ReadOnlySpan<float> observation, Span<float> action, Span<float> logProbs);

    /// <summary>One PPO update on a full rollout; <paramref name="environmentStep"/> is t (steps taken so far).</summary>
    void Update(RolloutBuffer rollout, long environmentStep);

    /// <summary>Logs the latest losses (reads device scalars; called once per update).</summary>
    void LogMetrics(IMetricsSink metrics, long step);
}

/// <summary>Maps raw observations to what the policy sees, optionally learning running statistics from them.</summary>
public interface IObservationFilter
{
    /// <summary>Normalises in place; updates the statistics first when <paramref name="update"/> (training steps only).</summary>
    void Apply(Span<float> observation, bool update);

    /// <summary>The constants a deployment (or checkpoint) must use: s ← (s − mean) / std, as of now.</summary>
    StateNormalizer Snapshot();
}

/// <summary>Fixed constants (fine-tuning: the offline data's statistics, never updated).</summary>
public sealed class FixedObservationFilter(StateNormalizer normalizer) : IObservationFilter
{
    /// <summary>The constants.</summary>
    public StateNormalizer Normalizer { get; } = normalizer;

    /// <inheritdoc/>
    public void Apply(Span<float> observation, bool update) => Normalizer.NormalizeInPlace(observation);

    /// <inheritdoc/>
    public StateNormalizer Snapshot() => Normalizer;
}

/// <summary>
/// Running mean and population std (Welford) of every training observation, as PPO from scratch uses
/// (Uni-O4's running normaliser): each new observation is added first, then s ← (s − mean) / (std + 1e-8).
/// Evaluation applies the current statistics without adding to them (and passes observations through before the first).
/// </summary>
public sealed class RunningObservationFilter(int dimension) : IObservationFilter
{
    /// <summary>Added to the std so the first observations (std 0) stay finite.</summary>
    public const double Epsilon = 1e-8;

    /// <summary>The statistics.</summary>
    public RunningMeanStd Statistics { get; } = new(dimension);

    /// <inheritdoc/>
    public void Apply(Span<float> observation, bool update)
    {
        if (update) Statistics.Add(observation);
        // Before any training observation (an evaluation at step 0) there are no statistics: pass through unchanged.
        if (Statistics.Count == 0) return;
        for (int j = 0; j < observation.Length; j++)
            observation[j] = (float)((observation[j] - Statistics.Mean(j)) / (Math.Sqrt(Statistics.PopulationVariance(j)) + Epsilon));
    }

    /// <inheritdoc/>
    public StateNormalizer Snapshot()
    {
        var mean = new float[Statistics.Dimension];
        var std = new float[Statistics.Dimension];
        for (int j = 0; j < mean.Length; j++)
        {
            mean[j] = (float)Statistics.Mean(j);
            std[j] = (float)(Math.Sqrt(Statistics.PopulationVariance(j)) + Epsilon);
        }
        return new StateNormalizer(mean, std);
    }
}

/// <summary>An environment whose observations pass through a filter without updating it (the evaluation copy).</summary>
public sealed class FilteredObservations(IEnvironment inner, IObservationFilter filter) : EnvironmentWrapper(inner)
{
    /// <inheritdoc/>
    public override void Reset(Span<float> observation, int? seed = null)
    {
        Inner.Reset(observation, seed);
        filter.Apply(observation, update: false);
    }

    /// <inheritdoc/>
    public override StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        var result = Inner.Step(action, observation);
        filter.Apply(observation, update: false);
        return result;
    }
}

/// <summary>Settings of the on-policy loop (ALGORITHMS.md §5.4).</summary>
public sealed record OnPolicyLoopOptions
{
    /// <summary>Environment steps to take.</summary>
    public long TotalSteps { get; init; } = 250_000;
    /// <summary>Evaluate every this many environment steps (0 = never during training).</summary>
    public int EvaluateEvery { get; init; } = 2_500;
    /// <summary>Episodes per evaluation.</summary>
    public int EvaluationEpisodes { get; init; } = 10;
    /// <summary>Evaluate once before the first step (the offline actor's score when fine-tuning).</summary>
    public bool EvaluateAtStart { get; init; } = true;
    /// <summary>Seed of the training environment's episodes.</summary>
    public int Seed { get; init; }
    /// <summary>Map applied to every online reward before storage; null = unchanged.</summary>
    public Func<float, float>? RewardTransform { get; init; }
}

/// <summary>
/// The on-policy loop: episodes run back to back; each step stores (s, a, log π_old per coordinate, r, s', dw, done)
/// with dw = true termination (no bootstrap) and done = any end (time limits included, which cut GAE's recursion);
/// every T steps the agent updates on the full rollout and the rollout is emptied, while the current episode
/// continues. Evaluation runs on a separate environment. Deterministic given its seeds on the CPU backend. With
/// <see cref="Checkpoints"/> it saves its full state (agent, partial rollout, running observation statistics) at
/// the first episode end after each interval and can continue from it exactly; a non-finite loss stops it.
/// </summary>
public sealed class OnPolicyTrainer(IEnvironment environment, Evaluator evaluator, IOnPolicyAgent agent, RolloutBuffer rollout,
    IObservationFilter filter, OnPolicyLoopOptions options, IMetricsSink metrics, TextWriter? progressOutput = null)
{
    /// <summary>Called after every evaluation with (t, result).</summary>
    public Action<long, EvaluationResult>? OnEvaluation { get; init; }

    /// <summary>Full-state checkpoints and the state to resume from; null = neither.</summary>
    public TrainingCheckpoints? Checkpoints { get; init; }

    /// <summary>Stops the loop between two environment steps (it throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Environment steps taken so far.</summary>
    public long Step { get; private set; }

    /// <summary>Runs to <see cref="OnPolicyLoopOptions.TotalSteps"/>; returns the last evaluation (or null).</summary>
    public EvaluationResult? Run()
    {
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        if (rollout.ObservationDim != obsDim || rollout.ActionDim != actionDim)
            throw new ArgumentException($"rollout holds obs {rollout.ObservationDim} / action {rollout.ActionDim} dimensions but {environment.Id} has {obsDim} / {actionDim}");
        EnvironmentChecks.ForActors(environment, agent.Policy);
        var observation = new float[obsDim];
        var nextObservation = new float[obsDim];
        var action = new float[actionDim];
        var logProbs = new float[actionDim];
        // The rollout keeps its steps on the host privately; a checkpoint needs them, so the loop mirrors them.
        var mirror = Checkpoints is null ? null : new RolloutMirror(rollout.Capacity, obsDim, actionDim);
        var watch = new LossWatch(metrics);
        EvaluationResult? last = null;
        int episode = 0;
        double episodeReturn = 0;
        int episodeLength = 0;
        long nextCheckpoint = Checkpoints?.Interval ?? 0;
        long updates = 0, updatesAtLastCheck = 0, stepAtLastCheck = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        if (Checkpoints?.ResumeState is TrainingState resume)
        {
            Step = resume.GetCounter("trainer.step");
            if (Step < 0 || Step > options.TotalSteps)
                throw new InvalidDataException($"{resume.Source}: saved at step {Step} but this run stops at {options.TotalSteps}");
            episode = (int)resume.GetCounter("trainer.episode");
            updates = updatesAtLastCheck = resume.GetCounter("trainer.updates");
            stepAtLastCheck = Step;
            evaluator.EpisodesRun = (int)resume.GetCounter("trainer.evaluation_episodes_run");
            last = EvaluationState.Restore(resume);
            if (filter is RunningObservationFilter running) RestoreStatistics(resume, running.Statistics);
            mirror!.Restore(resume, rollout);
            Checkpoints.Agent.RestoreState(resume);
            Checkpoints.MarkResumed(Step);
            nextCheckpoint = Step + Checkpoints.Interval;
            // Saved right after an episode ended: restart that episode's seed; its first observation was already
            // added to the running statistics before the save, so it is only normalised here.
            environment.Reset(observation, EnvRandom.DeriveSeed(options.Seed, episode - 1));
            filter.Apply(observation, update: false);
        }
        else
        {
            if (options.EvaluateAtStart) last = Evaluate();
            environment.Reset(observation, EnvRandom.DeriveSeed(options.Seed, episode++));
            filter.Apply(observation, update: true);
        }
        var progress = new ProgressReporter(progressOutput, "ppo", options.TotalSteps, startedAt: Step);
        long stepsAtLastUpdate = Step;
        double secondsAtLastUpdate = 0;
        try
        {
            while (Step < options.TotalSteps)
            {
                Cancellation.ThrowIfCancellationRequested();
                agent.Act(observation, action, logProbs);
                // Diverged weights act NaN, which the environment refuses: stop as a divergence.
                if (Divergence.FirstNaN(action) is int nanEntry) throw Diverged($"the policy's action[{nanEntry}] is NaN at step {Step + 1:N0}");
                var result = environment.Step(action, nextObservation);
                EnvironmentChecks.Transition(environment, result.Reward, nextObservation, Step + 1);
                filter.Apply(nextObservation, update: true);
                float reward = options.RewardTransform is null ? (float)result.Reward : options.RewardTransform((float)result.Reward);
                // dw: only a true termination stops bootstrapping; done: any end (time limits too) cuts the GAE recursion.
                // A step that terminates exactly at the time limit counts as the limit (dw = 0), as the release's PPO
                // decides dw by the step count (ALGORITHMS.md §5.4).
                bool dw = result.Terminated && !result.Truncated;
                mirror?.Add(rollout.Count, observation, action, logProbs, reward, nextObservation, dw, result.Done);
                rollout.Add(observation, action, logProbs, reward, nextObservation, dw: dw, done: result.Done);
                episodeReturn += result.Reward;
                episodeLength++;
                Step++;

                if (result.Done)
                {
                    metrics.Log(Step, "charts/episodic_return", episodeReturn);
                    metrics.Log(Step, "charts/episodic_length", episodeLength);
                    episodeReturn = 0; episodeLength = 0;
                    environment.Reset(observation, EnvRandom.DeriveSeed(options.Seed, episode++));
                    filter.Apply(observation, update: true);
                }
                else
                {
                    (observation, nextObservation) = (nextObservation, observation);
                }

                if (rollout.IsFull)
                {
                    var updateClock = System.Diagnostics.Stopwatch.StartNew();
                    agent.Update(rollout, Step);
                    updates++;
                    double updateSeconds = updateClock.Elapsed.TotalSeconds;
                    rollout.Clear();
                    double seconds = clock.Elapsed.TotalSeconds;
                    metrics.Log(Step, "charts/sps", (Step - stepsAtLastUpdate) / Math.Max(seconds - secondsAtLastUpdate, 1e-9));
                    metrics.Log(Step, "time/update", updateSeconds);
                    stepsAtLastUpdate = Step; secondsAtLastUpdate = seconds;
                    agent.LogMetrics(watch, Step);
                    metrics.Flush(Step);
                    if (watch.FirstNonFinite is not null) throw Diverged(null);
                    updatesAtLastCheck = updates; stepAtLastCheck = Step;
                }
                if (options.EvaluateEvery > 0 && Step % options.EvaluateEvery == 0)
                {
                    try { last = Evaluate(); }
                    catch (NonFiniteActionException nan) { throw Diverged(nan.Message); }
                }
                if (Checkpoints is { Interval: > 0 } checkpoints && result.Done && Step >= nextCheckpoint && Step < options.TotalSteps)
                {
                    metrics.Flush(Step);
                    var state = new TrainingState();
                    state.SetCounter("trainer.episode", episode);
                    state.SetCounter("trainer.updates", updates);
                    state.SetCounter("trainer.evaluation_episodes_run", evaluator.EpisodesRun);
                    EvaluationState.Save(state, last);
                    if (filter is RunningObservationFilter running) SaveStatistics(state, running.Statistics);
                    mirror!.Save(state, rollout.Count);
                    checkpoints.Save(Step, state);
                    nextCheckpoint = Step + checkpoints.Interval;
                }
                progress.Report(Step, last?.Score ?? double.NaN);
            }
        }
        finally
        {
            progress.Close();
        }
        return last;

        TrainingDivergedException Diverged(string? nanAction) => new(
            watch.FirstNonFinite is var (name, value)
                ? $"{name} = {value} at step {Step:N0}, first seen in rollout updates {updatesAtLastCheck + 1:N0}–{updates:N0} (steps {stepAtLastCheck + 1:N0}–{Step:N0})"
                : $"{nanAction} ({updates:N0} rollout updates so far)",
            Checkpoints?.LastGoodStep ?? -1, Checkpoints?.LastSavedPath);
    }

    EvaluationResult Evaluate()
    {
        var result = evaluator.Evaluate(agent.Policy, options.EvaluationEpisodes);
        metrics.Log(Step, "eval/return", result.MeanReturn);
        if (result.NormalizedMean is double normalized) metrics.Log(Step, "eval/normalized_return", normalized);
        metrics.Flush(Step);
        OnEvaluation?.Invoke(Step, result);
        Checkpoints?.Evaluated(Step, result);
        return result;
    }

    static void SaveStatistics(TrainingState state, RunningMeanStd statistics)
    {
        var (count, mean, deviations) = statistics.ExportState();
        state.SetCounter("observation_filter.count", count);
        // Doubles as exact text: the normalisation of every later observation depends on every bit.
        for (int j = 0; j < mean.Length; j++)
        {
            state.SetReal($"observation_filter.mean.{j}", mean[j]);
            state.SetReal($"observation_filter.m2.{j}", deviations[j]);
        }
    }

    static void RestoreStatistics(TrainingState state, RunningMeanStd statistics)
    {
        var mean = new double[statistics.Dimension];
        var deviations = new double[statistics.Dimension];
        for (int j = 0; j < mean.Length; j++)
        {
            mean[j] = state.GetReal($"observation_filter.mean.{j}");
            deviations[j] = state.GetReal($"observation_filter.m2.{j}");
        }
        statistics.ImportState(state.GetCounter("observation_filter.count"), mean, deviations);
    }

    /// <summary>Host copies of the steps in the rollout since its last update (saved with a checkpoint).</summary>
    sealed class RolloutMirror(int capacity, int obsDim, int actionDim)
    {
        readonly float[] observations = new float[capacity * obsDim], nextObservations = new float[capacity * obsDim];
        readonly float[] actions = new float[capacity * actionDim], logProbs = new float[capacity * actionDim];
        readonly float[] rewards = new float[capacity], dw = new float[capacity], done = new float[capacity];

        public void Add(int t, ReadOnlySpan<float> observation, ReadOnlySpan<float> action, ReadOnlySpan<float> logProb, float reward,
            ReadOnlySpan<float> nextObservation, bool terminal, bool ended)
        {
            observation.CopyTo(observations.AsSpan(t * obsDim));
            nextObservation.CopyTo(nextObservations.AsSpan(t * obsDim));
            action.CopyTo(actions.AsSpan(t * actionDim));
            logProb.CopyTo(logProbs.AsSpan(t * actionDim));
            rewards[t] = reward;
            dw[t] = terminal ? 1f : 0f;
            done[t] = ended ? 1f : 0f;
        }

        public void Save(TrainingState state, int count)
        {
            state.SetCounter("rollout.count", count);
            state.SetTensor("rollout.observations", [count, obsDim], observations[..(count * obsDim)]);
            state.SetTensor("rollout.next_observations", [count, obsDim], nextObservations[..(count * obsDim)]);
            state.SetTensor("rollout.actions", [count, actionDim], actions[..(count * actionDim)]);
            state.SetTensor("rollout.log_probs", [count, actionDim], logProbs[..(count * actionDim)]);
            state.SetTensor("rollout.rewards", [count], rewards[..count]);
            state.SetTensor("rollout.dw", [count], dw[..count]);
            state.SetTensor("rollout.done", [count], done[..count]);
        }

        public void Restore(TrainingState state, RolloutBuffer rollout)
        {
            int count = (int)state.GetCounter("rollout.count");
            if (count >= rollout.Capacity) throw new InvalidDataException($"{state.Source}: the saved rollout holds {count} steps but this run's holds {rollout.Capacity}");
            if (rollout.Count != 0) throw new InvalidOperationException($"the rollout must be empty before a restore (it holds {rollout.Count} steps)");
            float[] o = state.GetTensor("rollout.observations").Data, n = state.GetTensor("rollout.next_observations").Data;
            float[] a = state.GetTensor("rollout.actions").Data, l = state.GetTensor("rollout.log_probs").Data;
            float[] r = state.GetTensor("rollout.rewards").Data, w = state.GetTensor("rollout.dw").Data, d = state.GetTensor("rollout.done").Data;
            if (o.Length != count * obsDim || a.Length != count * actionDim)
                throw new InvalidDataException($"{state.Source}: the saved rollout's shapes do not match obs {obsDim} / action {actionDim}");
            for (int t = 0; t < count; t++)
            {
                var observation = o.AsSpan(t * obsDim, obsDim);
                var next = n.AsSpan(t * obsDim, obsDim);
                var action = a.AsSpan(t * actionDim, actionDim);
                var logProb = l.AsSpan(t * actionDim, actionDim);
                Add(t, observation, action, logProb, r[t], next, w[t] != 0f, d[t] != 0f);
                rollout.Add(observation, action, logProb, r[t], next, dw: w[t] != 0f, done: d[t] != 0f);
            }
        }
    }
}
