namespace O2RL.Algorithms.Configs;

/// <summary>
/// PPO (ALGORITHMS.md §5.4–§5.6 without the O2PPO constraint): Gaussian actor with a state-independent
/// log-std, tanh value network, GAE, clipped surrogate. Defaults are the O2PPO release's constants (§5.6, §7.3),
/// which fine-tune a pre-trained actor; training from scratch wants larger learning rates (see the shipped
/// Pendulum-v1 file).
/// </summary>
public sealed record PpoConfig
{
    /// <summary>Environment steps of the run (250,000 in O2PPO).</summary>
    public long TotalSteps { get; init; } = 250_000;
    /// <summary>Rollout length T between updates (2,048).</summary>
    public int RolloutLength { get; init; } = 2_048;
    /// <summary>Minibatch size (128; T must be a multiple of it).</summary>
    public int MinibatchSize { get; init; } = 128;
    /// <summary>K, optimisation epochs over each rollout (10; 5 for hopper expert and medium-expert).</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>γ (0.99).</summary>
    public double Gamma { get; init; } = 0.99;
    /// <summary>GAE λ (0.95).</summary>
    public double GaeLambda { get; init; } = 0.95;
    /// <summary>Clip range ε of the surrogate (0.2).</summary>
    public float ClipRatio { get; init; } = 0.2f;
    /// <summary>Entropy bonus coefficient (0.01).</summary>
    public float EntropyCoefficient { get; init; } = 0.01f;
    /// <summary>Actor Adam learning rate (3e-5 in O2PPO fine-tuning).</summary>
    public float ActorLr { get; init; } = 3e-5f;
    /// <summary>Critic Adam learning rate (2e-4 in O2PPO fine-tuning).</summary>
    public float CriticLr { get; init; } = 2e-4f;
    /// <summary>Adam ε of both optimisers (1e-5).</summary>
    public float AdamEpsilon { get; init; } = 1e-5f;
    /// <summary>Global gradient-norm clip of actor and critic (0.5).</summary>
    public float MaxGradNorm { get; init; } = 0.5f;
    /// <summary>Linear learning-rate decay to 0 over <see cref="TotalSteps"/>, applied after each update (on).</summary>
    public bool LearningRateDecay { get; init; } = true;
    /// <summary>Normalise advantages over the rollout with the unbiased std (on).</summary>
    public bool NormalizeAdvantages { get; init; } = true;
    /// <summary>Normalise observations: running statistics from scratch, fixed constants when fine-tuning (on).</summary>
    public bool NormalizeStates { get; init; } = true;
    /// <summary>Actor hidden widths (2 × 256, ReLU; the layout of the IQL actor so its weights load).</summary>
    public int[] ActorHidden { get; init; } = [256, 256];
    /// <summary>Value-network hidden widths (3 × 256, tanh).</summary>
    public int[] CriticHidden { get; init; } = [256, 256, 256];
    /// <summary>Initial log-std ψ of an actor trained from scratch (0, as the IQL actor).</summary>
    public float InitialLogStd { get; init; }
    /// <summary>Evaluate every this many environment steps (2,500).</summary>
    public int EvaluateEvery { get; init; } = 2_500;
    /// <summary>Episodes per evaluation (10; 100 on AntMaze).</summary>
    public int EvaluationEpisodes { get; init; } = 10;

    /// <summary>Throws, naming the key and its value, when a setting is out of range; runs call it before they make their folder.</summary>
    public void Validate()
    {
        SettingChecks.AtLeast(nameof(TotalSteps), TotalSteps, 1);
        SettingChecks.AtLeast(nameof(RolloutLength), RolloutLength, 1);
        SettingChecks.AtLeast(nameof(MinibatchSize), MinibatchSize, 1);
        if (RolloutLength % MinibatchSize != 0)
            throw new ArgumentException($"minibatch_size ({MinibatchSize}) must divide rollout_length ({RolloutLength})");
        SettingChecks.AtLeast(nameof(Epochs), Epochs, 1);
        SettingChecks.Fraction(nameof(Gamma), Gamma);
        SettingChecks.Fraction(nameof(GaeLambda), GaeLambda);
        if (!(ClipRatio > 0f && ClipRatio < 1f)) throw new ArgumentException($"clip_ratio must be in (0, 1) (the ratio is clipped to [1 − ε, 1 + ε]), got {ClipRatio}");
        SettingChecks.NotNegative(nameof(EntropyCoefficient), EntropyCoefficient);
        SettingChecks.NotNegative(nameof(ActorLr), ActorLr);
        SettingChecks.NotNegative(nameof(CriticLr), CriticLr);
        SettingChecks.Positive(nameof(AdamEpsilon), AdamEpsilon);
        SettingChecks.Positive(nameof(MaxGradNorm), MaxGradNorm);
        SettingChecks.Widths(nameof(ActorHidden), ActorHidden);
        SettingChecks.Widths(nameof(CriticHidden), CriticHidden);
        SettingChecks.AtLeast(nameof(EvaluateEvery), EvaluateEvery, 0);
        SettingChecks.AtLeast(nameof(EvaluationEpisodes), EvaluationEpisodes, 1);
    }
}
