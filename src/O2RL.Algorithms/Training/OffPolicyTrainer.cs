using O2RL.Engine;
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

    /// <summary>
    /// True when every <see cref="Update"/> launches the same ops on the same tensors, with no host value other than
    /// Adam's step scalars and the random streams' state feeding a kernel (so it can be replayed from a CUDA graph,
    /// <see cref="O2RL.Engine.GraphedStep"/>). False (the default) runs every update eagerly.
    /// </summary>
    bool UpdatesCanBeGraphed => false;

    /// <summary>The period of the update's launches when graphed (TD3: its policy delay); 1 when every update is alike.</summary>
    int UpdateGraphPhases => 1;
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
    /// <summary>
    /// On CUDA, replay each update (sampling included) from a captured graph when the agent allows it
    /// (<see cref="IOffPolicyAgent.UpdatesCanBeGraphed"/>): the same results bit for bit, without a driver call per
    /// kernel. No effect on other devices. <c>O2RL_CUDA_GRAPHS=0</c> turns graphs off everywhere.
    /// </summary>
    public bool DeviceGraphs { get; init; } = true;
    /// <summary>
    /// Reproduce the reference SAC/TD3 code's evaluation on the training environment instance (ALGORITHMS.md §8, a
    /// quirk of the release; off by default, the spec's recommended separate instance). Each evaluation's episodes run
    /// on the training environment in the middle of a training episode, followed by a second, stochastic
    /// ("exploratory") evaluation whose result is discarded; the loop then steps on from where the evaluation left the
    /// environment, so that training episode ends on its next step and stores one transition whose next state comes
    /// from the evaluation rollout. The reported scores are those of the separate instance (same seeds).
    /// </summary>
    public bool SharedEvaluationEnvironment { get; init; }
}

