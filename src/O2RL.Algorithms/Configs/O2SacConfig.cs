using O2RL.Data.Replay;

namespace O2RL.Algorithms.Configs;

/// <summary>
/// O2SAC: OCR-CFT fine-tuning of a CQL tanh-Gaussian actor with SAC (ALGORITHMS.md §3, §7.1). Defaults are the
/// release's built-in MuJoCo values (§3.9 / §7.1); the shipped per-task files set the bold columns of §7.1 (the
/// expert tasks' α and ε, the AntMaze column). <see cref="Mode"/> also runs the baselines in the same harness.
/// </summary>
public sealed record O2SacConfig
{
    /// <summary>
    /// What to run: "ocr-cft" (stages A, B, C: the method), "naive" (load the offline actor and, when the checkpoint
    /// has twin critics in our layout (CQL, SAC), those critics with their own architecture; else fresh critics of the
    /// configured architecture; then plain SAC online with the same buffer mode and UTD), "scratch" (plain SAC from random init, random warm-up actions, same buffer mode),
    /// "offline" (only evaluate the loaded policy). The naive and scratch baselines always use twin critics (plain
    /// SAC), also where the config sets double_critic false.
    /// </summary>
    public string Mode { get; init; } = "ocr-cft";
    /// <summary>Minibatch size B (256).</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Discount γ (0.99).</summary>
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Polyak rate τ_p of the target critics, every update (0.005).</summary>
    public float Tau { get; init; } = 0.005f;
    /// <summary>Actor Adam learning rate (1e-4).</summary>
    public float ActorLr { get; init; } = 1e-4f;
    /// <summary>
    /// Actor learning rate in stage B only; null = <see cref="ActorLr"/> (the release: one actor optimiser throughout).
    /// Stage C always uses <see cref="ActorLr"/>. Our knob for converted starting actors, whose stage-B actor can follow
    /// the stage-A critic (fitted only at dataset actions) faster than the aligned target lowers Q where it samples.
    /// 0 freezes the actor in stage B (the critics still align to it).
    /// </summary>
    public float? AlignmentActorLr { get; init; }
    /// <summary>Critic Adam learning rate (3e-4).</summary>
    public float CriticLr { get; init; } = 3e-4f;
    /// <summary>log α Adam learning rate (3e-4).</summary>
    public float AlphaLr { get; init; } = 3e-4f;
    /// <summary>α: fixed value in stages A and B and the initial value online (0.2; 0.5 on expert, medium-expert, antmaze-medium/large).</summary>
    public float Alpha { get; init; } = 0.2f;
    /// <summary>Automatic entropy tuning in stage C (on; target entropy −d).</summary>
    public bool AutoAlpha { get; init; } = true;
    /// <summary>Target entropy H̄ of the temperature loss; null = by <see cref="TargetEntropyRule"/>. A number here wins over the rule.</summary>
    public float? TargetEntropy { get; init; }
    /// <summary>
    /// Where H̄ comes from when <see cref="TargetEntropy"/> is not set: "action-dim" (−d, the release), "policy"
    /// (H̄ = H(π) − <see cref="TargetEntropyMargin"/>·d, with H(π) the aligned policy's entropy on dataset states) or
    /// "auto" (the default: "policy" when the starting actor was converted from a deterministic or Gaussian family,
    /// "action-dim" for a tanh-Gaussian one such as CQL's). Our design for the transfers, which the release does not
    /// cover (FineTuning.EntropyTarget says why). The naive baseline follows the same rule on the loaded actor.
    /// </summary>
    public string TargetEntropyRule { get; init; } = "auto";
    /// <summary>Nats per action dimension that the "policy" rule sets H̄ below the measured entropy (2; ≥ 0).</summary>
    public float TargetEntropyMargin { get; init; } = 2f;
    /// <summary>
    /// σ₀ (pre-tanh) of the actor converted from a deterministic starting actor (TD3+BC's), which has no spread of its
    /// own (0.1; our design, the release has no such conversion). Ignored for tanh-Gaussian and Gaussian sources.
    /// </summary>
    public float DeterministicSourceStd { get; init; } = 0.1f;
    /// <summary>Initial λ (1.0; 2.0 on antmaze-medium/large).</summary>
    public float Lambda { get; init; } = 1f;
    /// <summary>Values of <see cref="ReferenceLogDensity"/>.</summary>
    public const string ReferenceAtAction = "action", ReferenceAtPreImage = "pre-image";
    /// <summary>
    /// How stage C scores π_θ's sample ã = tanh u under π_ref (the ℓ_ref of the actor loss, the λ slack and the critic
    /// target): "action" (default, the release: ã clamped into ±(1 − 1e-4), then atanh) or "pre-image" (at u itself,
    /// the same formula with no clamp; our switch). They agree wherever |u| &lt; 4.95. Beyond, "action" reads the sample
    /// as u = ±4.95, so an actor whose means lie far out there (TD3+BC's saturated actions, converted) looks far from
    /// itself: at π_θ = π_ref the estimate of log π_θ − log π_ref is 0 with "pre-image" and up to ~100 nats per state
    /// with "action", which lowers the critic target by λ times that and raises λ. With "pre-image" the pathwise
    /// gradient of ℓ_ref reaches u also where tanh u has saturated (the "action" clamp passes none there).
    /// </summary>
    public string ReferenceLogDensity { get; init; } = ReferenceAtAction;
    /// <summary>ε_0 of the threshold schedule (0.125; 0.005 on expert and medium-expert).</summary>
    public float ThresholdStart { get; init; } = 0.125f;
    /// <summary>ε_end (2.0; 0.125 on expert and medium-expert). Read from the table, never derived from σ.</summary>
    public float ThresholdEnd { get; init; } = 2f;
    /// <summary>T_end: environment steps over which ε loosens linearly (100,000).</summary>
    public long ThresholdSteps { get; init; } = 100_000;
    /// <summary>Critic hidden widths; the count is the critic depth (3 × 256; AntMaze 5 × 256).</summary>
    public int[] CriticHidden { get; init; } = [256, 256, 256];
    /// <summary>LayerNorm after each hidden critic Linear (on in every config).</summary>
    public bool CriticLayerNorm { get; init; } = true;
    /// <summary>Two critics and their minimum (on; off on AntMaze, where only Q_1 exists and is trained).</summary>
    public bool DoubleCritic { get; init; } = true;
    /// <summary>Stage A (policy re-evaluation) gradient steps (500,000).</summary>
    public long ReevaluationSteps { get; init; } = 500_000;
    /// <summary>Stage B (value alignment) gradient steps (500,000; AntMaze 1,000,000).</summary>
    public long AlignmentSteps { get; init; } = 500_000;
    /// <summary>Online environment steps of stage C (100,000; AntMaze 200,000).</summary>
    public long OnlineSteps { get; init; } = 100_000;
    /// <summary>Environment steps before the first online update; the loaded policy acts during them (1,000; AntMaze 5,000).</summary>
    public int WarmupSteps { get; init; } = 1_000;
    /// <summary>Gradient updates per environment step (10; λ is stepped on the first only).</summary>
    public int UpdatesPerStep { get; init; } = 10;
    /// <summary>Online buffer capacity (2,000,000, never reached).</summary>
    public int ReplayCapacity { get; init; } = 2_000_000;
    /// <summary>How offline data enters stage C (half: 128 online + 128 offline per minibatch, every config).</summary>
    public OfflineMixing BufferMode { get; init; } = OfflineMixing.Half;
    /// <summary>Reference rule: true = best policy so far (every reported config); false = replace every update_n evaluations (ablation, ε_end / 4).</summary>
    public bool ReferToOptimalPolicy { get; init; } = true;
    /// <summary>Values of <see cref="InitialReference"/>.</summary>
    public const string InitialReferenceBest = "best", InitialReferenceAligned = "aligned";
    /// <summary>
    /// Stage C's first π_ref: "best" (default, the release: the aligned actor only if its evaluation beat π_off's,
    /// otherwise π_off) or "aligned" (the aligned actor whatever its score; our switch). For a start converted from a
    /// deterministic actor, π_off carries the fixed spread σ₀ while stage B narrows the actor; with "best" a slightly
    /// worse aligned actor keeps π_off as π_ref, and stage C starts far from its reference. Either way best_score starts at
    /// the chosen reference's score.
    /// </summary>
    public string InitialReference { get; init; } = InitialReferenceBest;
    /// <summary>
    /// With initial_reference = best: the aligned actor becomes π_ref also when it scores less than this fraction of
    /// |π_off's score| under π_off (0, the release's strict comparison; our switch). A converted actor that stage B
    /// moved far in distribution but not in score (HalfCheetah mr: 37.2 against 38.6) then becomes the reference it is
    /// already close to, while one that stage B lowered far (Hopper m: 34.6 against 61.6) is pulled back to π_off.
    /// </summary>
    public float InitialReferenceTolerance { get; init; }
    /// <summary>update_n of the ablation rule (1; the hopper "expert" tasks use 10 with actor gradient clipping 0.25).</summary>
    public int UpdateN { get; init; } = 1;
    /// <summary>Evaluate every this many environment steps in stage C (1,000; AntMaze 5,000).</summary>
    public int EvalEvery { get; init; } = 1_000;
    /// <summary>Deterministic evaluation episodes (10; AntMaze 100).</summary>
    public int EvalEpisodes { get; init; } = 10;
    /// <summary>
    /// Evaluate on the training environment instance, as the release's SAC code does (false: a separate instance, the
    /// spec's recommendation; see <see cref="Training.OffPolicyLoopOptions.SharedEvaluationEnvironment"/>).
    /// </summary>
    public bool SharedEvalEnv { get; init; }
    /// <summary>Normalise states with the dataset mean and population std + 1e-3 (on; off on AntMaze).</summary>
    public bool NormalizeStates { get; init; } = true;
    /// <summary>Reward map r ← reward_scale·r + reward_bias on offline and online rewards (1, 0; AntMaze 10, −5).</summary>
    public float RewardScale { get; init; } = 1f;
    /// <inheritdoc cref="RewardScale"/>
    public float RewardBias { get; init; }
    /// <summary>Log losses every this many gradient steps in stages A/B and environment steps in stage C.</summary>
    public int LogEvery { get; init; } = 1_000;

