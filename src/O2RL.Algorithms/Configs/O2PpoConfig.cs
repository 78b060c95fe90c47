namespace O2RL.Algorithms.Configs;

/// <summary>How rewards are scaled offline and online (ALGORITHMS.md §5.2).</summary>
public enum RewardScaling
{
    /// <summary>Raw rewards offline and online (every task but halfcheetah).</summary>
    Off,
    /// <summary>One running-std scaler of the discounted reward sum, shared by the offline data and the online rollouts (halfcheetah).</summary>
    Dynamic,
}

/// <summary>
/// O2PPO: an IQL Gaussian actor fine-tuned online by PPO with a value network pre-trained on Monte-Carlo returns
/// (stage A) and an auxiliary reference advantage that decays to zero (ALGORITHMS.md §5, §7.3). Defaults are the
/// release's built-in constants (§5.6); the per-task differences live in the shipped YAML files.
/// </summary>
/// <remarks>
/// <see cref="Mode"/> picks the learner that runs in this harness: <c>ocr-cft</c> (default) is O2PPO itself;
/// <c>naive</c> loads the offline actor and runs plain PPO from it with a fresh value network (IQL's V has another
/// architecture, 2 × 256 ReLU, so no critic is compatible) and no value pre-training or auxiliary advantage;
/// <c>scratch</c> runs plain PPO from a randomly initialised actor (hidden widths <see cref="ActorHidden"/>);
/// <c>offline</c> only evaluates the loaded actor. All modes share the data preparation, normalisation constants and
/// evaluation protocol.
/// </remarks>
public sealed record O2PpoConfig
{
    /// <summary>Learner in this harness: "ocr-cft" (O2PPO, default), "naive", "scratch" or "offline" (see the remarks).</summary>
    public string Mode { get; init; } = "ocr-cft";
    /// <summary>Online environment steps (250,000).</summary>
    public long TotalSteps { get; init; } = 250_000;
    /// <summary>Rollout length T between updates (2,048).</summary>
    public int RolloutLength { get; init; } = 2_048;
    /// <summary>PPO minibatch size (128).</summary>
    public int MinibatchSize { get; init; } = 128;
    /// <summary>K, epochs per update (10; 5 on hopper-expert and hopper-medium-expert).</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>γ (0.99), also the discount of the Monte-Carlo returns and of the reward scaler.</summary>
    public double Gamma { get; init; } = 0.99;
    /// <summary>GAE λ (0.95).</summary>
    public double GaeLambda { get; init; } = 0.95;
    /// <summary>Surrogate clip ε (0.2).</summary>
    public float ClipRatio { get; init; } = 0.2f;
    /// <summary>
    /// σ₀ of the Gaussian actor converted from a deterministic starting actor (TD3+BC's), which has no spread of its
    /// own (0.1; our design, the release has no such conversion). Ignored for Gaussian and tanh-Gaussian sources.
    /// </summary>
    public float DeterministicSourceStd { get; init; } = 0.1f;
    /// <summary>Entropy bonus coefficient (0.01).</summary>
    public float EntropyCoefficient { get; init; } = 0.01f;
    /// <summary>Online actor Adam learning rate (3e-5).</summary>
    public float ActorLr { get; init; } = 3e-5f;
    /// <summary>Online critic Adam learning rate (2e-4).</summary>
    public float CriticLr { get; init; } = 2e-4f;
    /// <summary>Linear decay of both learning rates to 0 over <see cref="TotalSteps"/>, after every update (on).</summary>
    public bool LearningRateDecay { get; init; } = true;
    /// <summary>Adam ε of the online optimisers (1e-5).</summary>
    public float AdamEpsilon { get; init; } = 1e-5f;
    /// <summary>Global gradient-norm clip of actor and critic (0.5).</summary>
    public float MaxGradNorm { get; init; } = 0.5f;
    /// <summary>Normalise the (mixed) advantage with its mean and unbiased std (on).</summary>
    public bool NormalizeAdvantages { get; init; } = true;
    /// <summary>Normalise states with the offline data's mean and population std + 1e-10, fixed (on).</summary>
    public bool NormalizeStates { get; init; } = true;
    /// <summary>Value-network hidden widths (3 × 256, tanh). The actor's widths come from the checkpoint.</summary>
    public int[] CriticHidden { get; init; } = [256, 256, 256];
    /// <summary>Actor hidden widths in "scratch" mode only (2 × 256, the IQL layout).</summary>
    public int[] ActorHidden { get; init; } = [256, 256];
    /// <summary>Mix the auxiliary reference advantage into the policy's advantage (use_auxi; on in all configs).</summary>
    public bool UseAuxAdvantage { get; init; } = true;
    /// <summary>α_aux, scale of the reference advantage (2.0).</summary>
    public float AuxAlpha { get; init; } = 2.0f;
    /// <summary>T_end: the reference weight w_t = max(1 − t/T_end, 0) (250,000; 500,000 on expert and medium-expert).</summary>
    public long AuxDecaySteps { get; init; } = 250_000;
    /// <summary>
    /// Per-sample mixing A_mix,i = (A_i + w·A_ref,i)/(1 + w) instead of the release's 2,048 × 2,048 broadcast matrix
    /// (false = the faithful matrix form, §5.5 and §10 item 16).
    /// </summary>
    public bool AuxAdvantagePerSample { get; init; }
    /// <summary>Reward scaling: off, or dynamic (running std of the discounted sum; halfcheetah).</summary>
    public RewardScaling RewardScaling { get; init; } = RewardScaling.Off;
    /// <summary>Stage A: value pre-training steps on Monte-Carlo returns (1,000,000).</summary>
    public long ValuePretrainSteps { get; init; } = 1_000_000;
    /// <summary>Stage A minibatch size (512).</summary>
    public int ValuePretrainBatchSize { get; init; } = 512;
    /// <summary>Stage A Adam learning rate (1e-4, default Adam ε 1e-8).</summary>
    public float ValuePretrainLr { get; init; } = 1e-4f;
    /// <summary>Cap σ ≤ this on the loaded actor and the reference (0.05 on hopper-expert and hopper-medium-expert; 0 = no cap).</summary>
    public float StdCap { get; init; }
    /// <summary>refer_with_optimal_pi: π_ref ← the best policy so far (true, all configs) or every update_n evaluations (false).</summary>
    public bool ReferWithOptimalPi { get; init; } = true;
    /// <summary>update_n of the "every n evaluations" reference rule (1; 4 on the hopper expert tasks, read only when that rule is on).</summary>
    public int ReferenceUpdateN { get; init; } = 1;
    /// <summary>Evaluate (and apply the reference rule) every this many environment steps (2,500).</summary>
    public int EvaluateEvery { get; init; } = 2_500;
    /// <summary>Episodes per evaluation (10; 100 on AntMaze).</summary>
    public int EvaluationEpisodes { get; init; } = 10;
    /// <summary>Initial log-std ψ of the "scratch" actor (0, as the IQL actor).</summary>
    public float InitialLogStd { get; init; }

