namespace O2RL.Algorithms.Configs;

/// <summary>
/// Offline TD3+BC (Fujimoto and Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning"), the producer
/// of O2TD3's starting actor (ALGORITHMS.md §6.3, §7.4). Defaults are the paper's / CORL's MuJoCo defaults.
/// </summary>
public sealed record Td3BcConfig
{
    /// <summary>Gradient steps (1,000,000).</summary>
    public long MaxSteps { get; init; } = 1_000_000;
    /// <summary>Minibatch size B (256).</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Discount γ (0.99).</summary>
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Polyak rate τ of the delayed target updates (0.005).</summary>
    public float Tau { get; init; } = 0.005f;
    /// <summary>Actor learning rate (3e-4).</summary>
    public float ActorLr { get; init; } = 3e-4f;
    /// <summary>Critic learning rate, each critic (3e-4).</summary>
    public float CriticLr { get; init; } = 3e-4f;
    /// <summary>Target policy smoothing noise std (0.2).</summary>
    public float PolicyNoise { get; init; } = 0.2f;
    /// <summary>Target policy smoothing noise clip (0.5).</summary>
    public float NoiseClip { get; init; } = 0.5f;
    /// <summary>Actor and target updates every this many critic updates (2).</summary>
    public int PolicyDelay { get; init; } = 2;
    /// <summary>α of λ = α / mean|Q| weighting the Q term against the BC term (2.5).</summary>
    public float Alpha { get; init; } = 2.5f;
    /// <summary>Normalise states with the Q-learning dataset's mean and population std + 1e-3 (on).</summary>
    public bool NormalizeStates { get; init; } = true;
    /// <summary>Reward map r ← scale·r + shift on the dataset and online (1; AntMaze keeps 1).</summary>
    public float RewardScale { get; init; } = 1f;
    /// <summary>Reward map shift (0; AntMaze −1, §6.3).</summary>
    public float RewardShift { get; init; }
    /// <summary>Actor hidden widths (2 × 256).</summary>
    public int[] ActorHidden { get; init; } = [256, 256];
    /// <summary>Critic hidden widths (2 × 256, no LayerNorm).</summary>
    public int[] CriticHidden { get; init; } = [256, 256];
    /// <summary>Evaluate every this many gradient steps (5,000).</summary>
    public int EvaluateEvery { get; init; } = 5_000;
    /// <summary>Deterministic evaluation episodes (10 MuJoCo, 100 AntMaze).</summary>
    public int EvaluationEpisodes { get; init; } = 10;
    /// <summary>Log losses every this many gradient steps.</summary>
    public int LogEvery { get; init; } = 1_000;
}