    /// <summary>Throws, naming the key and its value, when a setting is out of range; runs call it before they make their folder.</summary>
    public void Validate()
    {
        SettingChecks.SoftActorCritic(BatchSize, Gamma, Tau, ActorLr, CriticLr, AlphaLr, Alpha);
        if (AlignmentActorLr is float alignmentActorLr) SettingChecks.NotNegative(nameof(AlignmentActorLr), alignmentActorLr);
        SettingChecks.Positive(nameof(DeterministicSourceStd), DeterministicSourceStd);
        SettingChecks.Positive(nameof(Lambda), Lambda);
        SettingChecks.Fraction(nameof(InitialReferenceTolerance), InitialReferenceTolerance);
        if (InitialReference is not (InitialReferenceBest or InitialReferenceAligned))
            throw new ArgumentException($"initial_reference '{InitialReference}' is not one of {InitialReferenceBest}, {InitialReferenceAligned}");
        if (ReferenceLogDensity is not (ReferenceAtAction or ReferenceAtPreImage))
            throw new ArgumentException($"reference_log_density '{ReferenceLogDensity}' is not one of {ReferenceAtAction}, {ReferenceAtPreImage}");
        SettingChecks.NotNegative(nameof(ThresholdStart), ThresholdStart);
        SettingChecks.NotNegative(nameof(ThresholdEnd), ThresholdEnd);
        SettingChecks.AtLeast(nameof(ThresholdSteps), ThresholdSteps, 1);
        SettingChecks.Widths(nameof(CriticHidden), CriticHidden);
        SettingChecks.AtLeast(nameof(ReevaluationSteps), ReevaluationSteps, 0);
        SettingChecks.AtLeast(nameof(AlignmentSteps), AlignmentSteps, 0);
        SettingChecks.AtLeast(nameof(OnlineSteps), OnlineSteps, 0);   // 0: the stages only
        SettingChecks.AtLeast(nameof(WarmupSteps), WarmupSteps, 0);
        SettingChecks.AtLeast(nameof(UpdatesPerStep), UpdatesPerStep, 1);
        if (ReplayCapacity < BatchSize) throw new ArgumentException($"replay_capacity must hold at least one batch ({BatchSize}), got {ReplayCapacity}");
        SettingChecks.AtLeast(nameof(UpdateN), UpdateN, 1);
        SettingChecks.AtLeast(nameof(EvalEvery), EvalEvery, 0);
        SettingChecks.AtLeast(nameof(EvalEpisodes), EvalEpisodes, 1);
        SettingChecks.AtLeast(nameof(LogEvery), LogEvery, 0);
    }
}
