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
/// continues. Evaluation runs on a separate environment. Deterministic given its seeds on the CPU backend.
/// </summary>
public sealed class OnPolicyTrainer(IEnvironment environment, Evaluator evaluator, IOnPolicyAgent agent, RolloutBuffer rollout,
    IObservationFilter filter, OnPolicyLoopOptions options, IMetricsSink metrics, TextWriter? progressOutput = null)
{
    /// <summary>Called after every evaluation with (t, result).</summary>
    public Action<long, EvaluationResult>? OnEvaluation { get; init; }

    /// <summary>Environment steps taken so far.</summary>
    public long Step { get; private set; }

    /// <summary>Runs to <see cref="OnPolicyLoopOptions.TotalSteps"/>; returns the last evaluation (or null).</summary>
    public EvaluationResult? Run()
    {
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        if (rollout.ObservationDim != obsDim || rollout.ActionDim != actionDim)
            throw new ArgumentException($"rollout holds obs {rollout.ObservationDim} / action {rollout.ActionDim} dimensions but {environment.Id} has {obsDim} / {actionDim}");
        var observation = new float[obsDim];
        var nextObservation = new float[obsDim];
        var action = new float[actionDim];
        var logProbs = new float[actionDim];
        var progress = new ProgressReporter(progressOutput, "ppo", options.TotalSteps);
        EvaluationResult? last = null;
        int episode = 0;
        double episodeReturn = 0;
        int episodeLength = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long stepsAtLastUpdate = Step;
        double secondsAtLastUpdate = 0;

        if (options.EvaluateAtStart) last = Evaluate();
        environment.Reset(observation, EnvRandom.DeriveSeed(options.Seed, episode++));
        filter.Apply(observation, update: true);
        while (Step < options.TotalSteps)
        {
            agent.Act(observation, action, logProbs);
            var result = environment.Step(action, nextObservation);
            filter.Apply(nextObservation, update: true);
            float reward = options.RewardTransform is null ? (float)result.Reward : options.RewardTransform((float)result.Reward);
            // dw: only a true termination stops bootstrapping; done: any end (time limits too) cuts the GAE recursion.
            rollout.Add(observation, action, logProbs, reward, nextObservation, dw: result.Terminated, done: result.Done);
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
                double updateSeconds = updateClock.Elapsed.TotalSeconds;
                rollout.Clear();
                double seconds = clock.Elapsed.TotalSeconds;
                metrics.Log(Step, "charts/sps", (Step - stepsAtLastUpdate) / Math.Max(seconds - secondsAtLastUpdate, 1e-9));
                metrics.Log(Step, "time/update", updateSeconds);
                stepsAtLastUpdate = Step; secondsAtLastUpdate = seconds;
                agent.LogMetrics(metrics, Step);
                metrics.Flush(Step);
            }
            if (options.EvaluateEvery > 0 && Step % options.EvaluateEvery == 0) last = Evaluate();
            progress.Report(Step, last?.Score ?? double.NaN);
        }
        return last;
    }

    EvaluationResult Evaluate()
    {
        var result = evaluator.Evaluate(agent.Policy, options.EvaluationEpisodes);
        metrics.Log(Step, "eval/return", result.MeanReturn);
        if (result.NormalizedMean is double normalized) metrics.Log(Step, "eval/normalized_return", normalized);
        metrics.Flush(Step);
        OnEvaluation?.Invoke(Step, result);
        return result;
    }
}
