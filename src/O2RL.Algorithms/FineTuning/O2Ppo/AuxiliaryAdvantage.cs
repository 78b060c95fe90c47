using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Algorithms.FineTuning.O2Ppo;

/// <summary>
/// The policy advantage of an O2PPO update (ALGORITHMS.md §5.5): the raw GAE advantage A mixed with the auxiliary
/// reference advantage
/// <code>h = Σ_j log π_ref(a_j|s) + H(π_ref(·|s)),  g = softplus(h + 4d) − 4d,  A_ref = α_aux·g/d·|std(A)|</code>
/// with weight w_t, then normalised. Two forms:
/// <list type="bullet">
/// <item>matrix (faithful default): the release broadcasts the 2,048 × 1 advantage column against the length-2,048
/// reference vector, M_ij = (A_i + w·A_ref,j)/(1 + w), and normalises over all n² entries with the unbiased std;</item>
/// <item>per sample (switch): A_mix,i = (A_i + w·A_ref,i)/(1 + w), normalised over the n samples.</item>
/// </list>
/// </summary>
/// <remarks>
/// What the actor step needs from row i of the normalised matrix Â: the surrogate −min(ρ_i·Â_ij, clip(ρ_i)·Â_ij) is
/// evaluated per element with the row's ratio ρ_i, and since ρ_i is constant along the row, the clipped branch wins
/// exactly on the entries of one sign (ρ_i &gt; 1 + ε: the positive entries; ρ_i &lt; 1 − ε: the negative ones; inside the
/// range the branches are equal). The row's contribution is therefore determined by the sums of its positive and of
/// its negative entries, P_i and N_i, which do not change during the K epochs: computing them once per update turns
/// the 128 × 2,048 block of every minibatch into 128 pairs with the same value and gradient (up to float summation
/// order). The per-sample form is the one-column case (P_i = max(Â_i, 0), N_i = min(Â_i, 0)).
/// Everything is preallocated (two n × n matrices, 32 MiB at n = 2,048); nothing is read back to the host.
/// </remarks>
public sealed class AuxiliaryAdvantage
{
    readonly Backend backend;
    readonly Tensor mixed, squares;
    readonly Tensor reference, mean, std, variance;

