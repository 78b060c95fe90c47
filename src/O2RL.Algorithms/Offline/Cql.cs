using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Kernels;

namespace O2RL.Algorithms.Offline;

/// <summary>
/// Conservative Q-learning (ALGORITHMS.md §6.1) on top of <see cref="SoftActorCritic"/>: the SAC actor and
/// temperature losses, a backup without entropy term (optionally the max over n next actions), and per critic the
/// conservative term cql_alpha·mean_b[T·logsumexp_k(values_k/T) − Q_i(s, a_data)] over 3n importance-sampled
/// action values (uniform random, current-policy and next-state-policy actions, all scored at s), optionally
/// with a learnt Lagrange weight α′. All losses come from the start-of-step parameters; then α′, α, actor,
/// critics and targets step in that order.
/// </summary>
/// <remarks>
/// The logsumexp over the sampled actions is composed from backend ops: the states are repeated n times with one
/// row gather by a fixed index vector, the 3n values of a state are assembled as one row by column copies, the row
/// maximum (the shift that keeps exp finite) is a chain of elementwise maxima over the columns, then exp, row sum
/// and log. A fused row-logsumexp (and row-max) op would replace the 3n-long chain of column ops.
/// </remarks>
public sealed partial class CqlAgent : IOfflineAgent
{
    /// <summary>Actor slots of the n samples per state at s and at s′, and of the BC log-density.</summary>
    const int CurrentRepeatedSlot = 3, NextRepeatedSlot = 4, BehaviourSlot = 5;
    /// <summary>Critic slots of Q(s, a_rand), Q(s, a_nxt), Q(s, a_cur).</summary>
    const int RandomCriticSlot = 2, NextCriticSlot = 3, CurrentCriticSlot = 4;

    readonly Backend backend;
    readonly int n, critics, columns;
    readonly bool clipGap;
    Buffers? buffers;

