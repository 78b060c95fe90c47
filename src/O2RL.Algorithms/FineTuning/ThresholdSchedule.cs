namespace O2RL.Algorithms.FineTuning;

/// <summary>
/// The linearly loosening constraint threshold of stage C (ALGORITHMS.md §1.4):
/// ε_t = min(ε_end, ε_0 + (ε_end − ε_0)·t/T_end), with t the environment steps taken so far (warm-up included,
/// pitfall 4). ε_0 and ε_end come from the per-task tables, never from σ (pitfall 23).
/// </summary>
/// <param name="Start">ε_0.</param>
/// <param name="End">ε_end.</param>
/// <param name="Steps">T_end, the environment step at which ε reaches ε_end.</param>
public readonly record struct ThresholdSchedule(float Start, float End, long Steps)
{
    /// <summary>Checks the schedule: finite, non-negative thresholds and a positive horizon.</summary>
    public ThresholdSchedule Validated()
    {
        if (!float.IsFinite(Start) || Start < 0f) throw new ArgumentOutOfRangeException(nameof(Start), Start, "ε_0 must be finite and ≥ 0");
        if (!float.IsFinite(End) || End < 0f) throw new ArgumentOutOfRangeException(nameof(End), End, "ε_end must be finite and ≥ 0");
        if (Steps <= 0) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "T_end must be positive");
        return this;
    }

    /// <summary>ε_t at environment step <paramref name="environmentStep"/> (t ≥ 0).</summary>
    public float At(long environmentStep)
    {
        if (environmentStep < 0) throw new ArgumentOutOfRangeException(nameof(environmentStep), environmentStep, "t must be ≥ 0");
        double value = Start + (End - (double)Start) * environmentStep / Steps;
        // min(ε_end, ·) as the release writes it: a schedule that tightens (ε_end < ε_0) is clamped the same way.
        return (float)Math.Min(End, value);
    }

    /// <summary>The "replace the reference every n evaluations" ablation divides ε_end by 4 (SAC and TD3, §1.6).</summary>
    public ThresholdSchedule ForPeriodicReference() => this with { End = End / 4f };
}
