namespace O2RL.Algorithms.Configs;

/// <summary>
/// Offline CQL (Kumar et al. 2020) as the OCR-CFT release runs it (ALGORITHMS.md §6.1; CORL's implementation):
/// defaults are the MuJoCo column; the AntMaze files switch on Lagrange, max-backup, the gap clip, 5 critic layers
/// and the 10r − 5 reward map.
/// </summary>
public sealed record CqlConfig
{
    /// <summary>Minibatch size B (256).</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Discount γ (0.99).</summary>
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Actor learning rate; also the log α learning rate (MuJoCo 3e-5, AntMaze 1e-4).</summary>
    public float PolicyLr { get; init; } = 3e-5f;
    /// <summary>Critic learning rate; also the log α′ learning rate (3e-4).</summary>
    public float QfLr { get; init; } = 3e-4f;
    /// <summary>Initial SAC temperature α (log α = 0, α = 1).</summary>
    public float Alpha { get; init; } = 1f;
    /// <summary>Automatic entropy tuning (on).</summary>
    public bool AutoAlpha { get; init; } = true;
    /// <summary>Target entropy; null = −d.</summary>
    public float? TargetEntropy { get; init; }
    /// <summary>Polyak rate τ (0.005, every step).</summary>
    public float Tau { get; init; } = 0.005f;
    /// <summary>Actor hidden widths (3 × 256).</summary>
    public int[] ActorHidden { get; init; } = [256, 256, 256];
    /// <summary>Critic hidden widths (3 × 256 MuJoCo, 5 × 256 AntMaze); CQL critics have no LayerNorm.</summary>
    public int[] CriticHidden { get; init; } = [256, 256, 256];
    /// <summary>Conservative weight cql_alpha (MuJoCo 10, AntMaze 5).</summary>
    public float CqlAlpha { get; init; } = 10f;
    /// <summary>Lagrange version with a learnt α′ (MuJoCo off, AntMaze on).</summary>
    public bool Lagrange { get; init; }
    /// <summary>Target action gap τ of the Lagrange version (0.8).</summary>
    public float TargetActionGap { get; init; } = 0.8f;
    /// <summary>Initial log α′ of the Lagrange version (1.0, so α′ = e).</summary>
    public float LogAlphaPrimeInit { get; init; } = 1f;
    /// <summary>Sampled actions n per state for the logsumexp term (10).</summary>
    public int NActions { get; init; } = 10;
    /// <summary>Importance-sampled logsumexp (on): random actions + d·ln 2, policy actions − log π.</summary>
    public bool ImportanceSample { get; init; } = true;
    /// <summary>Temperature T of the soft maximum (1.0).</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Max target backup over n next actions (MuJoCo off, AntMaze on).</summary>
    public bool MaxTargetBackup { get; init; }
    /// <summary>Lower clip of the conservative gap; null = −∞ (AntMaze −200).</summary>
    public float? GapClipLow { get; init; }
    /// <summary>Upper clip of the conservative gap; null = +∞.</summary>
    public float? GapClipHigh { get; init; }
    /// <summary>Behaviour-cloning warm-start steps (0 in the release).</summary>
    public int BcSteps { get; init; }
    /// <summary>Normalise s and s′ with the dataset mean and std + 1e-3 (MuJoCo on, AntMaze off).</summary>
    public bool NormalizeStates { get; init; } = true;
    /// <summary>Reward map r ← reward_scale·r + reward_bias (AntMaze 10 and −5).</summary>
    public float RewardScale { get; init; } = 1f;
    /// <inheritdoc cref="RewardScale"/>
    public float RewardBias { get; init; }
    /// <summary>Gradient steps (1,000,000).</summary>
    public long Steps { get; init; } = 1_000_000;
    /// <summary>Evaluate every this many gradient steps (5,000).</summary>
    public int EvalEvery { get; init; } = 5_000;
    /// <summary>Evaluation episodes (10 MuJoCo, 100 AntMaze).</summary>
    public int EvalEpisodes { get; init; } = 10;
    /// <summary>Log losses every this many gradient steps.</summary>
    public int LogEvery { get; init; } = 1_000;

    /// <summary>Throws, naming the key and its value, when a setting is out of range; runs call it before they make their folder.</summary>
    public void Validate()
    {
        SettingChecks.AtLeast(nameof(BatchSize), BatchSize, 1);
        SettingChecks.Fraction(nameof(Gamma), Gamma);
        SettingChecks.NotNegative(nameof(PolicyLr), PolicyLr);
        SettingChecks.NotNegative(nameof(QfLr), QfLr);
        SettingChecks.NotNegative(nameof(Alpha), Alpha);
        SettingChecks.PolyakRate(nameof(Tau), Tau);
        SettingChecks.Widths(nameof(ActorHidden), ActorHidden);
        SettingChecks.Widths(nameof(CriticHidden), CriticHidden);
        SettingChecks.NotNegative(nameof(CqlAlpha), CqlAlpha);
        SettingChecks.AtLeast(nameof(NActions), NActions, 1);
        SettingChecks.Positive(nameof(Temperature), Temperature);
        SettingChecks.AtLeast(nameof(BcSteps), BcSteps, 0);
        SettingChecks.AtLeast(nameof(Steps), Steps, 1);
        SettingChecks.AtLeast(nameof(EvalEvery), EvalEvery, 0);
        SettingChecks.AtLeast(nameof(EvalEpisodes), EvalEpisodes, 1);
        SettingChecks.AtLeast(nameof(LogEvery), LogEvery, 0);
        if (GapClipLow is float low && GapClipHigh is float high && low > high)
            throw new ArgumentException($"gap_clip_low ({low}) must not exceed gap_clip_high ({high})");
    }
}
