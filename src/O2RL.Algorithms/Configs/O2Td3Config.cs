using O2RL.Data.Replay;

namespace O2RL.Algorithms.Configs;

/// <summary>
/// O2TD3 (OCR-CFT with TD3 as the online learner, ALGORITHMS.md §4, §7.2): a TD3+BC actor is re-evaluated by new
/// critics (stage A), aligned with them (stage B) and fine-tuned online by TD3 under a Lagrangian constraint to a
/// reference actor (stage C). Defaults are the release's built-in defaults (§7.2); per-task values ship as YAML.
/// </summary>
public sealed record O2Td3Config
{
    /// <summary>Names of <see cref="Mode"/>.</summary>
    public const string OcrCftMode = "ocr-cft", NaiveMode = "naive", ScratchMode = "scratch", OfflineMode = "offline";

    /// <summary>
    /// What the run does: "ocr-cft" (default) = stages A, B, C; "naive" = load the TD3+BC actor (and its critics when
    /// their architecture matches the critic settings here, else fresh critics) and run plain TD3 online with the same
    /// buffer mode; "scratch" = plain TD3 online from a random initialisation (random warm-up actions); "offline" =
    /// only evaluate the loaded actor.
    /// </summary>
    public string Mode { get; init; } = OcrCftMode;
    /// <summary>Minibatch size B in every stage (256).</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Discount γ (0.99).</summary>
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Polyak rate τ_p (0.005).</summary>
    public float Tau { get; init; } = 0.005f;
    /// <summary>Actor learning rate (1e-4). The log λ learning rate is the release's hard-coded 5e-5, not a setting.</summary>
    public float ActorLr { get; init; } = 1e-4f;
    /// <summary>Learning rate of each critic (3e-4).</summary>
    public float CriticLr { get; init; } = 3e-4f;
    /// <summary>Target policy smoothing std σ_tp (0.2); also the alignment noise std and the distance cap of stage B.</summary>
    public float PolicyNoise { get; init; } = 0.2f;
    /// <summary>Target policy smoothing clip c (0.5); also the alignment noise clip.</summary>
    public float NoiseClip { get; init; } = 0.5f;
    /// <summary>Delayed (actor, λ, target) updates when n_it is a multiple of this (2).</summary>
    public int PolicyDelay { get; init; } = 2;
    /// <summary>Exploration std σ_e of stage C (0.1; 0.05 on expert and medium-expert tasks).</summary>
    public float ExplorationNoise { get; init; } = 0.1f;
    /// <summary>
    /// Store the executed noisy action in the replay buffer. Default false reproduces the release's quirk (§4.5,
    /// pitfall 14): the stored action is the noise-free μ_θ(s) although μ_θ(s) + noise was executed.
    /// </summary>
    public bool StoreExecutedAction { get; init; }
    /// <summary>ε_0 of the threshold schedule (0.0025 = (σ_e/2)²; 2.5e-5 on expert tasks). Read from the task table, never derived.</summary>
    public float ThresholdStart { get; init; } = 0.0025f;
    /// <summary>ε_end of the threshold schedule (0.04 = (2σ_e)²; 6.25e-4 on expert tasks).</summary>
    public float ThresholdEnd { get; init; } = 0.04f;
    /// <summary>T_end: environment steps over which ε grows linearly (100,000).</summary>
    public long ThresholdSteps { get; init; } = 100_000;
    /// <summary>β_dist of the distance-shrunk alignment anchor (1.0).</summary>
    public float DistanceBeta { get; init; } = 1f;
    /// <summary>λ_0, the initial Lagrange multiplier (1.0, i.e. log λ = 0).</summary>
    public float InitialLambda { get; init; } = 1f;
    /// <summary>τ_λ of the asymmetric slack weight (0.7: violations weigh 0.7, slack 0.3).</summary>
    public float LambdaTau { get; init; } = 0.7f;
    /// <summary>Stage A (policy re-evaluation) gradient steps (500,000).</summary>
    public long ReevaluationSteps { get; init; } = 500_000;
    /// <summary>Stage B (value alignment) gradient steps (500,000 MuJoCo; 1,000,000 AntMaze).</summary>
    public long AlignmentSteps { get; init; } = 500_000;
    /// <summary>Stage C environment steps without updates; the loaded actor acts from step one (1,000).</summary>
    public int WarmupSteps { get; init; } = 1_000;
    /// <summary>Stage C environment steps (100,000 MuJoCo; 200,000 AntMaze).</summary>
    public long OnlineSteps { get; init; } = 100_000;
    /// <summary>Updates per environment step (UTD 1).</summary>
    public int UpdatesPerStep { get; init; } = 1;
    /// <summary>Critic hidden widths (2 × 256). The actor's widths come from the loaded checkpoint.</summary>
    public int[] CriticHidden { get; init; } = [256, 256];
    /// <summary>LayerNorm in the critics (yes on MuJoCo, no on AntMaze).</summary>
    public bool CriticLayerNorm { get; init; } = true;
    /// <summary>Hidden widths of a from-scratch actor ("scratch" mode only; 2 × 256).</summary>
    public int[] ScratchActorHidden { get; init; } = [256, 256];
    /// <summary>Offline data in stage C minibatches (§3.8; "half" = 128 online + 128 offline, every config).</summary>
    public OfflineMixing BufferMode { get; init; } = OfflineMixing.Half;
    /// <summary>Online buffer capacity (2,000,000; never reached).</summary>
    public int BufferSize { get; init; } = 2_000_000;
    /// <summary>refer_with_optimal_pi: π_ref is the best policy so far (true, every reported config) or replaced every update_n evaluations (false, ablation).</summary>
    public bool ReferWithOptimalPi { get; init; } = true;
    /// <summary>update_n of the ablation rule (1; the release sets 10 on hopper-*expert and walker2d-expert, see <see cref="ForTask"/>).</summary>
    public int UpdateEvery { get; init; } = 1;
    /// <summary>Actor gradient-norm clip of stage C (none; the ablation sets 0.25 on the tasks listed in §1.6, see <see cref="ForTask"/>).</summary>
    public float? ActorMaxGradientNorm { get; init; }
    /// <summary>
    /// Normalise states with the dataset's mean and std + 1e-3 (every O2TD3 config: yes). A starting checkpoint's own
    /// constants (or their absence) always win, since the loaded actor only understands the states it was trained on.
    /// </summary>
    public bool NormalizeStates { get; init; } = true;
    /// <summary>Reward map r ← scale·r + shift on offline and online data (AntMaze: r − 1).</summary>
    public float RewardScale { get; init; } = 1f;
    /// <summary>Shift of the reward map (0; AntMaze −1).</summary>
    public float RewardShift { get; init; }
    /// <summary>Stage C evaluation every this many environment steps (1,000; AntMaze 5,000).</summary>
    public int EvaluateEvery { get; init; } = 1_000;
    /// <summary>Deterministic evaluation episodes (10; AntMaze 100).</summary>
    public int EvaluationEpisodes { get; init; } = 10;
    /// <summary>
    /// Evaluate on the training environment instance, as the release's TD3 code does (false: a separate instance, the
    /// spec's recommendation; see <see cref="Training.OffPolicyLoopOptions.SharedEvaluationEnvironment"/>).
    /// </summary>
    public bool SharedEvalEnv { get; init; }
    /// <summary>Log losses every this many steps (in every stage).</summary>
    public int LogEvery { get; init; } = 1_000;