    /// <summary>Builds the learner (critics without LayerNorm, as the release's CQL).</summary>
    public CqlAgent(Backend backend, int obsDim, int actionDim, CqlConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.NActions < 1) throw new ArgumentOutOfRangeException(nameof(config), config.NActions, "n_actions must be at least 1");
        if (!(config.Temperature > 0f)) throw new ArgumentOutOfRangeException(nameof(config), config.Temperature, "temperature must be positive");
        if (config.GapClipLow is float lo && config.GapClipHigh is float hi && lo > hi)
            throw new ArgumentOutOfRangeException(nameof(config), $"gap clip low {lo} exceeds high {hi}");
        this.backend = backend;
        Config = config;
        Learner = new SoftActorCritic(backend, obsDim, actionDim, Options(config), seed);
        n = config.NActions;
        critics = Learner.Options.Critics;
        // Importance sampling scores 3n sampled actions; without it CORL also puts Q(s, a_data) in the soft maximum.
        columns = config.ImportanceSample ? 3 * n : 3 * n + 1;
        clipGap = config.GapClipLow is not null || config.GapClipHigh is not null;
        LogAlphaPrime = backend.FromArray([config.LogAlphaPrimeInit], 1);
        LogAlphaPrimeGradient = backend.Allocate(1);
        AlphaPrime = backend.Allocate(1);
        AlphaPrimeOptimizer = new Adam(LogAlphaPrime, LogAlphaPrimeGradient, config.QfLr);
        ConservativeLoss = backend.Allocate(1);
        AlphaPrimeLoss = backend.Allocate(1);
        TotalCriticLoss = backend.Allocate(1);
        Policy = new DevicePolicy(backend, obsDim, actionDim, Learner.Act);
    }

    /// <summary>Actor, critics, targets, α and their optimisers.</summary>
    public SoftActorCritic Learner { get; }
    /// <summary>The resolved config.</summary>
    public CqlConfig Config { get; }
    /// <summary>The acting/evaluation policy (deterministic = clamp(tanh μ)).</summary>
    public IPolicy Policy { get; }
    /// <summary>log α′ of the Lagrange version: [1].</summary>
    public Tensor LogAlphaPrime { get; }
    /// <summary>∂/∂log α′: [1].</summary>
    public Tensor LogAlphaPrimeGradient { get; }
    /// <summary>α′ = clamp(exp(log α′), 0, 1e6) of the last update: [1].</summary>
    public Tensor AlphaPrime { get; }
    /// <summary>log α′ Adam (lr = qf_lr).</summary>
    public Adam AlphaPrimeOptimizer { get; }
    /// <summary>Latest C_1 + C_2, α′ loss, and TD + C_1 + C_2: device scalars.</summary>
    public Tensor ConservativeLoss { get; }
    /// <inheritdoc cref="ConservativeLoss"/>
    public Tensor AlphaPrimeLoss { get; }
    /// <inheritdoc cref="ConservativeLoss"/>
    public Tensor TotalCriticLoss { get; }
    /// <summary>Gradient steps taken.</summary>
    public long Updates { get; private set; }

    /// <summary>The learner options a CQL config implies (α learns at the policy rate, no LayerNorm).</summary>
    public static SoftActorCriticOptions Options(CqlConfig config) => new()
    {
        ActorHidden = config.ActorHidden,
        CriticHidden = config.CriticHidden,
        CriticLayerNorm = false,
        ActorLearningRate = config.PolicyLr,
        CriticLearningRate = config.QfLr,
        AlphaLearningRate = config.PolicyLr,
        InitialAlpha = config.Alpha,
        AutoAlpha = config.AutoAlpha,
        TargetEntropy = config.TargetEntropy,
        Tau = config.Tau,
        Gamma = config.Gamma,
    };

    /// <summary>One CQL gradient step on a minibatch.</summary>
    public void Update(TransitionBatch batch)
    {
        var sac = Learner;
        var b = buffers ??= new Buffers(backend, batch.Size, n, sac.ObsDim, sac.ActionDim, critics, columns);
        if (b.Batch != batch.Size) throw new ArgumentException($"CQL buffers were built for batch {b.Batch}, got {batch.Size}");
        sac.RefreshAlpha();

        // 1–2. ã ~ π(·|s); actor loss mean[α log π(ã|s) − min_i Q_i(s, ã)] (or the BC warm start); α loss.
        if (Updates < Config.BcSteps)
        {
            var logProb = BehaviourCloningBackward(batch, b);
            if (Config.AutoAlpha) sac.TemperatureGradient(logProb);
        }
        else sac.ActorLossBackward(batch.Observations, temperatureGradient: Config.AutoAlpha);

        // 3–4. y = r + γ(1 − m)·T, T = min_i Q̄_i(s′, ã′) (no entropy term), or the max over n next actions (one
        // value per row); TD loss Σ_i MSE(Q_i(s, a), y), whose gradient the conservative term below completes.
        var nextQ = Config.MaxTargetBackup ? MaxBackup(batch, b) : sac.NextStateSample(batch.NextObservations).NextQ;
        var (qData, dataGradient, _) = sac.TdLoss(batch, nextQ, nextLogProb: null);

        // 5. Conservative term on n random, current-policy and next-policy actions per state, all scored at s.
        ConservativeTerm(batch, b, qData, dataGradient);
        backend.Binary(BinaryOp.Add, sac.CriticLoss, ConservativeLoss, TotalCriticLoss);

        // 6. Critic gradient: TD + C_1 + C_2 through all four critic forwards.
        sac.CriticBackward(dataGradient);
        sac.Critic.Backward(b.RandomGradient, RandomCriticSlot);
        sac.Critic.Backward(b.NextGradient, NextCriticSlot);
        sac.Critic.Backward(b.CurrentGradient, CurrentCriticSlot);

        // 7. Steps: α′ (Lagrange), α, actor, critics, Polyak.
        if (Config.Lagrange) AlphaPrimeOptimizer.Step();
        sac.Step();
        Updates++;
    }

    /// <summary>BC warm start: L_π = mean[α log π(ã|s) − log π(a_data|s)]. Returns log π(ã|s).</summary>
    Tensor BehaviourCloningBackward(TransitionBatch batch, Buffers b)
    {
        var sac = Learner;
        var (_, logProb) = sac.SampleActor(batch.Observations, SoftActorCritic.CurrentSlot);
        var dataLogProb = sac.Actor.LogProb(batch.Observations, batch.Actions, BehaviourSlot);
        backend.Binary(BinaryOp.Mul, logProb, sac.Alpha, b.Scratch, 1f, 1f, Broadcast.Scalar);
        backend.Binary(BinaryOp.Add, b.Scratch, dataLogProb, b.Scratch, 1f, -1f);
        backend.Sum(b.Scratch, sac.ActorLoss, 1f / b.Batch);
        sac.Actor.Parameters.ZeroGradients();
        backend.Binary(BinaryOp.Mul, b.InverseBatch, sac.Alpha, b.Scratch, 1f, 1f, Broadcast.Scalar);
        sac.Actor.SampleBackward(null, b.Scratch, SoftActorCritic.CurrentSlot);
        sac.Actor.LogProbBackward(b.MinusInverseBatch, BehaviourSlot, trainActor: true);
        return logProb;
    }

    /// <summary>T = max_k min_i Q̄_i(s′, ã′_k) over n actions ã′_k ~ π(·|s′): [B].</summary>
    Tensor MaxBackup(TransitionBatch batch, Buffers b)
    {
        var sac = Learner;
        backend.GatherRows(batch.NextObservations, b.RepeatIndices, b.NextRepeated);
        var (action, _) = sac.SampleActorRepeated(batch.NextObservations, b.RepeatIndices, b.NextHeadRepeated, NextRepeatedSlot);
        var q = sac.TargetCritic.Forward(b.NextRepeated, action, 1);
        backend.EnsembleMin(q, b.RepeatedMin, b.RepeatedArgMin);
        RowMax(b.RepeatedMinByState, b.BackupMax, b.BackupColumn);
        return b.BackupMax;
    }

    void ConservativeTerm(TransitionBatch batch, Buffers b, Tensor qData, Tensor dataGradient)
    {
        var sac = Learner;
        backend.GatherRows(batch.Observations, b.RepeatIndices, b.ObservationsRepeated);
        // a_rand ~ U[−1, 1]^d; a_cur ~ π(·|s) and a_nxt ~ π(·|s′) with their log-densities (all detached). The actor
        // runs once per state and its head is repeated n times: the same numbers as on the repeated states.
        sac.UpdateRandom.Uniform(b.RandomActions, -1f, 1f);
        var (currentActions, currentLogProb) = sac.SampleActorRepeated(batch.Observations, b.RepeatIndices, b.CurrentHeadRepeated, CurrentRepeatedSlot);
        var (nextActions, nextLogProb) = sac.SampleActorRepeated(batch.NextObservations, b.RepeatIndices, b.NextHeadRepeated, NextRepeatedSlot);
        var qRandom = sac.Critic.Forward(b.ObservationsRepeated, b.RandomActions, RandomCriticSlot);
        var qNext = sac.Critic.Forward(b.ObservationsRepeated, nextActions, NextCriticSlot);    // a_nxt scored at s
        var qCurrent = sac.Critic.Forward(b.ObservationsRepeated, currentActions, CurrentCriticSlot);

        // Assemble one row of values per (critic, state): [E·B, columns].
        if (Config.ImportanceSample)
        {
            // Q(s, a_rand) + d·ln 2 (uniform density 2^−d),  Q(s, a_nxt) − log π(a_nxt|s′),  Q(s, a_cur) − log π(a_cur|s).
            backend.Unary(UnaryOp.Affine, qRandom, b.Adjusted, 1f, (float)(sac.ActionDim * Math.Log(2.0)));
            backend.CopyColumns(b.AdjustedByState, 0, b.Values, 0, n);
            backend.Binary(BinaryOp.Add, qNext, nextLogProb, b.Adjusted, 1f, -1f, Broadcast.Row);
            backend.CopyColumns(b.AdjustedByState, 0, b.Values, n, n);
            backend.Binary(BinaryOp.Add, qCurrent, currentLogProb, b.Adjusted, 1f, -1f, Broadcast.Row);
            backend.CopyColumns(b.AdjustedByState, 0, b.Values, 2 * n, n);
        }
        else
        {
            // CORL's order without importance sampling: [Q(s, a_rand), Q(s, a_data), Q(s, a_nxt), Q(s, a_cur)].
            backend.Copy(qRandom, b.Adjusted);
            backend.CopyColumns(b.AdjustedByState, 0, b.Values, 0, n);
            backend.Copy(qData, b.DataColumn);
            backend.CopyColumns(b.DataColumn, 0, b.Values, n, 1);
            backend.Copy(qNext, b.Adjusted);
            backend.CopyColumns(b.AdjustedByState, 0, b.Values, n + 1, n);
            backend.Copy(qCurrent, b.Adjusted);
            backend.CopyColumns(b.AdjustedByState, 0, b.Values, 2 * n + 1, n);
        }

        // ood = T·logsumexp(values/T), shifted by the row maximum; softmax = ∂ood/∂values.
        if (Config.Temperature != 1f) backend.Unary(UnaryOp.Affine, b.Values, b.Values, 1f / Config.Temperature, 0f);
        RowMax(b.Values, b.RowMaximum, b.ColumnScratch);
        backend.Binary(BinaryOp.Add, b.Values, b.RowMaximum, b.Softmax, 1f, -1f, Broadcast.Column);
        backend.Unary(UnaryOp.Exp, b.Softmax, b.Softmax);
        backend.RowSum(b.Softmax, b.RowTotal);
        backend.Unary(UnaryOp.Log, b.RowTotal, b.OutOfDistribution);
        backend.Binary(BinaryOp.Add, b.OutOfDistribution, b.RowMaximum, b.OutOfDistribution, Config.Temperature, Config.Temperature);
        backend.Binary(BinaryOp.Div, b.Softmax, b.RowTotal, b.Softmax, 1f, 1f, Broadcast.Column);

        // gap_i = mean_b clamp(ood_i − Q_i(s, a_data), lo, hi); the clamp passes no gradient where active.
        backend.Binary(BinaryOp.Add, b.OutOfDistributionByCritic, qData, b.Gap, 1f, -1f);
        if (clipGap)
        {
            float lo = Config.GapClipLow ?? float.NegativeInfinity, hi = Config.GapClipHigh ?? float.PositiveInfinity;
            backend.Unary(UnaryOp.Step, b.Gap, b.GapMask, lo);                           // gap > lo
            backend.Unary(UnaryOp.Affine, b.Gap, b.Coefficient, -1f, 0f);
            backend.Unary(UnaryOp.Step, b.Coefficient, b.Coefficient, -hi);              // gap < hi
            backend.Binary(BinaryOp.Mul, b.GapMask, b.Coefficient, b.GapMask);
            backend.Unary(UnaryOp.Clamp, b.Gap, b.Gap, lo, hi);
        }
        backend.RowSum(b.Gap, b.GapMean, 1f / b.Batch);

        // C_i = cql_alpha·gap_i, or α′·cql_alpha·(gap_i − τ) with α′ = clamp(exp log α′, 0, 1e6) from before its step.
        // ∂C_i/∂(ood_i − Q_i(s, a_data))[b] = weight/B (times the clip mask); weight = cql_alpha (·α′).
        if (Config.Lagrange)
        {
            backend.Unary(UnaryOp.Exp, LogAlphaPrime, b.AlphaPrimeRaw);
            backend.Unary(UnaryOp.Clamp, b.AlphaPrimeRaw, AlphaPrime, 0f, 1e6f);
            backend.Unary(UnaryOp.Affine, b.GapMean, b.GapExcess, 1f, -Config.TargetActionGap);
            backend.Sum(b.GapExcess, ConservativeLoss, Config.CqlAlpha);
            backend.Binary(BinaryOp.Mul, ConservativeLoss, AlphaPrime, ConservativeLoss);
            // α′ loss −(C_1 + C_2)/2; ∂/∂log α′ = −cql_alpha·Σ_i(gap_i − τ)/2 · exp(log α′) inside the clamp.
            backend.Unary(UnaryOp.Affine, ConservativeLoss, AlphaPrimeLoss, -0.5f, 0f);
            backend.Sum(b.GapExcess, LogAlphaPrimeGradient, -0.5f * Config.CqlAlpha);
            backend.Binary(BinaryOp.Mul, LogAlphaPrimeGradient, b.AlphaPrimeRaw, LogAlphaPrimeGradient);
            backend.Unary(UnaryOp.Step, b.AlphaPrimeRaw, b.AlphaPrimeInside, 1e6f);
            backend.Unary(UnaryOp.Affine, b.AlphaPrimeInside, b.AlphaPrimeInside, -1f, 1f);
            backend.Binary(BinaryOp.Mul, LogAlphaPrimeGradient, b.AlphaPrimeInside, LogAlphaPrimeGradient);
            backend.Binary(BinaryOp.Mul, b.InverseBatchByCritic, AlphaPrime, b.Coefficient, Config.CqlAlpha, 1f, Broadcast.Scalar);
        }
        else
        {
            backend.Sum(b.GapMean, ConservativeLoss, Config.CqlAlpha);
            backend.Unary(UnaryOp.Affine, b.InverseBatchByCritic, b.Coefficient, Config.CqlAlpha, 0f);
        }
        if (clipGap) backend.Binary(BinaryOp.Mul, b.Coefficient, b.GapMask, b.Coefficient);

        // ∂/∂Q_i(s, a_data) −= coefficient; ∂/∂values = softmax·coefficient, split back to the three critic forwards.
        backend.Binary(BinaryOp.Add, dataGradient, b.Coefficient, dataGradient, 1f, -1f);
        backend.Binary(BinaryOp.Mul, b.Softmax, b.Coefficient, b.Softmax, 1f, 1f, Broadcast.Column);
        int offset = 0;
        backend.CopyColumns(b.Softmax, offset, b.RandomGradientByState, 0, n); offset += n;
        if (!Config.ImportanceSample)
        {
            backend.CopyColumns(b.Softmax, offset, b.DataColumn, 0, 1); offset += 1;
            backend.Binary(BinaryOp.Add, dataGradient, b.DataColumn, dataGradient);
        }
        backend.CopyColumns(b.Softmax, offset, b.NextGradientByState, 0, n); offset += n;
        backend.CopyColumns(b.Softmax, offset, b.CurrentGradientByState, 0, n);
    }

    /// <summary>rowMax[r] ← max_c x[r, c] as a chain of elementwise maxima over the columns (column: [rows, 1] scratch).</summary>
    void RowMax(Tensor x, Tensor rowMax, Tensor column)
    {
        backend.CopyColumns(x, 0, rowMax, 0, 1);
        for (int c = 1; c < x.Cols; c++)
        {
            backend.CopyColumns(x, c, column, 0, 1);
            backend.Binary(BinaryOp.Max, rowMax, column, rowMax);
        }
    }

    /// <summary>Logs losses and coefficients (reads device scalars).</summary>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        var sac = Learner;
        metrics.Log(step, "losses/qf_loss", backend.ReadScalar(TotalCriticLoss));
        metrics.Log(step, "losses/td_loss", backend.ReadScalar(sac.CriticLoss));
        metrics.Log(step, "losses/cql_loss", backend.ReadScalar(ConservativeLoss));
        metrics.Log(step, "losses/actor_loss", backend.ReadScalar(sac.ActorLoss));
        metrics.Log(step, "losses/alpha", backend.ReadScalar(sac.Alpha));
        metrics.Log(step, "losses/alpha_loss", backend.ReadScalar(sac.AlphaLoss));
        metrics.Log(step, "losses/qf_values", backend.ReadScalar(sac.MeanQ));
        if (Config.Lagrange)
        {
            metrics.Log(step, "losses/alpha_prime", backend.ReadScalar(AlphaPrime));
            metrics.Log(step, "losses/alpha_prime_loss", backend.ReadScalar(AlphaPrimeLoss));
        }
    }

    /// <summary>The extra tensors a CQL checkpoint holds beyond the shared ones.</summary>
    public IEnumerable<NamedTensor> ExtraCheckpointTensors() =>
        [new NamedTensor("log_alpha_prime", [1], LogAlphaPrime.ToArray()), new NamedTensor("iteration", [1], [Updates])];

    /// <summary>Buffers for one batch size B (n samples per state, E critics).</summary>
    sealed class Buffers
    {
        public Buffers(Backend backend, int batch, int n, int obsDim, int actionDim, int critics, int columns)
        {
            Batch = batch;
            int rows = batch * n;
            RepeatIndices = backend.AllocateIndices(rows);
            // Row b·n + k of a repeated tensor is state b, so the n values of a state are adjacent.
            backend.UploadIndices([.. Enumerable.Range(0, rows).Select(j => j / n)], RepeatIndices);
            ObservationsRepeated = backend.Allocate(rows, obsDim);
            NextRepeated = backend.Allocate(rows, obsDim);
            RandomActions = backend.Allocate(rows, actionDim);
            CurrentHeadRepeated = backend.Allocate(rows, 2 * actionDim);
            NextHeadRepeated = backend.Allocate(rows, 2 * actionDim);
            Adjusted = backend.Allocate(critics, rows);
            AdjustedByState = Adjusted.Reshape(critics * batch, n);
            Values = backend.Allocate(critics * batch, columns);
            Softmax = backend.Allocate(critics * batch, columns);
            RowMaximum = backend.Allocate(critics * batch, 1);
            ColumnScratch = backend.Allocate(critics * batch, 1);
            DataColumn = backend.Allocate(critics * batch, 1);
            RowTotal = backend.Allocate(critics * batch);
            OutOfDistribution = backend.Allocate(critics * batch);
            OutOfDistributionByCritic = OutOfDistribution.Reshape(critics, batch);
            Gap = backend.Allocate(critics, batch);
            GapMask = backend.Allocate(critics, batch);
            Coefficient = backend.Allocate(critics, batch);
            InverseBatchByCritic = backend.Allocate(critics, batch);
            backend.Fill(InverseBatchByCritic, 1f / batch);
            GapMean = backend.Allocate(critics);
            GapExcess = backend.Allocate(critics);
            AlphaPrimeRaw = backend.Allocate(1);
            AlphaPrimeInside = backend.Allocate(1);
            RandomGradient = backend.Allocate(critics, rows);
            NextGradient = backend.Allocate(critics, rows);
            CurrentGradient = backend.Allocate(critics, rows);
            RandomGradientByState = RandomGradient.Reshape(critics * batch, n);
            NextGradientByState = NextGradient.Reshape(critics * batch, n);
            CurrentGradientByState = CurrentGradient.Reshape(critics * batch, n);
            RepeatedMin = backend.Allocate(rows);
            RepeatedArgMin = backend.Allocate(rows);
            RepeatedMinByState = RepeatedMin.Reshape(batch, n);
            BackupMax = backend.Allocate(batch, 1);
            BackupColumn = backend.Allocate(batch, 1);
            Scratch = backend.Allocate(batch);
            InverseBatch = backend.Allocate(batch); backend.Fill(InverseBatch, 1f / batch);
            MinusInverseBatch = backend.Allocate(batch); backend.Fill(MinusInverseBatch, -1f / batch);
        }

        public readonly int Batch;
        /// <summary>[B·n] with entry j = j / n.</summary>
        public readonly IndexTensor RepeatIndices;
        /// <summary>Repeated s, s′: [B·n, obs]; random actions [B·n, d].</summary>
        public readonly Tensor ObservationsRepeated, NextRepeated, RandomActions;
        /// <summary>The actor's head (μ, ρ) at s and s′, each row repeated n times: [B·n, 2d].</summary>
        public readonly Tensor CurrentHeadRepeated, NextHeadRepeated;
        /// <summary>Adjusted critic values [E, B·n] and their [E·B, n] view.</summary>
        public readonly Tensor Adjusted, AdjustedByState;
        /// <summary>[E·B, columns].</summary>
        public readonly Tensor Values, Softmax;
        /// <summary>[E·B, 1].</summary>
        public readonly Tensor RowMaximum, ColumnScratch, DataColumn;
        /// <summary>[E·B] and the [E, B] view of ood.</summary>
        public readonly Tensor RowTotal, OutOfDistribution, OutOfDistributionByCritic;
        /// <summary>[E, B].</summary>
        public readonly Tensor Gap, GapMask, Coefficient, InverseBatchByCritic;
        /// <summary>[E]; [1].</summary>
        public readonly Tensor GapMean, GapExcess, AlphaPrimeRaw, AlphaPrimeInside;
        /// <summary>∂L/∂Q of the sampled-action forwards [E, B·n] and their [E·B, n] views.</summary>
        public readonly Tensor RandomGradient, NextGradient, CurrentGradient, RandomGradientByState, NextGradientByState, CurrentGradientByState;
        /// <summary>Max-backup buffers: [B·n], [B, n] view, [B, 1], [B, 1].</summary>
        public readonly Tensor RepeatedMin, RepeatedArgMin, RepeatedMinByState, BackupMax, BackupColumn;
        /// <summary>[B].</summary>
        public readonly Tensor Scratch, InverseBatch, MinusInverseBatch;
    }
}
