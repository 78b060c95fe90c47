using O2RL.Algorithms.Networks;
using O2RL.Data;
using O2RL.Engine;

namespace O2RL.Algorithms.FineTuning;

/// <summary>Where the target entropy H̄ of SAC's temperature loss comes from in O2SAC's stage C.</summary>
public enum EntropyTargetSource
{
    /// <summary>H̄ = −d, SAC's default and the release's (CQL → O2SAC).</summary>
    ActionDim,
    /// <summary>The number the config sets (<c>target_entropy</c>).</summary>
    Configured,
    /// <summary>H̄ = H(π) − margin·d, H(π) the entropy of the aligned policy measured on dataset states after stage B.</summary>
    Policy,
}

/// <summary>
/// The target-entropy rule of O2SAC (<c>target_entropy_rule</c>), our design for actors converted from another family.
/// <para>
/// Why: a converted actor's entropy was never trained against SAC's target. A deterministic TD3+BC actor becomes a
/// tanh-Gaussian with a small pre-tanh σ, and where its actions saturate (HalfCheetah) the tanh correction makes
/// log π large: after stage B its entropy measured −13 to −14 nats against SAC's −d = −6. The temperature loss then
/// raises α at Adam's full rate, the entropy bonus swamps the rewards and the policy collapsed in every seed
/// (benchmarks/results/ocr-cft/halfcheetah-transfer-o2sac.md). Holding the entropy where it starts is not enough
/// either: stage C's Q-gradient pushes the saturated means further (the entropy settles near −21 when nothing holds
/// it), and with H̄ = H(π) α rose to 1.8 within 1,000 steps and two of three seeds dropped to 13–27. A target <see cref="Configs.O2SacConfig.TargetEntropyMargin"/> nats per dimension below
/// the measured entropy lets α decay instead: the entropy term fades and the λ constraint to π_ref does the work.
/// </para>
/// </summary>
public static class EntropyTarget
{
    /// <summary>The values <c>target_entropy_rule</c> accepts.</summary>
    public static readonly IReadOnlyList<string> Rules = ["auto", "action-dim", "policy"];

    /// <summary>States the policy's entropy is averaged over (evenly spaced through the dataset).</summary>
    public const int DefaultStates = 4096;

    /// <summary>
    /// Resolves the rule: an explicit <paramref name="configuredTarget"/> always wins; "auto" is "policy" when the
    /// starting actor was converted from another family and "action-dim" for a tanh-Gaussian source (the paper's
    /// pairing, whose behaviour stays the faithful default). Checks the margin too.
    /// </summary>
    public static EntropyTargetSource Resolve(string rule, float? configuredTarget, float marginPerDimension, ActorFamily sourceFamily)
    {
        ArgumentNullException.ThrowIfNull(rule);
        CheckMargin(marginPerDimension);
        string normalized = rule.Trim().ToLowerInvariant();
        if (!Rules.Contains(normalized))
            throw new ArgumentException($"target_entropy_rule '{rule}' is not one of {string.Join(", ", Rules)}");
        if (configuredTarget is float target)
        {
            if (!float.IsFinite(target)) throw new ArgumentException($"target_entropy must be a finite number, got {target}");
            return EntropyTargetSource.Configured;
        }
        return normalized switch
        {
            "action-dim" => EntropyTargetSource.ActionDim,
            "policy" => EntropyTargetSource.Policy,
            _ => sourceFamily == ActorFamily.TanhGaussian ? EntropyTargetSource.ActionDim : EntropyTargetSource.Policy,
        };
    }

    /// <summary>The target entropy H̄ a resolved rule gives for a policy of measured entropy <paramref name="policyEntropy"/>.</summary>
    public static float Target(EntropyTargetSource source, float? configuredTarget, int actionDim, double policyEntropy, float marginPerDimension)
    {
        CheckMargin(marginPerDimension);
        return source switch
        {
            EntropyTargetSource.Configured => configuredTarget ?? throw new ArgumentException("the configured rule needs target_entropy"),
            EntropyTargetSource.ActionDim => -actionDim,
            _ => double.IsFinite(policyEntropy) ? (float)(policyEntropy - marginPerDimension * actionDim)
                : throw new ArgumentException($"the policy's measured entropy is not finite ({policyEntropy})"),
        };
    }

    static void CheckMargin(float marginPerDimension)
    {
        if (!(marginPerDimension >= 0f) || !float.IsFinite(marginPerDimension))
            throw new ArgumentException($"target_entropy_margin must be a finite number ≥ 0, got {marginPerDimension}");
    }

    /// <summary>
    /// H(π) ≈ −mean log π(ã|s) over <paramref name="states"/> dataset states (rows evenly spaced through
    /// <paramref name="transitions"/>, already normalised as the actor sees them), one reparameterised sample ã each,
    /// with log π exactly as the temperature loss computes it. Uses actor slot <paramref name="slot"/> and its own
    /// noise stream (<paramref name="seed"/>), so no training stream moves; deterministic for a seed.
    /// </summary>
    public static double MeasurePolicyEntropy(Backend backend, TanhGaussianActor actor, Transitions transitions, ulong seed,
        int slot, int states = DefaultStates, int chunkRows = 256)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(transitions);
        if (transitions.Count == 0) throw new ArgumentException("the dataset has no transitions to measure the policy's entropy on");
        if (transitions.ObservationDim != actor.ObsDim)
            throw new ArgumentException($"the dataset has {transitions.ObservationDim} observation features but the actor takes {actor.ObsDim}");
        if (states < 1 || chunkRows < 1) throw new ArgumentOutOfRangeException(nameof(states), "need at least one state and one row per chunk");
        states = Math.Min(states, transitions.Count);
        chunkRows = Math.Min(chunkRows, states);
        int obsDim = actor.ObsDim;
        var random = new DeviceRandom(seed);
        var hostRows = new float[chunkRows * obsDim];
        var observations = backend.Allocate(chunkRows, obsDim);
        var noise = backend.Allocate(chunkRows, actor.ActionDim);
        var sum = backend.Allocate(1);
        double total = 0;
        for (int begin = 0; begin < states; begin += chunkRows)
        {
            // The last chunk is topped up with the first states again and only its own rows are counted.
            int rows = Math.Min(chunkRows, states - begin);
            for (int r = 0; r < chunkRows; r++)
            {
                int state = begin + (r < rows ? r : 0);
                long row = (long)state * transitions.Count / states;
                Array.Copy(transitions.Observations, row * obsDim, hostRows, (long)r * obsDim, obsDim);
            }
            backend.Upload(hostRows, observations);
            var (_, logProb) = actor.Sample(observations, noise, slot, drawNoiseFrom: random);
            if (rows == chunkRows)
            {
                backend.Sum(logProb, sum);
                total += backend.ReadScalar(sum);
            }
            else
            {
                var values = logProb.ToArray();
                for (int r = 0; r < rows; r++) total += values[r];
            }
        }
        double entropy = -total / states;
        if (!double.IsFinite(entropy)) throw new InvalidOperationException($"the policy's measured entropy is not finite ({entropy}); the actor's outputs are broken");
        return entropy;
    }
}