    /// <summary>
    /// The effective settings for a task (§1.6, pitfall 23): in the "update every n" ablation
    /// (<see cref="ReferWithOptimalPi"/> false) ε_end is divided by 4, and on task names containing both "hopper"
    /// and "expert", or on walker2d-expert (not walker2d-medium-expert), update_n becomes 10 and the actor gradient
    /// is clipped to 0.25. With the default best-policy reference the config is returned unchanged.
    /// </summary>
    public O2Td3Config ForTask(string taskName)
    {
        ArgumentNullException.ThrowIfNull(taskName);
        if (ReferWithOptimalPi) return this;
        string task = taskName.ToLowerInvariant();
        bool special = (task.Contains("hopper", StringComparison.Ordinal) && task.Contains("expert", StringComparison.Ordinal))
            || (task.Contains("walker2d", StringComparison.Ordinal) && task.Contains("expert", StringComparison.Ordinal) && !task.Contains("medium", StringComparison.Ordinal));
        return this with
        {
            ThresholdEnd = ThresholdEnd / 4f,
            UpdateEvery = special ? 10 : UpdateEvery,
            ActorMaxGradientNorm = special ? 0.25f : ActorMaxGradientNorm,
        };
    }

    /// <summary>Throws with the offending value when a setting is out of range.</summary>
    public void Validate()
    {
        if (Mode is not (OcrCftMode or NaiveMode or ScratchMode or OfflineMode))
            throw new ArgumentException($"mode '{Mode}' is not one of {OcrCftMode}, {NaiveMode}, {ScratchMode}, {OfflineMode}");
        if (BatchSize < 2) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch_size must be at least 2");
        if (!(Gamma >= 0f && Gamma <= 1f)) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "gamma must be in [0, 1]");
        if (!(Tau > 0f && Tau <= 1f)) throw new ArgumentOutOfRangeException(nameof(Tau), Tau, "tau must be in (0, 1]");
        if (!(ActorLr > 0f) || !(CriticLr > 0f)) throw new ArgumentOutOfRangeException(nameof(ActorLr), $"actor_lr {ActorLr} and critic_lr {CriticLr} must be positive");
        if (!(PolicyNoise >= 0f) || !(NoiseClip > 0f)) throw new ArgumentOutOfRangeException(nameof(PolicyNoise), $"policy_noise {PolicyNoise} must be ≥ 0 and noise_clip {NoiseClip} > 0");
        if (PolicyDelay < 1) throw new ArgumentOutOfRangeException(nameof(PolicyDelay), PolicyDelay, "policy_delay must be at least 1");
        if (!(ExplorationNoise >= 0f) || float.IsInfinity(ExplorationNoise)) throw new ArgumentOutOfRangeException(nameof(ExplorationNoise), ExplorationNoise, "exploration_noise must be finite and ≥ 0");
        if (!(ThresholdStart >= 0f) || !(ThresholdEnd >= 0f)) throw new ArgumentOutOfRangeException(nameof(ThresholdStart), $"threshold_start {ThresholdStart} and threshold_end {ThresholdEnd} must be ≥ 0");
        if (ThresholdSteps < 1) throw new ArgumentOutOfRangeException(nameof(ThresholdSteps), ThresholdSteps, "threshold_steps must be at least 1");
        if (!(DistanceBeta >= 0f)) throw new ArgumentOutOfRangeException(nameof(DistanceBeta), DistanceBeta, "distance_beta must be ≥ 0");
        if (!(InitialLambda > 0f) || float.IsInfinity(InitialLambda)) throw new ArgumentOutOfRangeException(nameof(InitialLambda), InitialLambda, "initial_lambda must be positive (λ = exp ℓ)");
        if (!(LambdaTau > 0f && LambdaTau < 1f)) throw new ArgumentOutOfRangeException(nameof(LambdaTau), LambdaTau, "lambda_tau must be in (0, 1)");
        if (ReevaluationSteps < 0 || AlignmentSteps < 0) throw new ArgumentOutOfRangeException(nameof(ReevaluationSteps), $"reevaluation_steps {ReevaluationSteps} and alignment_steps {AlignmentSteps} must be ≥ 0");
        if (WarmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(WarmupSteps), WarmupSteps, "warmup_steps must be ≥ 0");
        if (OnlineSteps < 1) throw new ArgumentOutOfRangeException(nameof(OnlineSteps), OnlineSteps, "online_steps must be at least 1");
        if (UpdatesPerStep < 1) throw new ArgumentOutOfRangeException(nameof(UpdatesPerStep), UpdatesPerStep, "updates_per_step must be at least 1");
        if (CriticHidden.Length < 1 || CriticHidden.Any(w => w < 1)) throw new ArgumentException($"critic_hidden [{string.Join(", ", CriticHidden)}] needs at least one positive width");
        if (ScratchActorHidden.Length < 1 || ScratchActorHidden.Any(w => w < 1)) throw new ArgumentException($"scratch_actor_hidden [{string.Join(", ", ScratchActorHidden)}] needs at least one positive width");
        if (BufferSize < BatchSize) throw new ArgumentOutOfRangeException(nameof(BufferSize), BufferSize, $"buffer_size must hold at least one batch ({BatchSize})");
        if (UpdateEvery < 1) throw new ArgumentOutOfRangeException(nameof(UpdateEvery), UpdateEvery, "update_every must be at least 1");
        if (ActorMaxGradientNorm is float clip && !(clip > 0f)) throw new ArgumentOutOfRangeException(nameof(ActorMaxGradientNorm), clip, "actor_max_gradient_norm must be positive or null");
        if (EvaluateEvery < 0) throw new ArgumentOutOfRangeException(nameof(EvaluateEvery), EvaluateEvery, "evaluate_every must be ≥ 0");
        if (EvaluationEpisodes < 1) throw new ArgumentOutOfRangeException(nameof(EvaluationEpisodes), EvaluationEpisodes, "evaluation_episodes must be at least 1");
    }
}
