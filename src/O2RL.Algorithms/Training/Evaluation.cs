using O2RL.Data;
using O2RL.Envs;

namespace O2RL.Algorithms.Training;

/// <summary>Returns of N evaluation episodes, raw and D4RL-normalised (when the task has reference scores).</summary>
public sealed record EvaluationResult(double[] Returns, double MeanReturn, double StdReturn, double? NormalizedMean, double? NormalizedStd, double MeanLength)
{
    /// <summary>The headline number: normalised mean when available, else the raw mean.</summary>
    public double Score => NormalizedMean ?? MeanReturn;
}

/// <summary>
/// Runs evaluation episodes on its own environment instance (never the training one, so training episodes are
/// never cut short), with the deterministic policy by default. As ALGORITHMS.md §8 prescribes, the environment is
/// re-seeded with the run's evaluation seed before every evaluation: episode e of every evaluation starts from the
/// same initial state, so two points of a learning curve differ only by the policy.
/// </summary>
public sealed class Evaluator : IDisposable
{
    readonly IEnvironment environment;
    readonly float[] observation, action;
    readonly string? scoreTaskId;
    int episodesRun;
    bool ownsEnvironment = true;

    /// <summary>
    /// Evaluates on <paramref name="environment"/> (already wrapped with the observation normalisation the policy
    /// expects and a time limit). <paramref name="scoreTaskId"/> names the reference-score entry (e.g.
    /// "hopper-medium-v2" or "Pendulum-v1"); null for raw returns only.
    /// </summary>
    public Evaluator(IEnvironment environment, string? scoreTaskId, int seed)
    {
        ArgumentNullException.ThrowIfNull(environment);
        this.environment = environment;
        this.scoreTaskId = scoreTaskId;
        Seed = seed;
        observation = new float[environment.ObservationSpace.Dimension];
        action = new float[environment.ActionSpace.Dimension];
    }

    /// <summary>An evaluation episode this long has no time limit: the evaluation stops with an error.</summary>
    public const int MaxEpisodeLength = 1_000_000;

    /// <summary>Base seed of evaluation episodes.</summary>
    public int Seed { get; }

    /// <summary>Episodes run so far (all evaluations together; saved and restored on resume).</summary>
    public int EpisodesRun
    {
        get => episodesRun;
        set => episodesRun = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "episode count cannot be negative");
    }

    /// <summary>
    /// Runs <paramref name="episodes"/> episodes and summarises them; <paramref name="episodeFinished"/>, when given,
    /// hears each finished episode (its 1-based count and its return), for progress on long evaluations.
    /// </summary>
    public EvaluationResult Evaluate(IPolicy policy, int episodes, bool deterministic = true, Action<int, double>? episodeFinished = null)
    {
        if (episodes < 1) throw new ArgumentOutOfRangeException(nameof(episodes), episodes, "need at least one evaluation episode");
        var returns = new double[episodes];
        double lengths = 0;
        for (int e = 0; e < episodes; e++)
        {
            environment.Reset(observation, EnvRandom.DeriveSeed(Seed, e));
            episodesRun++;
            double total = 0;
            int length = 0;
            while (true)
            {
                policy.Act(observation, action, deterministic);
                if (Divergence.FirstNaN(action) is int bad)
                    throw new NonFiniteActionException(
                        $"the policy's action[{bad}] is NaN at step {length + 1} of evaluation episode {e + 1}: its weights or inputs are not finite");
                var result = environment.Step(action, observation);
                total += result.Reward;
                length++;
                if (result.Done) break;
                // An environment without a time limit would hang the run here, silently.
                if (length >= MaxEpisodeLength)
                    throw new InvalidOperationException(
                        $"{environment.Id}: evaluation episode {e + 1} has run {length:N0} steps without ending; give the environment a time limit (TimeLimit, or EnvironmentRegistry.Register's maxEpisodeSteps)");
            }
            returns[e] = total;
            lengths += length;
            episodeFinished?.Invoke(e + 1, total);
        }
        double mean = returns.Average();
        double std = Math.Sqrt(returns.Select(r => (r - mean) * (r - mean)).Average());
        double? normalizedMean = null, normalizedStd = null;
        if (scoreTaskId is not null && NormalizedScores.TryGet(scoreTaskId, out _))
        {
            var normalized = returns.Select(r => NormalizedScores.Normalize(scoreTaskId, r)).ToArray();
            normalizedMean = normalized.Average();
            normalizedStd = Math.Sqrt(normalized.Select(r => (r - normalizedMean.Value) * (r - normalizedMean.Value)).Average());
        }
        return new EvaluationResult(returns, mean, std, normalizedMean, normalizedStd, lengths / episodes);
    }

    /// <summary>
    /// An evaluator with this one's score task and seed on another environment, which it does not own (disposing it
    /// leaves that environment open): the reference code's evaluation on the training instance.
    /// </summary>
    public Evaluator On(IEnvironment other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new Evaluator(other, scoreTaskId, Seed) { ownsEnvironment = false };
    }

    /// <summary>Disposes the environment (unless this evaluator was made by <see cref="On"/>).</summary>
    public void Dispose()
    {
        if (ownsEnvironment) environment.Dispose();
    }
}

/// <summary>Which reference scores a run's evaluations are normalised with.</summary>
public static class ScoreTasks
{
    /// <summary>
    /// Refuses a D4RL score task of another body for a user's --score-task (hopper-medium-v2 on Pendulum-v1 was
    /// accepted and printed a "normalised" score against Hopper's reference returns). D4RL ids start with the task's
    /// name (hopper-, walker2d-, halfcheetah-, ant-, antmaze-, maze2d-); ids registered by the user are theirs to
    /// pair. The library itself takes any pairing (a test may run a fast task under a score task's per-task settings).
    /// </summary>
    public static void CheckPairing(string? scoreTaskId, string environmentId)
    {
        static string Body(string id) => id.Split('-', 2)[0].ToLowerInvariant();
        if (scoreTaskId is null || scoreTaskId == environmentId) return;
        // The D4RL table is keyed by whole ids (maze2d-…) and by bodies (hopper, walker2d, …).
        if (!NormalizedScores.D4rlTable.ContainsKey(scoreTaskId) && !NormalizedScores.D4rlTable.ContainsKey(Body(scoreTaskId))) return;
        if (Body(scoreTaskId) != Body(environmentId))
            throw new ArgumentException($"score task '{scoreTaskId}' is scored against another task's reference returns than {environmentId}'s; " +
                $"use a {Body(environmentId)}-… id, or leave it out for raw returns");
    }
}
