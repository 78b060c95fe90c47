using O2RL.Data.Replay;

namespace O2RL.Algorithms.Configs;

/// <summary>
/// Online TD3 (Fujimoto et al. 2018, "Addressing Function Approximation Error in Actor-Critic Methods"), trained
/// from scratch or naively fine-tuned from a TD3+BC checkpoint. Defaults are the paper's / the authors' code's;
/// noise, delay and Polyak values are those O2TD3 shares (ALGORITHMS.md §4.7).
/// </summary>
public sealed record Td3Config
{
    /// <summary>Environment steps (the TD3 code's max_timesteps: 1,000,000).</summary>
    public long TotalSteps { get; init; } = 1_000_000;
    /// <summary>Uniformly random actions and no updates for this many steps when training from scratch (start_timesteps 25,000).</summary>
    public int WarmupSteps { get; init; } = 25_000;
    /// <summary>No updates for this many steps when starting from a checkpoint; the loaded policy acts from step one (§4.5: 1,000).</summary>
    public int FineTuneWarmupSteps { get; init; } = 1_000;
    /// <summary>Minibatch size B (256).</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Replay capacity (1,000,000).</summary>
    public int BufferSize { get; init; } = 1_000_000;
    /// <summary>Discount γ (0.99).</summary>
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Polyak rate τ of the delayed target updates (0.005).</summary>
    public float Tau { get; init; } = 0.005f;
    /// <summary>Actor learning rate (3e-4).</summary>
    public float ActorLr { get; init; } = 3e-4f;
    /// <summary>Critic learning rate, each critic (3e-4).</summary>
    public float CriticLr { get; init; } = 3e-4f;
    /// <summary>Target policy smoothing noise std σ_tp (0.2).</summary>
    public float PolicyNoise { get; init; } = 0.2f;
    /// <summary>Target policy smoothing noise clip c (0.5).</summary>
    public float NoiseClip { get; init; } = 0.5f;
    /// <summary>Actor and target updates every this many critic updates (2).</summary>
    public int PolicyDelay { get; init; } = 2;
    /// <summary>Exploration noise std σ_e added to μ(s) when acting (0.1).</summary>
    public float ExplorationNoise { get; init; } = 0.1f;
    /// <summary>Clip the noisy executed action to [−1, 1] (TD3's code: yes; O2TD3 stage C does not, §4.5).</summary>
    public bool ClipExplorationAction { get; init; } = true;
    /// <summary>Gradient updates per environment step (UTD ratio, 1).</summary>
    public int UpdatesPerStep { get; init; } = 1;
    /// <summary>Actor hidden widths (2 × 256).</summary>
    public int[] ActorHidden { get; init; } = [256, 256];
    /// <summary>Critic hidden widths (2 × 256).</summary>
    public int[] CriticHidden { get; init; } = [256, 256];
    /// <summary>LayerNorm in the critics (TD3: no; O2TD3 MuJoCo: yes).</summary>
    public bool CriticLayerNorm { get; init; }
    /// <summary>Offline data mixed into fine-tuning when a dataset is given (naive baseline: none; §3.8 modes).</summary>
    public OfflineMixing BufferMode { get; init; } = OfflineMixing.None;
    /// <summary>Evaluate every this many environment steps (5,000 as in the TD3 code).</summary>
    public int EvaluateEvery { get; init; } = 5_000;
    /// <summary>Deterministic evaluation episodes (10).</summary>
    public int EvaluationEpisodes { get; init; } = 10;
    /// <summary>Log losses every this many environment steps.</summary>
    public int LogEvery { get; init; } = 1_000;
}
