namespace O2RL.Algorithms.Configs;

/// <summary>
/// IQL as the OCR-CFT release runs it (ALGORITHMS.md §6.2, §7.4): expectile value regression, twin Q on a
/// one-step target through V, advantage-weighted Gaussian actor. Defaults are the MuJoCo column; the AntMaze
/// files change τ, β and the reward map.
/// </summary>
public sealed record IqlConfig
{
    /// <summary>Gradient steps (1,000,000).</summary>
    public long MaxSteps { get; init; } = 1_000_000;
    /// <summary>Minibatch size B (256).</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>γ (0.99).</summary>
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Expectile τ of the value loss (0.7 MuJoCo, 0.9 AntMaze).</summary>
    public float Expectile { get; init; } = 0.7f;
    /// <summary>Inverse temperature β of the actor weights exp(β·A) (3.0 MuJoCo, 10.0 AntMaze).</summary>
    public float Beta { get; init; } = 3f;
    /// <summary>Cap on exp(β·A) (100).</summary>
    public float MaxWeight { get; init; } = 100f;
    /// <summary>Actor Adam learning rate (3e-4).</summary>
    public float ActorLr { get; init; } = 3e-4f;
    /// <summary>Twin-Q Adam learning rate (3e-4).</summary>
    public float CriticLr { get; init; } = 3e-4f;
    /// <summary>V Adam learning rate (3e-4).</summary>
    public float ValueLr { get; init; } = 3e-4f;
    /// <summary>Cosine annealing of the actor learning rate to 0 over <see cref="MaxSteps"/> (on).</summary>
    public bool ActorCosineSchedule { get; init; } = true;
    /// <summary>Polyak rate τ_p of the target twin Q (0.005).</summary>
    public float Tau { get; init; } = 0.005f;
    /// <summary>Actor hidden widths (2 × 256).</summary>
    public int[] ActorHidden { get; init; } = [256, 256];
    /// <summary>Hidden widths of each Q network (2 × 256).</summary>
    public int[] CriticHidden { get; init; } = [256, 256];
    /// <summary>Hidden widths of V (2 × 256).</summary>
    public int[] ValueHidden { get; init; } = [256, 256];
    /// <summary>Normalise states with the dataset's mean and population std + 1e-3 (on).</summary>
    public bool NormalizeStates { get; init; } = true;
    /// <summary>Reward map r ← scale·r + shift: scale (1).</summary>
    public float RewardScale { get; init; } = 1f;
    /// <summary>Reward map r ← scale·r + shift: shift (0 MuJoCo; −1 AntMaze).</summary>
    public float RewardShift { get; init; }
    /// <summary>Evaluate every this many gradient steps (5,000).</summary>
    public int EvaluateEvery { get; init; } = 5_000;
    /// <summary>Episodes per evaluation (10 MuJoCo, 100 AntMaze).</summary>
    public int EvaluationEpisodes { get; init; } = 10;

    /// <summary>Throws, naming the key and its value, when a setting is out of range; runs call it before they make their folder.</summary>
    public void Validate()
    {
        SettingChecks.AtLeast(nameof(MaxSteps), MaxSteps, 1);
        SettingChecks.AtLeast(nameof(BatchSize), BatchSize, 1);
        SettingChecks.Fraction(nameof(Gamma), Gamma);
        if (!(Expectile > 0f && Expectile < 1f)) throw new ArgumentException($"expectile must be in (0, 1), got {Expectile}");
        SettingChecks.NotNegative(nameof(Beta), Beta);
        SettingChecks.Positive(nameof(MaxWeight), MaxWeight);
        SettingChecks.NotNegative(nameof(ActorLr), ActorLr);
        SettingChecks.NotNegative(nameof(CriticLr), CriticLr);
        SettingChecks.NotNegative(nameof(ValueLr), ValueLr);
        SettingChecks.PolyakRate(nameof(Tau), Tau);
        SettingChecks.Widths(nameof(ActorHidden), ActorHidden);
        SettingChecks.Widths(nameof(CriticHidden), CriticHidden);
        SettingChecks.Widths(nameof(ValueHidden), ValueHidden);
        SettingChecks.AtLeast(nameof(EvaluateEvery), EvaluateEvery, 0);
        SettingChecks.AtLeast(nameof(EvaluationEpisodes), EvaluationEpisodes, 1);
    }
}
