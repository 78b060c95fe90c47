using O2RL.Algorithms.Training;

namespace O2RL.Algorithms.FineTuning;

/// <summary>How stage C refreshes the reference policy π_ref (ALGORITHMS.md §1.6).</summary>
public enum ReferenceRule
{
    /// <summary>refer_with_optimal_pi = true (default): π_ref is the best policy seen so far by evaluation score.</summary>
    BestSoFar,
    /// <summary>refer_with_optimal_pi = false (ablation): π_ref ← current actor every update_n evaluations.</summary>
    EveryN,
}

/// <summary>
/// Decides when π_ref is replaced by a deep copy of the current actor. The caller owns the copies; this class only
/// keeps best_score and the rule, so the same logic serves O2SAC, O2TD3 and O2PPO.
/// </summary>
public sealed class ReferencePolicyTracker
{
    readonly ReferenceRule rule;
    readonly long period;

    /// <summary>Creates the tracker.</summary>
    /// <param name="rule">Best-so-far or every-n.</param>
    /// <param name="updateEvery">update_n: evaluations between replacements in the every-n rule (1 = every evaluation).</param>
    /// <param name="evaluateEvery">eval_freq in environment steps.</param>
    public ReferencePolicyTracker(ReferenceRule rule, int updateEvery, int evaluateEvery)
    {
        if (!Enum.IsDefined(rule)) throw new ArgumentOutOfRangeException(nameof(rule), rule, "unknown reference rule");
        if (updateEvery < 1) throw new ArgumentOutOfRangeException(nameof(updateEvery), updateEvery, "update_n must be ≥ 1");
        if (evaluateEvery < 1) throw new ArgumentOutOfRangeException(nameof(evaluateEvery), evaluateEvery, "eval_freq must be ≥ 1");
        this.rule = rule;
        period = (long)updateEvery * evaluateEvery;
    }

    /// <summary>The rule in force.</summary>
    public ReferenceRule Rule => rule;

    /// <summary>best_score: the score of the current reference under the best-so-far rule (NaN before <see cref="ChooseInitial"/>).</summary>
    public double BestScore { get; private set; } = double.NaN;

    /// <summary>Number of replacements decided so far (the initial choice excluded).</summary>
    public int Replacements { get; private set; }

    /// <summary>
    /// Start of stage C (§1.6 item 1, §3.5): the aligned actor becomes π_ref only when it is strictly better than the
    /// offline actor measured before stage A; best_score is set to the chosen policy's score. For O2PPO (no alignment)
    /// pass the offline score twice.
    /// </summary>
    /// <param name="offlineScore">π_off's score before stage A.</param>
    /// <param name="alignedScore">The aligned actor's score after stage B (NaN when it was not evaluated).</param>
    /// <param name="alwaysAligned">
    /// initial_reference = aligned (our switch, not the release's): the aligned actor becomes π_ref whatever its score,
    /// and best_score is its score, so the first online policy that beats it replaces it.
    /// </param>
    /// <param name="tolerance">
    /// initial_reference_tolerance (our switch; 0 = the release's strict comparison): the aligned actor is also chosen
    /// when it scores above offline − tolerance·|offline|, i.e. when it is less than that fraction worse than π_off.
    /// </param>
    /// <returns>True when π_ref must be replaced by a snapshot of the aligned actor.</returns>
    public bool ChooseInitial(double offlineScore, double alignedScore, bool alwaysAligned = false, double tolerance = 0)
    {
        if (double.IsNaN(offlineScore)) throw new ArgumentOutOfRangeException(nameof(offlineScore), offlineScore, "offline score must be a number");
        if (!(tolerance >= 0) || double.IsInfinity(tolerance)) throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "tolerance must be a finite number ≥ 0");
        // NaN aligned score compares false: keep π_off.
        bool aligned = alwaysAligned || alignedScore > offlineScore - tolerance * Math.Abs(offlineScore);
        BestScore = aligned ? alignedScore : offlineScore;
        return aligned;
    }

    /// <summary>
    /// Adds best_score and the replacement count to a training state under <paramref name="name"/> (with the rule,
    /// checked on restore). The every-n rule needs nothing else: it depends on the step alone.
    /// </summary>
    public void SaveState(TrainingState state, string name)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentException.ThrowIfNullOrEmpty(name);
        state.SetText(name + ".rule", rule.ToString());
        state.SetReal(name + ".best_score", BestScore);
        state.SetCounter(name + ".replacements", Replacements);
    }

    /// <summary>Restores what <see cref="SaveState"/> stored under <paramref name="name"/>.</summary>
    public void RestoreState(TrainingState state, string name)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentException.ThrowIfNullOrEmpty(name);
        string? stored = state.GetTextOrNull(name + ".rule");
        if (stored != rule.ToString())
            throw new InvalidDataException($"{state.Source ?? "training state"}: the reference rule was {stored ?? "(none)"} but this run uses {rule}; the config differs");
        BestScore = state.GetReal(name + ".best_score");
        Replacements = checked((int)state.GetCounter(name + ".replacements"));
    }

    /// <summary>
    /// At an evaluation at environment step t with the current actor's score (§1.6 item 2). Best-so-far: replace when
    /// the score is strictly larger than best_score (and raise best_score). Every-n: replace whenever t is a multiple of
    /// update_n · eval_freq.
    /// </summary>
    /// <returns>True when π_ref must become a deep copy of the current actor.</returns>
    public bool ShouldReplace(long environmentStep, double score)
    {
        bool replace;
        if (rule == ReferenceRule.BestSoFar)
        {
            replace = score > BestScore || (double.IsNaN(BestScore) && !double.IsNaN(score));
            if (replace) BestScore = score;
        }
        else
        {
            replace = environmentStep > 0 && environmentStep % period == 0;
        }
        if (replace) Replacements++;
        return replace;
    }
}
