namespace O2RL.Algorithms.Configs;

/// <summary>
/// Online SAC from scratch (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications", automatic
/// temperature). Defaults are standard SAC's, not O2SAC's: actor lr 3e-4 (O2SAC fine-tunes with 1e-4), α starting
/// at 1 (log α = 0) and tuned, two hidden layers of 256 for actor and critics, no LayerNorm, UTD 1.
/// </summary>
public sealed record SacConfig
{
    /// <summary>Minibatch size B (paper: 256).</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Discount γ (paper: 0.99).</summary>
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Actor learning rate (SAC paper: 3e-4; O2SAC uses 1e-4 for fine-tuning).</summary>
    public float ActorLr { get; init; } = 3e-4f;
    /// <summary>Critic learning rate (paper: 3e-4).</summary>
    public float CriticLr { get; init; } = 3e-4f;
    /// <summary>log α learning rate (paper: 3e-4).</summary>
    public float AlphaLr { get; init; } = 3e-4f;
    /// <summary>Initial temperature α (log α starts at 0 in the reference implementations, so 1.0).</summary>
    public float Alpha { get; init; } = 1f;
    /// <summary>Automatic entropy tuning (paper: on).</summary>
    public bool AutoAlpha { get; init; } = true;
    /// <summary>Target entropy; null = −d (paper: −dim(A)).</summary>
    public float? TargetEntropy { get; init; }
    /// <summary>Polyak rate τ (paper: 0.005, every update).</summary>
    public float Tau { get; init; } = 0.005f;
    /// <summary>Actor hidden widths (paper: 256, 256).</summary>
    public int[] ActorHidden { get; init; } = [256, 256];
    /// <summary>Critic hidden widths; the count is the critic depth (paper: 256, 256; O2SAC: 3 × 256).</summary>
    public int[] CriticHidden { get; init; } = [256, 256];
    /// <summary>LayerNorm in the critics (paper: off; O2SAC: on).</summary>
    public bool CriticLayerNorm { get; init; }
    /// <summary>Gradient updates per environment step (paper: 1; O2SAC: 10).</summary>
    public int UpdatesPerStep { get; init; } = 1;
    /// <summary>Environment steps before the first update; uniform random actions during them when training from scratch (paper: 10,000 random steps; CleanRL 5,000).</summary>
    public int WarmupSteps { get; init; } = 5_000;
    /// <summary>Total environment steps (paper: 1M on MuJoCo).</summary>
    public long TotalSteps { get; init; } = 1_000_000;
    /// <summary>Replay capacity (paper: 1M).</summary>
    public int ReplayCapacity { get; init; } = 1_000_000;
    /// <summary>Evaluate every this many environment steps.</summary>
    public int EvalEvery { get; init; } = 5_000;
    /// <summary>Deterministic evaluation episodes (ALGORITHMS.md §8: 10).</summary>
    public int EvalEpisodes { get; init; } = 10;
    /// <summary>Log losses every this many environment steps.</summary>
    public int LogEvery { get; init; } = 1_000;

    /// <summary>
    /// Throws, naming the key and the value, when a setting is out of range. Checked before training starts: these
    /// were otherwise accepted (γ &gt; 1, no steps, no updates: a "finished" run that trained nothing) or failed only
    /// at the first update, after the run folder had its first rows.
    /// </summary>
    public void Validate()
    {
        ValidateLearner();
        SettingChecks.AtLeast(nameof(TotalSteps), TotalSteps, 1);
        SettingChecks.AtLeast(nameof(WarmupSteps), WarmupSteps, 0);
        SettingChecks.AtLeast(nameof(UpdatesPerStep), UpdatesPerStep, 1);
        if (ReplayCapacity < BatchSize) throw new ArgumentException($"replay_capacity must hold at least one batch ({BatchSize}), got {ReplayCapacity}");
        SettingChecks.AtLeast(nameof(EvalEvery), EvalEvery, 0);
        SettingChecks.AtLeast(nameof(EvalEpisodes), EvalEpisodes, 1);
        SettingChecks.AtLeast(nameof(LogEvery), LogEvery, 0);
    }

    /// <summary>
    /// The settings the learner itself uses (batch, γ, τ, learning rates, widths); <see cref="Online.SacAgent"/> checks these
    /// when built directly, where the loop's settings (steps, evaluation, replay) belong to the caller's loop options.
    /// </summary>
    public void ValidateLearner()
    {
        SettingChecks.SoftActorCritic(BatchSize, Gamma, Tau, ActorLr, CriticLr, AlphaLr, Alpha);
        if (TargetEntropy is float target && !float.IsFinite(target))
            throw new ArgumentException($"target_entropy must be finite (or left out for −action_dim), got {target}");
        SettingChecks.Widths(nameof(ActorHidden), ActorHidden);
        SettingChecks.Widths(nameof(CriticHidden), CriticHidden);
    }
}