    /// <summary>The plain-PPO settings of this config (online part), with the given actor widths.</summary>
    public PpoConfig ToPpoConfig(int[] actorHidden) => new()
    {
        TotalSteps = TotalSteps,
        RolloutLength = RolloutLength,
        MinibatchSize = MinibatchSize,
        Epochs = Epochs,
        Gamma = Gamma,
        GaeLambda = GaeLambda,
        ClipRatio = ClipRatio,
        EntropyCoefficient = EntropyCoefficient,
        ActorLr = ActorLr,
        CriticLr = CriticLr,
        AdamEpsilon = AdamEpsilon,
        MaxGradNorm = MaxGradNorm,
        LearningRateDecay = LearningRateDecay,
        NormalizeAdvantages = NormalizeAdvantages,
        NormalizeStates = NormalizeStates,
        ActorHidden = actorHidden,
        CriticHidden = CriticHidden,
        InitialLogStd = InitialLogStd,
        EvaluateEvery = EvaluateEvery,
        EvaluationEpisodes = EvaluationEpisodes,
    };

    /// <summary>Throws, naming the key and its value, when a setting is out of range; runs call it before they make their folder.</summary>
    public void Validate()
    {
        // The online part is plain PPO's, key for key.
        ToPpoConfig(ActorHidden).Validate();
        SettingChecks.Positive(nameof(DeterministicSourceStd), DeterministicSourceStd);
        SettingChecks.NotNegative(nameof(AuxAlpha), AuxAlpha);
        SettingChecks.AtLeast(nameof(AuxDecaySteps), AuxDecaySteps, 1);
        SettingChecks.AtLeast(nameof(ValuePretrainSteps), ValuePretrainSteps, 0);
        SettingChecks.AtLeast(nameof(ValuePretrainBatchSize), ValuePretrainBatchSize, 1);
        SettingChecks.NotNegative(nameof(ValuePretrainLr), ValuePretrainLr);
        SettingChecks.NotNegative(nameof(StdCap), StdCap);
        SettingChecks.AtLeast(nameof(ReferenceUpdateN), ReferenceUpdateN, 1);
    }
}
