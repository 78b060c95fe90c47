using System.Collections.Concurrent;

namespace O2RL.Data;

/// <summary>Reference returns of a task: REF_MIN (random policy) and REF_MAX (expert).</summary>
/// <param name="Min">REF_MIN_SCORE: mean return of a uniform-random policy.</param>
/// <param name="Max">REF_MAX_SCORE: return of an expert policy.</param>
public readonly record struct ReferenceScores(double Min, double Max);

/// <summary>
/// D4RL normalised score: 100 × (return − REF_MIN) / (REF_MAX − REF_MIN), with return the undiscounted episode
/// return. The D4RL constants are built in (the same for every dataset level and version of a task). Our own tasks
/// register theirs with <see cref="Register"/> or <see cref="RegisterFromRuns"/>, e.g.
/// <c>NormalizedScores.RegisterFromRuns("Pendulum-v1", randomPolicyReturns, expertReturns)</c> with the returns
/// of 100 uniform-random episodes and of a fully trained policy's evaluation episodes.
/// </summary>
public static class NormalizedScores
{
    static readonly ConcurrentDictionary<string, ReferenceScores> Registered = new(StringComparer.OrdinalIgnoreCase);

    // Keys are matched against a dataset/task id: first the whole id (e.g. "maze2d-umaze-dense-v1"), then the
    // domain prefix before the first '-' (e.g. "hopper" for "hopper-medium-replay-v2").
    static readonly Dictionary<string, ReferenceScores> D4rl = new(StringComparer.OrdinalIgnoreCase)
    {
        ["hopper"] = new(-20.272305, 3234.3),
        ["halfcheetah"] = new(-280.178953, 12135.0),
        ["walker2d"] = new(1.629008, 4592.3),
        ["ant"] = new(-325.6, 3879.7),
        ["antmaze"] = new(0.0, 1.0),
        ["maze2d-umaze-v1"] = new(23.85, 161.86),
        ["maze2d-medium-v1"] = new(13.13, 277.39),
        ["maze2d-large-v1"] = new(6.7, 273.99),
        ["maze2d-umaze-dense-v1"] = new(68.537689, 193.66285642381482),
        ["maze2d-medium-dense-v1"] = new(44.264742, 297.4552547777125),
        ["maze2d-large-dense-v1"] = new(30.569041, 303.4857382709002),
        ["maze2d-open-v0"] = new(0.01, 20.66),
        ["maze2d-open-dense-v0"] = new(11.17817, 27.166538620695782),
        ["maze2d-eval-umaze-v1"] = new(36.63, 141.4),
        ["maze2d-eval-medium-v1"] = new(13.07, 204.93),
        ["maze2d-eval-large-v1"] = new(16.4, 302.22),
    };

    /// <summary>The built-in D4RL table (key → constants).</summary>
    public static IReadOnlyDictionary<string, ReferenceScores> D4rlTable => D4rl;

    /// <summary>Registers (or replaces) constants for a task id; takes precedence over the D4RL table.</summary>
    public static void Register(string taskId, double referenceMin, double referenceMax)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        if (!double.IsFinite(referenceMin) || !double.IsFinite(referenceMax) || !(referenceMax > referenceMin))
            throw new ArgumentException($"reference scores for {taskId} must be finite with max > min; got min {referenceMin}, max {referenceMax}");
        Registered[taskId] = new ReferenceScores(referenceMin, referenceMax);
    }

    /// <summary>
    /// Registers constants measured from runs: REF_MIN = mean of the random-policy returns, REF_MAX = mean of the
    /// expert returns. Returns the registered constants.
    /// </summary>
    public static ReferenceScores RegisterFromRuns(string taskId, IReadOnlyCollection<double> randomPolicyReturns, IReadOnlyCollection<double> expertReturns)
    {
        ArgumentNullException.ThrowIfNull(randomPolicyReturns);
        ArgumentNullException.ThrowIfNull(expertReturns);
        if (randomPolicyReturns.Count == 0 || expertReturns.Count == 0)
            throw new ArgumentException($"need at least one random and one expert return for {taskId}; got {randomPolicyReturns.Count} and {expertReturns.Count}");
        double min = randomPolicyReturns.Average(), max = expertReturns.Average();
        Register(taskId, min, max);
        return new ReferenceScores(min, max);
    }

    /// <summary>Removes a registered task (the built-in table is unaffected).</summary>
    public static bool Unregister(string taskId) => Registered.TryRemove(taskId, out _);

    /// <summary>Finds the constants for a task/dataset id, or false when none are known.</summary>
    public static bool TryGet(string taskId, out ReferenceScores scores)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        if (Registered.TryGetValue(taskId, out scores) || D4rl.TryGetValue(taskId, out scores)) return true;
        int dash = taskId.IndexOf('-');
        if (dash > 0)
        {
            string domain = taskId[..dash];
            // maze2d constants depend on the layout and reward type, so a bare "maze2d" prefix is not a match.
            if (Registered.TryGetValue(domain, out scores)) return true;
            if (!domain.Equals("maze2d", StringComparison.OrdinalIgnoreCase) && D4rl.TryGetValue(domain, out scores)) return true;
        }
        scores = default;
        return false;
    }

    /// <summary>The constants for a task id; throws naming the id when none are known.</summary>
    public static ReferenceScores Get(string taskId) =>
        TryGet(taskId, out var s) ? s
            : throw new KeyNotFoundException($"no reference scores for '{taskId}': use a D4RL id (e.g. hopper-medium-v2) or register the task with NormalizedScores.Register");

    /// <summary>100 × (return − REF_MIN) / (REF_MAX − REF_MIN).</summary>
    public static double Normalize(string taskId, double episodeReturn)
    {
        var s = Get(taskId);
        return 100.0 * (episodeReturn - s.Min) / (s.Max - s.Min);
    }
}