/// <summary>
/// The online loop shared by every off-policy learner: act, store (s, a, r, s′, m) with m = 1 only for true
/// terminations (time-limit truncations bootstrap), update UTD times per step after warm-up, evaluate on a
/// separate environment, log. Deterministic given its seeds on the CPU backend. With <see cref="Checkpoints"/> it
/// saves its full state periodically and can continue from a saved state exactly; a non-finite loss (seen where
/// losses are logged) stops it with a <see cref="TrainingDivergedException"/>.
/// </summary>
public sealed class OffPolicyTrainer(IEnvironment environment, Evaluator evaluator, IOffPolicyAgent agent, MixedReplaySampler sampler,
    OffPolicyLoopOptions options, IMetricsSink metrics, TextWriter? progressOutput = null)
{
    /// <summary>Called after every evaluation with (t, result); O2 variants replace π_ref here.</summary>
    public Action<long, EvaluationResult>? OnEvaluation { get; init; }

    /// <summary>Full-state checkpoints and the state to resume from; null = neither.</summary>
    public TrainingCheckpoints? Checkpoints { get; init; }

    /// <summary>Stops the loop between two environment steps (it throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Environment steps taken so far.</summary>
    public long Step { get; private set; }

    /// <summary>Gradient updates made so far.</summary>
    public long Updates { get; private set; }

    /// <summary>Runs the loop to <see cref="OffPolicyLoopOptions.TotalSteps"/>; returns the last evaluation (or null).</summary>
    public EvaluationResult? Run()
    {
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        EnvironmentChecks.ForActors(environment, agent.Policy);
        var observation = new float[obsDim];
        var nextObservation = new float[obsDim];
        var action = new float[actionDim];
        // O2TD3 stores μ(s) rather than the executed μ(s) + ε; random warm-up actions are stored as executed.
        var noiseFreeSource = agent.Policy as INoiseFreeActionSource;
        var storedAction = noiseFreeSource is null ? action : new float[actionDim];
        var random = new EnvRandom(options.Seed ^ 0x5EED);
        var watch = new LossWatch(metrics);
        EvaluationResult? last = null;
        int episode = 0;
        double episodeReturn = 0;
        int episodeLength = 0;
        long nextCheckpoint = Checkpoints?.Interval ?? 0;
        long updatesAtLastCheck = 0, stepAtLastCheck = 0;

        if (Checkpoints?.ResumeState is TrainingState resume)
        {
            (episode, last) = Restore(resume, random, action);
            episodeReturn = 0; episodeLength = 0;
            Checkpoints.MarkResumed(Step);
            nextCheckpoint = Step + Checkpoints.Interval;
            updatesAtLastCheck = Updates; stepAtLastCheck = Step;
            // Checkpoints are taken right after an episode ended, so the environment restarts that episode's seed.
            environment.Reset(observation, EnvRandom.DeriveSeed(options.Seed, episode - 1));
        }
        else environment.Reset(observation, EnvRandom.DeriveSeed(options.Seed, episode++));

        using var sharedEvaluator = options.SharedEvaluationEnvironment ? evaluator.On(environment) : null;
        var progress = new ProgressReporter(progressOutput, "online", options.TotalSteps, startedAt: Step);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long stepsAtLastLog = Step;
        double secondsAtLastLog = 0;
        // On CUDA an update (sampling included) is captured once and replayed from a graph; elsewhere it runs eagerly.
        int graphedUpdateIndex = 0;
        var graphedUpdate = options.DeviceGraphs && agent.UpdatesCanBeGraphed
            ? new GraphedStep(sampler.Batch.Packed.Backend, () => agent.Update(sampler.Sample(), Step, graphedUpdateIndex), phases: agent.UpdateGraphPhases)
            : null;
        if (graphedUpdate is { UsesGraphs: false })
        {
            graphedUpdate.Dispose();
            graphedUpdate = null;
        }
        try
        {
            while (Step < options.TotalSteps)
            {
                Cancellation.ThrowIfCancellationRequested();
                bool randomAction = options.RandomWarmup && Step < options.WarmupSteps;
                if (randomAction) environment.ActionSpace.Sample(random, action);
                else agent.Policy.Act(observation, action, deterministic: false);
                if (noiseFreeSource is not null)
                {
                    if (randomAction) action.CopyTo(storedAction, 0);
                    else noiseFreeSource.CopyNoiseFreeAction(storedAction);
                }

                // Diverged weights act NaN, which the environment refuses: stop as a divergence, naming the first
                // non-finite loss when the agent has one.
                if (!randomAction && Divergence.FirstNaN(action) is int nanEntry)
                {
                    agent.LogMetrics(watch, Step);
                    throw Diverged($"the policy's action[{nanEntry}] is NaN at step {Step + 1:N0}");
                }
                var result = environment.Step(action, nextObservation);
                EnvironmentChecks.Transition(environment, result.Reward, nextObservation, Step + 1);
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
                    {
                        if (graphedUpdate is null) agent.Update(sampler.Sample(), Step, k);
                        else
                        {
                            graphedUpdateIndex = k;
                            graphedUpdate.Run();
                        }
                        Updates++;
                    }

                if (options.LogEvery > 0 && Step % options.LogEvery == 0)
                {
                    double seconds = clock.Elapsed.TotalSeconds;
                    metrics.Log(Step, "charts/sps", (Step - stepsAtLastLog) / Math.Max(seconds - secondsAtLastLog, 1e-9));
                    stepsAtLastLog = Step; secondsAtLastLog = seconds;
                    agent.LogMetrics(watch, Step);
                    metrics.Flush(Step);
                    if (watch.FirstNonFinite is not null) throw Diverged(null);
                    updatesAtLastCheck = Updates; stepAtLastCheck = Step;
                }
                if (options.EvaluateEvery > 0 && Step % options.EvaluateEvery == 0)
                {
                    try
                    {
                        if (sharedEvaluator is null) last = evaluator.Evaluate(agent.Policy, options.EvaluationEpisodes);
                        else
                        {
                            // The release's order: the deterministic evaluation, then the exploratory one, both on the
                            // training instance; `observation` is left as it was, so the next step acts on it.
                            last = sharedEvaluator.Evaluate(agent.Policy, options.EvaluationEpisodes);
                            sharedEvaluator.Evaluate(agent.Policy, options.EvaluationEpisodes, deterministic: false);
                            // The last evaluation episode ended the instance's episode; Gym let the training loop step on, and
                            // that step ends the cut-short training episode (time limit or termination again).
                            environment.ContinueEndedEpisode();
                        }
                    }
                    catch (NonFiniteActionException nan)
                    {
                        agent.LogMetrics(watch, Step);
                        throw Diverged(nan.Message);
                    }
                    metrics.Log(Step, "eval/return", last.MeanReturn);
                    if (last.NormalizedMean is double normalized) metrics.Log(Step, "eval/normalized_return", normalized);
                    metrics.Flush(Step);
                    OnEvaluation?.Invoke(Step, last);
                    Checkpoints?.Evaluated(Step, last);
                }
                // Every value of this step is flushed; at an episode end the next episode's start is a pure function of its seed.
                if (Checkpoints is { Interval: > 0 } checkpoints && result.Done && Step >= nextCheckpoint && Step < options.TotalSteps)
                {
                    metrics.Flush(Step);
                    checkpoints.Save(Step, SaveLoopState(episode, last));
                    nextCheckpoint = Step + checkpoints.Interval;
                }
                progress.Report(Step, last?.Score ?? double.NaN);
            }
        }
        finally
        {
            graphedUpdate?.Dispose();
            progress.Close();
        }

        // What diverged: the first non-finite loss when the agent has logged one, else what the policy did.
        TrainingDivergedException Diverged(string? nanAction) => new(
            watch.FirstNonFinite is var (name, value)
                ? $"{name} = {value} at step {Step:N0}, first seen between updates {updatesAtLastCheck + 1:N0} and {Updates:N0} (steps {stepAtLastCheck + 1:N0}–{Step:N0})"
                : $"{nanAction} (updates {updatesAtLastCheck + 1:N0}–{Updates:N0} since the last check)",
            Checkpoints?.LastGoodStep ?? -1, Checkpoints?.LastSavedPath);
        return last;
    }

    TrainingState SaveLoopState(int episode, EvaluationResult? last)
    {
        var state = new TrainingState();
        state.SetCounter("trainer.episode", episode);
        state.SetCounter("trainer.updates", Updates);
        state.SetCounter("trainer.evaluation_episodes_run", evaluator.EpisodesRun);
        EvaluationState.Save(state, last);
        state.SetReplayBuffer("replay.online", sampler.Online);
        state.SetRandom("replay.random", sampler.Random);
        return state;
    }

    (int Episode, EvaluationResult? Last) Restore(TrainingState state, EnvRandom warmupRandom, float[] scratchAction)
    {
        Step = state.GetCounter("trainer.step");
        if (Step < 0 || Step > options.TotalSteps)
            throw new InvalidDataException($"{state.Source}: saved at step {Step} but this run stops at {options.TotalSteps}");
        Updates = state.GetCounter("trainer.updates");
        evaluator.EpisodesRun = (int)state.GetCounter("trainer.evaluation_episodes_run");
        // Offline rows copied into the online buffer at construction (All/Part mixing) are part of the saved rows.
        state.RestoreReplayBuffer("replay.online", sampler.Online);
        state.RestoreRandom("replay.random", sampler.Random);
        Checkpoints!.Agent.RestoreState(state);
        // The warm-up generator has no saved form; replaying its draws puts it where it was.
        if (options.RandomWarmup)
            for (long t = 0; t < Math.Min(Step, options.WarmupSteps); t++) environment.ActionSpace.Sample(warmupRandom, scratchAction);
        return ((int)state.GetCounter("trainer.episode"), EvaluationState.Restore(state));
    }
}

