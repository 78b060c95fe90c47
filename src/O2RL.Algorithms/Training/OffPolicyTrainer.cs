using O2RL.Data.Replay;
using O2RL.Envs;

namespace O2RL.Algorithms.Training;

/// <summary>An off-policy learner (SAC, TD3, and their OCR-CFT fine-tuning stages) as the online loop sees it.</summary>
public interface IOffPolicyAgent
{
    /// <summary>The acting policy: <c>deterministic = false</c> explores (sample or noise), true evaluates.</summary>
    IPolicy Policy { get; }

    /// <summary>
    /// One gradient update on a minibatch. <paramref name="environmentStep"/> is t (environment steps taken so
    /// far, warm-up included); <paramref name="updateIndex"/> is k within this environment step (0 … UTD−1).
    /// </summary>
    void Update(TransitionBatch batch, long environmentStep, int updateIndex);

    /// <summary>Logs the latest losses and coefficients (reads device scalars; called every few thousand steps).</summary>
    void LogMetrics(IMetricsSink metrics, long step);
}

/// <summary>Settings of the online loop (ALGORITHMS.md §3.6 / §4.5).</summary>
public sealed record OffPolicyLoopOptions
{
    /// <summary>Environment steps to take.</summary>
    public long TotalSteps { get; init; } = 100_000;
    /// <summary>No updates before this many steps (t &gt; warm-up and size &gt; B start them).</summary>
    public int WarmupSteps { get; init; } = 1_000;
    /// <summary>Act uniformly at random during warm-up (training from scratch); false = the policy acts from step one (fine-tuning).</summary>
    public bool RandomWarmup { get; init; }
    /// <summary>Updates per environment step (UTD ratio).</summary>
    public int UpdatesPerStep { get; init; } = 1;
    /// <summary>Evaluate every this many environment steps (0 = never during training).</summary>
    public int EvaluateEvery { get; init; } = 5_000;
    /// <summary>Episodes per evaluation.</summary>
    public int EvaluationEpisodes { get; init; } = 10;
    /// <summary>Log training metrics every this many environment steps.</summary>
    public int LogEvery { get; init; } = 1_000;
    /// <summary>Seed of the training environment's episodes and of the random warm-up actions.</summary>
    public int Seed { get; init; }
    /// <summary>Map applied to every online reward before storage (e.g. AntMaze 10r − 5); null = unchanged.</summary>
    public Func<float, float>? RewardTransform { get; init; }
}

/// <summary>
/// The online loop shared by every off-policy learner: act, store (s, a, r, s′, m) with m = 1 only for true
/// terminations (time-limit truncations bootstrap), update UTD times per step after warm-up, evaluate on a
/// separate environment, log. Deterministic given its seeds on the CPU backend.
/// </summary>
public sealed class OffPolicyTrainer(IEnvironment environment, Evaluator evaluator, IOffPolicyAgent agent, MixedReplaySampler sampler,
    OffPolicyLoopOptions options, IMetricsSink metrics, TextWriter? progressOutput = null)
{
    /// <summary>Called after every evaluation with (t, result); O2 variants replace π_ref here.</summary>
    public Action<long, EvaluationResult>? OnEvaluation { get; init; }

    /// <summary>Environment steps taken so far.</summary>
    public long Step { get; private set; }

    /// <summary>Runs the loop to <see cref="OffPolicyLoopOptions.TotalSteps"/>; returns the last evaluation (or null).</summary>
    public EvaluationResult? Run()
    {
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        var observation = new float[obsDim];
        var nextObservation = new float[obsDim];
        var action = new float[actionDim];
        // O2TD3 stores μ(s) rather than the executed μ(s) + ε; random warm-up actions are stored as executed.
        var noiseFreeSource = agent.Policy as INoiseFreeActionSource;
        var storedAction = noiseFreeSource is null ? action : new float[actionDim];
        var random = new EnvRandom(options.Seed ^ 0x5EED);
        var progress = new ProgressReporter(progressOutput, "online", options.TotalSteps);
        EvaluationResult? last = null;
        int episode = 0;
        double episodeReturn = 0;
        int episodeLength = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long stepsAtLastLog = Step;
        double secondsAtLastLog = 0;

        environment.Reset(observation, EnvRandom.DeriveSeed(options.Seed, episode++));
        while (Step < options.TotalSteps)
        {
            bool randomAction = options.RandomWarmup && Step < options.WarmupSteps;
            if (randomAction) environment.ActionSpace.Sample(random, action);
            else agent.Policy.Act(observation, action, deterministic: false);
            if (noiseFreeSource is not null)
            {
                if (randomAction) action.CopyTo(storedAction, 0);
                else noiseFreeSource.CopyNoiseFreeAction(storedAction);
            }

            var result = environment.Step(action, nextObservation);
            float reward = options.RewardTransform is null ? (float)result.Reward : options.RewardTransform((float)result.Reward);
            // m = 1 only for a true termination: a time-limit truncation must still bootstrap.
            sampler.Add(observation, storedAction, reward, nextObservation, result.Terminated);
            episodeReturn += result.Reward;
            episodeLength++;
            Step++;

            if (result.Done)
            {
                metrics.Log(Step, "charts/episodic_return", episodeReturn);
                metrics.Log(Step, "charts/episodic_length", episodeLength);
                episodeReturn = 0; episodeLength = 0;
                environment.Reset(observation, EnvRandom.DeriveSeed(options.Seed, episode++));
            }
            else
            {
                (observation, nextObservation) = (nextObservation, observation);
            }

            if (Step > options.WarmupSteps && sampler.Size > sampler.BatchSize)
                for (int k = 0; k < options.UpdatesPerStep; k++)
                    agent.Update(sampler.Sample(), Step, k);

            if (options.LogEvery > 0 && Step % options.LogEvery == 0)
            {
                double seconds = clock.Elapsed.TotalSeconds;
                metrics.Log(Step, "charts/sps", (Step - stepsAtLastLog) / Math.Max(seconds - secondsAtLastLog, 1e-9));
                stepsAtLastLog = Step; secondsAtLastLog = seconds;
                agent.LogMetrics(metrics, Step);
                metrics.Flush(Step);
            }
            if (options.EvaluateEvery > 0 && Step % options.EvaluateEvery == 0)
            {
                last = evaluator.Evaluate(agent.Policy, options.EvaluationEpisodes);
                metrics.Log(Step, "eval/return", last.MeanReturn);
                if (last.NormalizedMean is double normalized) metrics.Log(Step, "eval/normalized_return", normalized);
                metrics.Flush(Step);
                OnEvaluation?.Invoke(Step, last);
            }
            progress.Report(Step, last?.Score ?? double.NaN);
        }
        return last;
    }
}