    /// <summary>Buffers for a rollout of <paramref name="rolloutLength"/> samples with d = <paramref name="actionDim"/>.</summary>
    /// <param name="backend">Device.</param>
    /// <param name="rolloutLength">n.</param>
    /// <param name="actionDim">d.</param>
    /// <param name="alpha">α_aux (2.0).</param>
    /// <param name="perSample">true: per-sample mixing; false: the release's n × n matrix.</param>
    /// <param name="normalize">Normalise with the mean and unbiased std (+ 1e-5).</param>
    public AuxiliaryAdvantage(Backend backend, int rolloutLength, int actionDim, float alpha, bool perSample, bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (rolloutLength < 2) throw new ArgumentOutOfRangeException(nameof(rolloutLength), rolloutLength, "the unbiased std needs a rollout of at least 2 samples");
        if (actionDim < 1) throw new ArgumentOutOfRangeException(nameof(actionDim), actionDim, "action dimension must be at least 1");
        if (!float.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α_aux must be finite");
        this.backend = backend;
        RolloutLength = rolloutLength;
        ActionDim = actionDim;
        Alpha = alpha;
        PerSample = perSample;
        Normalize = normalize;
        Columns = perSample ? 1 : rolloutLength;
        mixed = backend.Allocate(rolloutLength, Columns);
        squares = backend.Allocate(rolloutLength, Columns);
        reference = backend.Allocate(rolloutLength);
        RowSums = backend.Allocate(rolloutLength, 1);
        PositiveRowSums = backend.Allocate(rolloutLength, 1);
        NegativeRowSums = backend.Allocate(rolloutLength, 1);
        mean = backend.Allocate(1);
        std = backend.Allocate(1);
        variance = backend.Allocate(1);
        AdvantageStd = backend.Allocate(1);
    }

    /// <summary>n.</summary>
    public int RolloutLength { get; }
    /// <summary>d.</summary>
    public int ActionDim { get; }
    /// <summary>α_aux.</summary>
    public float Alpha { get; }
    /// <summary>Per-sample form (else the matrix form).</summary>
    public bool PerSample { get; }
    /// <summary>Whether Â is normalised.</summary>
    public bool Normalize { get; }
    /// <summary>Entries per row of Â: n in the matrix form, 1 per sample; the actor loss averages over M·Columns entries.</summary>
    public int Columns { get; }
    /// <summary>Â: [n, n] (matrix form) or [n, 1] (per sample), as of the last <see cref="Compute"/>.</summary>
    public Tensor Normalized => mixed;
    /// <summary>A_ref: [n] as of the last <see cref="Compute"/> (zero when the weight is 0 and no reference was given).</summary>
    public Tensor ReferenceAdvantage => reference;
    /// <summary>Σ_j Â_ij: [n, 1].</summary>
    public Tensor RowSums { get; }
    /// <summary>P_i = Σ_j max(Â_ij, 0): [n, 1].</summary>
    public Tensor PositiveRowSums { get; }
    /// <summary>N_i = Σ_j min(Â_ij, 0): [n, 1].</summary>
    public Tensor NegativeRowSums { get; }
    /// <summary>|std(A)| of the raw advantages (unbiased): [1].</summary>
    public Tensor AdvantageStd { get; }

    /// <summary>w_t = max(1 − t/T_end, 0).</summary>
    public static float Weight(long environmentStep, long decaySteps)
    {
        if (decaySteps < 1) throw new ArgumentOutOfRangeException(nameof(decaySteps), decaySteps, "T_end must be positive");
        return (float)Math.Max(1.0 - (double)environmentStep / decaySteps, 0.0);
    }

    /// <summary>
    /// Forms Â and its row sums.
    /// </summary>
    /// <param name="advantages">Raw GAE advantages A: [n] or [n, 1].</param>
    /// <param name="referenceLogProb">Σ_j log π_ref(a_j|s) of the rollout's (clamped) actions: [n]; null only when <paramref name="weight"/> is 0.</param>
    /// <param name="referenceEntropy">H(π_ref): [1] (state-independent); null only when <paramref name="weight"/> is 0.</param>
    /// <param name="weight">w_t.</param>
    public void Compute(Tensor advantages, Tensor? referenceLogProb, Tensor? referenceEntropy, float weight)
    {
        ArgumentNullException.ThrowIfNull(advantages);
        int n = RolloutLength;
        if (advantages.Length != n) throw new ArgumentException($"advantages are [{advantages.ShapeText}] but the rollout has {n} samples", nameof(advantages));
        if (!(weight >= 0f && float.IsFinite(weight))) throw new ArgumentOutOfRangeException(nameof(weight), weight, "w_t must be a finite value ≥ 0");

        // |std(A)|, unbiased, of the raw advantages.
        backend.Sum(advantages, mean, 1f / n);
        backend.Binary(BinaryOp.Add, advantages, mean, reference, 1f, -1f, Broadcast.Scalar);
        backend.Unary(UnaryOp.Square, reference, reference);
        backend.Sum(reference, variance, 1f / (n - 1));
        backend.Unary(UnaryOp.Sqrt, variance, AdvantageStd);

        if (weight > 0f)
        {
            if (referenceLogProb is null || referenceEntropy is null)
                throw new ArgumentException("a positive reference weight needs the reference log-probabilities and entropy");
            if (referenceLogProb.Length != n) throw new ArgumentException($"reference log-probs are [{referenceLogProb.ShapeText}], expected {n}", nameof(referenceLogProb));
            float fourD = 4f * ActionDim;
            // h = Σ log π_ref(a|s) + H(π_ref);  g = softplus(h + 4d) − 4d;  A_ref = α/d · g · |std(A)|.
            backend.Binary(BinaryOp.Add, referenceLogProb, referenceEntropy, reference, 1f, 1f, Broadcast.Scalar);
            backend.Unary(UnaryOp.Affine, reference, reference, 1f, fourD);
            backend.Unary(UnaryOp.Softplus, reference, reference);
            backend.Unary(UnaryOp.Affine, reference, reference, 1f, -fourD);
            backend.Binary(BinaryOp.Mul, reference, AdvantageStd, reference, Alpha / ActionDim, 1f, Broadcast.Scalar);
        }
        else
        {
            backend.Fill(reference, 0f);
        }

        float keep = 1f / (1f + weight), mix = weight / (1f + weight);
        if (PerSample)
        {
            backend.Binary(BinaryOp.Add, advantages, reference, mixed, keep, mix);                 // (A_i + w·A_ref,i)/(1 + w)
        }
        else
        {
            backend.Fill(mixed, 0f);
            backend.Binary(BinaryOp.Add, mixed, advantages, mixed, 1f, keep, Broadcast.Column);   // A_i/(1 + w) down column i
            backend.Binary(BinaryOp.Add, mixed, reference, mixed, 1f, mix, Broadcast.Row);        // + w·A_ref,j/(1 + w) along row j
        }

        if (Normalize)
        {
            // Â = (M − mean(M)) / (std(M) + 1e-5) over all entries, unbiased std.
            long count = (long)n * Columns;
            backend.Sum(mixed, mean, (float)(1.0 / count));
            backend.Binary(BinaryOp.Add, mixed, mean, mixed, 1f, -1f, Broadcast.Scalar);
            backend.Unary(UnaryOp.Square, mixed, squares);
            backend.Sum(squares, variance, (float)(1.0 / (count - 1)));
            backend.Unary(UnaryOp.Sqrt, variance, std);
            backend.Unary(UnaryOp.Affine, std, std, 1f, 1e-5f);
            backend.Binary(BinaryOp.Div, mixed, std, mixed, 1f, 1f, Broadcast.Scalar);
        }

        backend.RowSum(mixed, RowSums);
        backend.Unary(UnaryOp.Clamp, mixed, squares, 0f, float.PositiveInfinity);
        backend.RowSum(squares, PositiveRowSums);
        backend.Binary(BinaryOp.Add, RowSums, PositiveRowSums, NegativeRowSums, 1f, -1f);
    }
}