/// <summary>Saves and restores the latest evaluation result with a training state (the loop returns it).</summary>
internal static class EvaluationState
{
    public static void Save(TrainingState state, EvaluationResult? result)
    {
        state.SetCounter("evaluation.present", result is null ? 0 : 1);
        if (result is null) return;
        state.SetTensor("evaluation.returns", [result.Returns.Length], [.. result.Returns.Select(r => (float)r)]);
        // The float tensor above is for inspection; the exact doubles travel as text.
        for (int i = 0; i < result.Returns.Length; i++) state.SetReal($"evaluation.return.{i}", result.Returns[i]);
        state.SetCounter("evaluation.count", result.Returns.Length);
        state.SetReal("evaluation.mean", result.MeanReturn);
        state.SetReal("evaluation.std", result.StdReturn);
        state.SetReal("evaluation.normalized_mean", result.NormalizedMean ?? double.NaN);
        state.SetReal("evaluation.normalized_std", result.NormalizedStd ?? double.NaN);
        state.SetReal("evaluation.mean_length", result.MeanLength);
    }

    public static EvaluationResult? Restore(TrainingState state)
    {
        if (state.GetCounter("evaluation.present") == 0) return null;
        var returns = new double[state.GetCounter("evaluation.count")];
        for (int i = 0; i < returns.Length; i++) returns[i] = state.GetReal($"evaluation.return.{i}");
        double normalizedMean = state.GetReal("evaluation.normalized_mean"), normalizedStd = state.GetReal("evaluation.normalized_std");
        return new EvaluationResult(returns, state.GetReal("evaluation.mean"), state.GetReal("evaluation.std"),
            double.IsNaN(normalizedMean) ? null : normalizedMean, double.IsNaN(normalizedStd) ? null : normalizedStd, state.GetReal("evaluation.mean_length"));
    }
}
