using O2RL.Kernels;

namespace O2RL.Engine;

/// <summary>Which kind of compute device a backend runs on.</summary>
public enum DeviceKind
{
    /// <summary>Managed SIMD kernels on the host CPU (the default without a GPU).</summary>
    Cpu,
    /// <summary>ILGPU kernels on an NVIDIA GPU.</summary>
    Cuda,
    /// <summary>ILGPU kernels on an OpenCL device (PoCL in CI).</summary>
    OpenCL,
    /// <summary>ILGPU kernels on ILGPU's CPU accelerator, a SIMT simulator used to test the GPU kernels.</summary>
    IlgpuCpu,
}

/// <summary>
/// One interface of fused ops on preallocated device buffers. Public methods validate shapes and throw with
/// the offending values; the protected <c>…Core</c> methods do the work and may assume valid arguments.
/// Ops are enqueued in order on one stream; host reads (<see cref="Download"/>) synchronise.
/// Aliasing: elementwise ops allow the output to be one of the inputs; GEMM's C must not alias A or B.
/// </summary>
public abstract class Backend : IDisposable
{
    /// <summary>Human-readable device name, e.g. "cpu (2 threads, AVX-512)".</summary>
    public abstract string Name { get; }

    /// <summary>Device family.</summary>
    public abstract DeviceKind Kind { get; }

    // ───────────────────────────── memory ─────────────────────────────

    /// <summary>A new zero-filled tensor.</summary>
    public Tensor Allocate(params int[] shape)
    {
        ThrowIfDisposed();
        int length = Tensor.ShapeLength(shape);
        return new Tensor(this, AllocateStorage(length), 0, (int[])shape.Clone());
    }

    /// <summary>A new tensor holding a copy of <paramref name="values"/>.</summary>
    public Tensor FromArray(float[] values, params int[] shape)
    {
        var t = Allocate(shape.Length == 0 ? [values.Length] : shape);
        Upload(values, t);
        return t;
    }

    /// <summary>A new zero-filled index vector.</summary>
    public IndexTensor AllocateIndices(int length)
    {
        ThrowIfDisposed();
        return new(this, AllocateIndexStorage(length), length);
    }

    /// <summary>Copies host values into a tensor (lengths must match).</summary>
    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        Own(destination, nameof(destination));
        if (source.Length != destination.Length)
            throw new ArgumentException($"upload of {source.Length} values into a tensor of {destination.Length} ([{destination.ShapeText}])");
        UploadCore(source, destination);
    }

    /// <summary>Copies a tensor to host memory (lengths must match); waits for pending work.</summary>
    public void Download(Tensor source, Span<float> destination)
    {
        Own(source, nameof(source));
        if (source.Length != destination.Length)
            throw new ArgumentException($"download of a tensor of {source.Length} ([{source.ShapeText}]) into {destination.Length} values");
        DownloadCore(source, destination);
    }

    /// <summary>Copies host indices into an index vector.</summary>
    public void UploadIndices(ReadOnlySpan<int> source, IndexTensor destination)
    {
        if (destination.Backend != this) throw new ArgumentException("index tensor belongs to another backend");
        if (source.Length != destination.Length)
            throw new ArgumentException($"upload of {source.Length} indices into an index tensor of {destination.Length}");
        UploadIndicesCore(source, destination);
    }

    /// <summary>Copies an index vector to host memory.</summary>
    public void DownloadIndices(IndexTensor source, Span<int> destination)
    {
        if (source.Backend != this) throw new ArgumentException("index tensor belongs to another backend");
        if (source.Length != destination.Length)
            throw new ArgumentException($"download of {source.Length} indices into {destination.Length} values");
        DownloadIndicesCore(source, destination);
    }

    /// <summary>Reads one element (synchronises; for logging, not hot loops).</summary>
    public float ReadScalar(Tensor source, int index = 0)
    {
        Span<float> one = stackalloc float[1];
        Download(source.Slice(index, 1), one);
        return one[0];
    }

    /// <summary>dst ← src (same length).</summary>
    public void Copy(Tensor source, Tensor destination)
    {
        SameLength(source, destination);
        CopyCore(source, destination);
    }

    /// <summary>Sets every element to a value.</summary>
    public void Fill(Tensor tensor, float value)
    {
        Own(tensor, nameof(tensor));
        FillCore(tensor, value);
    }

    /// <summary>Waits until all enqueued work has finished.</summary>
    public abstract void Synchronize();

    // ───────────────────────────── GEMM ─────────────────────────────

    /// <summary>
    /// C ← act(α·op(A)·op(B) + β·C + bias). A is [M, K] ([K, M] when transposeA), B is [K, N] ([N, K] when
    /// transposeB), C is [M, N], bias (optional) has N elements per batch. Rank-3 operands form a batched GEMM
    /// over the leading dimension of C; an operand of rank 2 (or batch 1) is shared by every batch entry.
    /// A bias of shape [batch, N] gives each batch entry its own bias.
    /// <para>
    /// With <paramref name="activationOutput"/> Y (shaped like C) the epilogue is the activation's backward instead:
    /// C ← (α·op(A)·op(B) + β·C) ⊙ act′(Y), act′ written through the activation's output as
    /// <see cref="ActivationBackward"/> computes it, for ReLU or Tanh and without a bias. A layer's input gradient
    /// δz·W then comes out as the previous layer's pre-activation gradient, saving a pass over three arrays.
    /// </para>
    /// </summary>
    public void Gemm(Tensor a, bool transposeA, Tensor b, bool transposeB, Tensor c,
        float alpha = 1f, float beta = 0f, Tensor? bias = null, Activation activation = Activation.Identity, Tensor? activationOutput = null) =>
        Gemm(new GemmRequest(a, transposeA, b, transposeB, c, alpha, beta, bias, activation, activationOutput));

    /// <summary><see cref="Gemm(Tensor, bool, Tensor, bool, Tensor, float, float, Tensor?, Activation, Tensor?)"/> with its arguments in one value.</summary>
    public void Gemm(in GemmRequest g)
    {
        var shape = CheckGemm(g);
        GemmCore(shape, g);
    }

    /// <summary>
    /// Two independent GEMMs, with the results of <see cref="Gemm(in GemmRequest)"/> on each in turn: neither may write what the other
    /// reads or writes (a layer's weight gradient δzᵀ·x and input gradient δz·W). The CPU backend runs a large,
    /// balanced pair side by side, one GEMM per thread; other backends enqueue them one after the other.
    /// </summary>
    public void GemmPair(in GemmRequest first, in GemmRequest second)
    {
        var firstShape = CheckGemm(first);
        var secondShape = CheckGemm(second);
        if (Writes(first.C, second) || Writes(second.C, first))
            throw new ArgumentException("the GEMMs of a pair must be independent: one writes an operand of the other");
        GemmPairCore(firstShape, first, secondShape, second);
    }

    /// <summary>
    /// A layer's three parameter and input gradients in one call: <see cref="GemmPair"/> of <paramref name="first"/>
    /// and <paramref name="second"/> (<see cref="Gemm(in GemmRequest)"/> of the first alone when second is null), then
    /// <see cref="ColumnSum"/> of <paramref name="sum"/>, with the same results: dW += δzᵀ·x, dx = δz·W and db += Σ δz.
    /// None may write what another reads or writes. ILGPU backends run all three as one launch where the GEMMs run
    /// on the one-element kernels (a small update's bias gradients then cost no launch of their own).
    /// </summary>
    public void GemmPairAndColumnSum(in GemmRequest first, GemmRequest? second, in ColumnSumRequest sum)
    {
        var firstShape = CheckGemm(first);
        GemmShape? secondShape = null;
        if (second is { } other)
        {
            secondShape = CheckGemm(other);
            if (Writes(first.C, other) || Writes(other.C, first))
                throw new ArgumentException("the GEMMs of a pair must be independent: one writes an operand of the other");
        }
        int batch = CheckColumnSum(sum.X, sum.Y);
        static bool Touches(in GemmRequest g, in ColumnSumRequest sum) => Writes(sum.Y, g) || Shares(g.C, sum.X);
        if (Touches(first, sum) || second is { } s && Touches(s, sum) || Shares(sum.X, sum.Y))
            throw new ArgumentException("the column sum must be independent of the GEMMs: one writes what another reads or writes");
        GemmPairAndColumnSumCore(firstShape, first, secondShape, second, sum, batch);
    }

    /// <summary>Checks one GEMM's operands (backend, shapes, C not overlapping A or B) and resolves its shape.</summary>
    GemmShape CheckGemm(in GemmRequest g)
    {
        Own(g.A, "a"); Own(g.B, "b"); Own(g.C, "c");
        if (g.Bias is not null) Own(g.Bias, "bias");
        var shape = GemmShape.Of(g.A, g.TransposeA, g.B, g.TransposeB, g.C, g.Bias);
        if (Shares(g.A, g.C) || Shares(g.B, g.C))
            throw new ArgumentException("GEMM output C must not overlap A or B");
        if (g.ActivationOutput is { } y)
        {
            Own(y, "activationOutput");
            if (g.Activation == Activation.Identity)
                throw new ArgumentException("a GEMM with an activation output applies that activation's backward: name it (ReLU or Tanh), not Identity");
            if (g.Bias is not null)
                throw new ArgumentException("a GEMM applying an activation's backward takes no bias");
            if (!y.Shape.AsSpan().SequenceEqual(g.C.Shape))
                throw new ArgumentException($"the activation output [{y.ShapeText}] must have C's shape [{g.C.ShapeText}]");
            if (Shares(y, g.C) || Shares(y, g.A) || Shares(y, g.B))
                throw new ArgumentException("the activation output must not overlap C, A or B");
        }
        return shape;
    }

    static bool Writes(Tensor output, in GemmRequest other) =>
        Shares(output, other.A) || Shares(output, other.B) || Shares(output, other.C) || other.Bias is not null && Shares(output, other.Bias)
        || other.ActivationOutput is not null && Shares(output, other.ActivationOutput);

    static bool Shares(Tensor x, Tensor y) => ReferenceEquals(x.Storage, y.Storage) && Overlaps(x, y);

    // ───────────────────────────── activations and LayerNorm ─────────────────────────────

    /// <summary>y ← act(x).</summary>
    public void ActivationForward(Activation activation, Tensor x, Tensor y)
    {
        SameLength(x, y);
        ActivationForwardCore(activation, x, y);
    }

    /// <summary>dx ← dy ⊙ act′, with act′ read from the forward output y (ReLU: y &gt; 0; Tanh: 1 − y²).</summary>
    public void ActivationBackward(Activation activation, Tensor y, Tensor dy, Tensor dx)
    {
        SameLength(y, dy); SameLength(y, dx);
        ActivationBackwardCore(activation, y, dy, dx);
    }

    /// <summary>
    /// LayerNorm over the last axis: y = act(γ ⊙ (x − μ)/√(σ² + ε) + β), with μ and σ² the mean and (biased)
    /// variance of each row. x, y: [rows, cols]; γ, β: [cols] shared by all rows, or [groups, cols] where the
    /// rows split into equal consecutive groups (ensembles); mean, rstd: [rows] saved for the backward pass.
    /// <paramref name="activation"/> (identity, ReLU or tanh) is the layer that follows LayerNorm in an MLP, applied
    /// in the same pass: the result equals LayerNorm then <see cref="ActivationForward"/>. Its backward is not part of
    /// <see cref="LayerNormBackward"/>, which takes the gradient with respect to the LayerNorm output before the
    /// activation (an MLP gets it from the next layer's GEMM, see <see cref="GemmRequest.ActivationOutput"/>).
    /// </summary>
    public void LayerNormForward(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor rstd, float epsilon = 1e-5f,
        Activation activation = Activation.Identity)
    {
        SameLength(x, y);
        if (activation is not (Activation.Identity or Activation.Relu or Activation.Tanh))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "LayerNorm fuses identity, ReLU or tanh");
        int groups = LayerNormGroups(x, gamma, beta, mean, rstd);
        LayerNormForwardCore(x, gamma, beta, y, mean, rstd, epsilon, groups, activation);
    }

    /// <summary>
    /// LayerNorm backward: dx ← ∂L/∂x (overwritten); dγ += Σ_rows dy ⊙ x̂; dβ += Σ_rows dy (accumulated).
    /// </summary>
    public void LayerNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, Tensor dgamma, Tensor dbeta)
    {
        SameLength(x, dy); SameLength(x, dx); SameLength(gamma, dgamma); SameLength(gamma, dbeta);
        int groups = LayerNormGroups(x, gamma, dbeta, mean, rstd);
        LayerNormBackwardCore(x, dy, gamma, mean, rstd, dx, dgamma, dbeta, groups);
    }

    // ───────────────────────────── elementwise ─────────────────────────────

    /// <summary>y ← f(x; a, b) elementwise (see <see cref="UnaryOp"/>).</summary>
    public void Unary(UnaryOp op, Tensor x, Tensor y, float a = 0f, float b = 0f)
    {
        SameLength(x, y);
        UnaryCore(op, x, y, a, b);
    }

    /// <summary>z ← f(α·x, β·y) elementwise; y is broadcast as stated (x and z are read as [rows, cols]).</summary>
    public void Binary(BinaryOp op, Tensor x, Tensor y, Tensor z, float alpha = 1f, float beta = 1f, Broadcast broadcast = Broadcast.None)
    {
        SameLength(x, z); Own(y, nameof(y));
        int expected = broadcast switch
        {
            Broadcast.None => x.Length,
            Broadcast.Row => x.Cols,
            Broadcast.Column => x.Rows,
            _ => 1,
        };
        if (y.Length != expected)
            throw new ArgumentException($"{op} with {broadcast} broadcast over x [{x.ShapeText}] needs y of {expected} elements, got [{y.ShapeText}]");
        BinaryCore(op, x, y, z, alpha, beta, broadcast);
    }

    /// <summary>z ← condition &gt; 0 ? x : y elementwise.</summary>
    public void Select(Tensor condition, Tensor x, Tensor y, Tensor z)
    {
        SameLength(condition, x); SameLength(x, y); SameLength(x, z);
        SelectCore(condition, x, y, z);
    }

    /// <summary>
    /// Copies a block of columns: dst[r, dstColumn + j] ← src[r, srcColumn + j] for j &lt; columnCount.
    /// Concatenation of column blocks is two calls; its backward (split) is two calls the other way.
    /// </summary>
    public void CopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int columnCount)
    {
        Own(source, nameof(source)); Own(destination, nameof(destination));
        if (source.Rows != destination.Rows)
            throw new ArgumentException($"column copy between [{source.ShapeText}] and [{destination.ShapeText}]: row counts differ");
        if (sourceColumn < 0 || columnCount < 0 || (long)sourceColumn + columnCount > source.Cols || destinationColumn < 0 || (long)destinationColumn + columnCount > destination.Cols)
            throw new ArgumentOutOfRangeException(nameof(columnCount), $"columns [{sourceColumn}, +{columnCount}) of [{source.ShapeText}] into columns [{destinationColumn}, +{columnCount}) of [{destination.ShapeText}]");
        CopyColumnsCore(source, sourceColumn, destination, destinationColumn, columnCount);
    }

    /// <summary>
    /// destination[r, :] ← [left[r, :] | right[r, :]] for [R, l] and [R, r] inputs into [R, l + r] (a critic's input
    /// [s | a]); one launch on ILGPU backends. The destination must not overlap either input.
    /// </summary>
    public void ConcatColumns(Tensor left, Tensor right, Tensor destination)
    {
        Own(left, nameof(left)); Own(right, nameof(right)); Own(destination, nameof(destination));
        // Lengths rather than row counts, so that an empty block ([R, 0], whose Rows is 0) is accepted.
        if (left.Cols + right.Cols != destination.Cols || left.Length != destination.Rows * left.Cols || right.Length != destination.Rows * right.Cols)
            throw new ArgumentException($"[{left.ShapeText}] and [{right.ShapeText}] side by side do not make [{destination.ShapeText}]");
        if (Shares(destination, left) || Shares(destination, right))
            throw new ArgumentException("the concatenation's destination must not overlap its inputs");
        ConcatColumnsCore(left, right, destination);
    }

    // ───────────────────────────── reductions ─────────────────────────────

    /// <summary>y[r] ← β·y[r] + α·Σ_c x[r, c]. Use α = 1/cols for the row mean.</summary>
    public void RowSum(Tensor x, Tensor y, float alpha = 1f, float beta = 0f)
    {
        Own(x, nameof(x)); Own(y, nameof(y));
        if (y.Length != x.Rows) throw new ArgumentException($"row sum of [{x.ShapeText}] needs {x.Rows} outputs, got [{y.ShapeText}]");
        RowSumCore(x, y, alpha, beta);
    }

    /// <summary>
    /// y[c] ← β·y[c] + α·Σ_r x[r, c] (bias gradients, with β = 1 to accumulate). A rank-3 x [batch, rows, cols]
    /// with y [batch, cols] sums each batch entry separately (ensemble bias gradients).
    /// </summary>
    public void ColumnSum(Tensor x, Tensor y, float alpha = 1f, float beta = 0f) => ColumnSumCore(x, y, alpha, beta, CheckColumnSum(x, y));

    /// <summary>Checks a column sum's operands and returns its batch (1 for a rank-2 x).</summary>
    int CheckColumnSum(Tensor x, Tensor y)
    {
        Own(x, nameof(x)); Own(y, nameof(y));
        int batch = x.Rank == 3 ? x.Shape[0] : 1;
        if (y.Length != batch * x.Cols) throw new ArgumentException($"column sum of [{x.ShapeText}] needs {batch * x.Cols} outputs, got [{y.ShapeText}]");
        return batch;
    }

    /// <summary>y[0] ← α·Σ x (a device scalar; no host round trip).</summary>
    public void Sum(Tensor x, Tensor y, float alpha = 1f)
    {
        Own(x, nameof(x)); Own(y, nameof(y));
        if (y.Length != 1) throw new ArgumentException($"sum needs a 1-element output, got [{y.ShapeText}]");
        SumCore(x, y, alpha);
    }

    /// <summary>
    /// Minimum across an ensemble: x is [members, n], y[i] ← min_e x[e, i] and argMin[i] ← the first e that
    /// attains it (as a float, for the backward pass).
    /// </summary>
    public void EnsembleMin(Tensor x, Tensor y, Tensor argMin)
    {
        Own(x, nameof(x)); SameLength(y, argMin);
        int members = x.Length / Math.Max(1, y.Length);
        if (members * y.Length != x.Length || members < 1)
            throw new ArgumentException($"ensemble min of [{x.ShapeText}] into [{y.ShapeText}]: x must hold a whole number of members of {y.Length}");
        EnsembleMinCore(x, y, argMin, members);
    }

    /// <summary>Backward of <see cref="EnsembleMin"/>: dx[e, i] ← (e == argMin[i]) ? dy[i] : 0 (overwrites dx).</summary>
    public void EnsembleMinBackward(Tensor argMin, Tensor dy, Tensor dx)
    {
        SameLength(argMin, dy); Own(dx, nameof(dx));
        int members = dx.Length / Math.Max(1, dy.Length);
        if (members * dy.Length != dx.Length || members < 1)
            throw new ArgumentException($"ensemble min backward into [{dx.ShapeText}] from [{dy.ShapeText}]");
        EnsembleMinBackwardCore(argMin, dy, dx, members);
    }

    // ───────────────────────────── losses ─────────────────────────────

    /// <summary>
    /// Mean squared error L = scale · mean_i (p_i − t_i)²: writes L to loss[0] and ∂L/∂p = scale·2(p − t)/n to
    /// gradient (overwritten). The target receives no gradient.
    /// </summary>
    public void MseLoss(Tensor prediction, Tensor target, Tensor gradient, Tensor loss, float scale = 1f)
    {
        SameLength(prediction, target); SameLength(prediction, gradient); SameLayout(prediction, target); ScalarOut(loss);
        if (prediction.Length == 0) throw new ArgumentException("the loss of an empty batch is undefined (0/0); the batch has no rows");
        MseLossCore(prediction, target, gradient, loss, scale);
    }

    /// <summary>
    /// Expectile (asymmetric L2) loss of IQL: u = t − p, L = mean_i |τ − 1(u_i &lt; 0)|·u_i²; writes L to loss[0]
    /// and ∂L/∂p = −2·|τ − 1(u &lt; 0)|·u/n to gradient.
    /// </summary>
    public void ExpectileLoss(Tensor prediction, Tensor target, float tau, Tensor gradient, Tensor loss)
    {
        SameLength(prediction, target); SameLength(prediction, gradient); SameLayout(prediction, target); ScalarOut(loss);
        if (prediction.Length == 0) throw new ArgumentException("the loss of an empty batch is undefined (0/0); the batch has no rows");
        if (!(tau > 0f && tau < 1f)) throw new ArgumentOutOfRangeException(nameof(tau), tau, "expectile τ must be in (0, 1)");
        ExpectileLossCore(prediction, target, tau, gradient, loss);
    }

    /// <summary>
    /// SAC's actor loss as one op (<see cref="SacLossReference.ActorLoss"/>): from Q [E, B] of the critics at the
    /// reparameterised actions, log π [B] and α [1] (held constant), writes L_π = mean[α·log π − min_e Q] to
    /// <paramref name="loss"/>, ∂L_π/∂Q [E, B] (−1/B at each row's first minimising critic) and ∂L_π/∂log π = α/B
    /// [B]. With <paramref name="logAlpha"/>, <paramref name="logAlphaGradient"/> and <paramref name="alphaLoss"/>
    /// (all three or none) it also writes the temperature loss's gradient −(mean log π + H̄) and value
    /// log α·(that gradient), H̄ = <paramref name="targetEntropy"/>. The outputs must not overlap the inputs or each other.
    /// </summary>
    public void SoftActorLoss(Tensor q, Tensor logProb, Tensor alpha, Tensor qGradient, Tensor logProbGradient, Tensor loss,
        Tensor? logAlpha = null, float targetEntropy = 0f, Tensor? logAlphaGradient = null, Tensor? alphaLoss = null)
    {
        Own(logProb, nameof(logProb));
        int critics = Members(q, logProb.Length, nameof(q));
        SameLength(qGradient, q); PerRow(logProbGradient, logProb.Length, nameof(logProbGradient));
        ScalarIn(alpha, nameof(alpha)); ScalarOut(loss);
        bool temperature = logAlpha is not null;
        if (temperature != (logAlphaGradient is not null) || temperature != (alphaLoss is not null))
            throw new ArgumentException("the temperature outputs need log α, its gradient and the loss value together (or none of them)");
        if (temperature)
        {
            ScalarIn(logAlpha!, nameof(logAlpha)); ScalarOut(logAlphaGradient!); ScalarOut(alphaLoss!);
            if (!float.IsFinite(targetEntropy)) throw new ArgumentOutOfRangeException(nameof(targetEntropy), targetEntropy, "the target entropy must be finite");
        }
        Distinct([q, logProb, alpha, logAlpha], temperature ? [qGradient, logProbGradient, loss, logAlphaGradient!, alphaLoss!] : [qGradient, logProbGradient, loss]);
        if (logProb.Length > 0)
            SoftActorLossCore(q, logProb, alpha, qGradient, logProbGradient, loss, critics, logAlpha, targetEntropy, logAlphaGradient, alphaLoss);
    }

    /// <summary>
    /// SAC's soft TD loss with its Bellman target as one op (<see cref="SacLossReference.TdLoss"/>):
    /// y = r + γ(1 − m)[min_e Q̄_e(s′, ã′) − α·log π(ã′|s′) − c] (the entropy term only with
    /// <paramref name="nextLogProb"/>, the cost only with <paramref name="nextCost"/>; <paramref name="nextQ"/> [E′, B]
    /// may hold one member, a value computed elsewhere), L_Q = Σ_e mean_i (Q_e,i − y_i)² with Q [E, B] the critics
    /// at the data actions. Writes L_Q to <paramref name="loss"/>, ∂L_Q/∂Q [E, B] to <paramref name="gradient"/>, the
    /// mean of Q to <paramref name="meanQ"/> and, when given, y [B] to <paramref name="target"/>. m = 1 marks a true
    /// terminal (no bootstrap); a time-limit end is stored with m = 0. The outputs must not overlap the inputs or each other.
    /// </summary>
    public void SoftTdLoss(Tensor q, Tensor nextQ, Tensor? nextLogProb, Tensor alpha, Tensor? nextCost, Tensor rewards, Tensor terminals,
        float gamma, Tensor gradient, Tensor loss, Tensor meanQ, Tensor? target = null)
    {
        Own(rewards, nameof(rewards));
        int rows = rewards.Length;
        int critics = Members(q, rows, nameof(q)), nextCritics = Members(nextQ, rows, nameof(nextQ));
        PerRow(terminals, rows, nameof(terminals));
        if (nextLogProb is not null) PerRow(nextLogProb, rows, nameof(nextLogProb));
        if (nextCost is not null) PerRow(nextCost, rows, nameof(nextCost));
        if (target is not null) PerRow(target, rows, nameof(target));
        SameLength(gradient, q); ScalarIn(alpha, nameof(alpha)); ScalarOut(loss); ScalarOut(meanQ);
        if (!float.IsFinite(gamma) || gamma < 0f) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "the discount γ must be finite and ≥ 0");
        Distinct([q, nextQ, nextLogProb, alpha, nextCost, rewards, terminals], target is null ? [gradient, loss, meanQ] : [gradient, loss, meanQ, target]);
        if (rows > 0) SoftTdLossCore(q, nextQ, nextLogProb, alpha, nextCost, rewards, terminals, gamma, gradient, loss, meanQ, target, critics, nextCritics);
    }

    /// <summary>Members of an ensemble tensor [E, rows] (E ≥ 1), or a clear error.</summary>
    int Members(Tensor t, int rows, string name)
    {
        Own(t, name);
        int members = rows == 0 ? 1 : t.Length / rows;
        if (members < 1 || members * rows != t.Length)
            throw new ArgumentException($"{name} [{t.ShapeText}] must hold a whole number (≥ 1) of ensemble members of {rows} rows", name);
        return members;
    }

    void ScalarIn(Tensor t, string name)
    {
        Own(t, name);
        if (t.Length != 1) throw new ArgumentException($"{name} must be a 1-element device scalar, got [{t.ShapeText}]", name);
    }

    // ───────────────────────────── distributions ─────────────────────────────

    /// <summary>
    /// The reparameterised sample of a tanh-squashed Gaussian, fused over each row (formulas in
    /// <see cref="TanhGaussianReference"/>): from head [B, 2d] (μ, then raw log-std ρ), ε [B, d] and the log-std
    /// multiplier m and offset o ([1] each), writes a = tanh(μ + σε) [B, d], σε [B, d] (kept for
    /// <see cref="TanhGaussianSampleBackward"/>) and log π(a|s) [B], with log σ = clamp(m·ρ + o, lo, hi).
    /// The outputs must not overlap the inputs or each other.
    /// </summary>
    public void TanhGaussianSample(Tensor head, Tensor noise, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, Tensor action, Tensor stdNoise, Tensor logProb)
    {
        int rows = TanhGaussianRows(head, noise, action, stdNoise, logStdMultiplier, logStdOffset, minLogStd, maxLogStd);
        PerRow(logProb, rows, nameof(logProb));
        Distinct([head, noise, logStdMultiplier, logStdOffset], [action, stdNoise, logProb]);
        if (rows > 0) TanhGaussianSampleCore(head, noise, logStdMultiplier, logStdOffset, minLogStd, maxLogStd, action, stdNoise, logProb);
    }

    /// <summary>
    /// <see cref="TanhGaussianSample(Tensor, Tensor, Tensor, Tensor, float, float, Tensor, Tensor, Tensor)"/> that first
    /// draws ε into <paramref name="noise"/> (then an output) from the Philox stream <paramref name="draw"/>, with the
    /// results of <see cref="RandomNormal"/>(noise, seed, counter) followed by the sample; one launch on ILGPU backends.
    /// </summary>
    public void TanhGaussianSample(Tensor head, Tensor noise, PhiloxDraw draw, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, Tensor action, Tensor stdNoise, Tensor logProb)
    {
        int rows = TanhGaussianRows(head, noise, action, stdNoise, logStdMultiplier, logStdOffset, minLogStd, maxLogStd);
        PerRow(logProb, rows, nameof(logProb));
        Distinct([head, logStdMultiplier, logStdOffset], [noise, action, stdNoise, logProb]);
        if (rows > 0) TanhGaussianSampleDrawingCore(head, noise, draw, logStdMultiplier, logStdOffset, minLogStd, maxLogStd, action, stdNoise, logProb);
    }

    /// <summary>
    /// A deterministic actor's noisy action (TD3's target smoothing and exploration): draws ε ~ N(0, 1) into
    /// <paramref name="noise"/> from <paramref name="draw"/>, then n = clip(σε, ±c) into <paramref name="clippedNoise"/>,
    /// u = μ + n into <paramref name="preClamp"/> and a = clamp(u, ±L) into <paramref name="action"/>; c or L of +∞
    /// skips that clip. The results of RandomNormal, Unary Affine and Clamp, Binary Add and Clamp (or Copy) in turn; one
    /// launch on ILGPU backends.
    /// </summary>
    public void NoisyAction(Tensor mean, Tensor noise, PhiloxDraw draw, float noiseStd, float noiseClip, float actionLimit,
        Tensor clippedNoise, Tensor preClamp, Tensor action)
    {
        Own(mean, nameof(mean));
        foreach (var t in (ReadOnlySpan<Tensor>)[noise, clippedNoise, preClamp, action]) SameLength(mean, t);
        if (!(noiseStd >= 0f) || float.IsInfinity(noiseStd)) throw new ArgumentOutOfRangeException(nameof(noiseStd), noiseStd, "noise std must be finite and non-negative");
        if (!(noiseClip > 0f)) throw new ArgumentOutOfRangeException(nameof(noiseClip), noiseClip, "noise clip must be positive (+∞ for none)");
        if (!(actionLimit > 0f)) throw new ArgumentOutOfRangeException(nameof(actionLimit), actionLimit, "action limit must be positive (+∞ for none)");
        Distinct([mean], [noise, clippedNoise, preClamp, action]);
        if (mean.Length > 0) NoisyActionCore(mean, noise, draw, noiseStd, noiseClip, actionLimit, clippedNoise, preClamp, action);
    }

    /// <summary>
    /// Backward of <see cref="TanhGaussianSample(Tensor, Tensor, Tensor, Tensor, float, float, Tensor, Tensor, Tensor)"/> from ∂L/∂a [B, d], ∂L/∂log π [B]
    /// and/or ∂L/∂u [B, d] with respect to the pre-image u = μ + σε (any may be null, not all), given that call's head,
    /// m, o, bounds, action and σε: overwrites ∂L/∂head [B, 2d] and adds ∂L/∂m and ∂L/∂o onto the 1-element gradient
    /// tensors. The action gradient flows through u into μ and σ; the pre-image gradient joins it there (the route of
    /// a term that scored the sample by its pre-image, <see cref="TanhGaussianLogProb"/> with givenIsPreImage).
    /// </summary>
    public void TanhGaussianSampleBackward(Tensor head, Tensor logStdMultiplier, Tensor logStdOffset, float minLogStd, float maxLogStd,
        Tensor action, Tensor stdNoise, Tensor? actionGradient, Tensor? logProbGradient,
        Tensor headGradient, Tensor logStdMultiplierGradient, Tensor logStdOffsetGradient, Tensor? preImageGradient = null)
    {
        int rows = TanhGaussianRows(head, action, action, stdNoise, logStdMultiplier, logStdOffset, minLogStd, maxLogStd);
        if (actionGradient is null && logProbGradient is null && preImageGradient is null)
            throw new ArgumentException("the tanh-Gaussian backward needs an action, log-prob or pre-image gradient");
        if (actionGradient is not null) SameLength(actionGradient, action);
        if (preImageGradient is not null) SameLength(preImageGradient, action);
        if (logProbGradient is not null) PerRow(logProbGradient, rows, nameof(logProbGradient));
        SameLength(headGradient, head); ScalarOut(logStdMultiplierGradient); ScalarOut(logStdOffsetGradient);
        Distinct([head, logStdMultiplier, logStdOffset, action, stdNoise, actionGradient, logProbGradient, preImageGradient],
            [headGradient, logStdMultiplierGradient, logStdOffsetGradient]);
        if (rows > 0)
            TanhGaussianSampleBackwardCore(head, logStdMultiplier, logStdOffset, minLogStd, maxLogStd, action, stdNoise, actionGradient, logProbGradient,
                preImageGradient, headGradient, logStdMultiplierGradient, logStdOffsetGradient);
    }

    /// <summary>
    /// log π(a|s) of given actions [B, d] under a tanh-Gaussian head [B, 2d] (μ, raw log-std ρ) with log-std multiplier
    /// m and offset o: a is clamped into ±<paramref name="actionBound"/>, u = atanh a, log σ = clamp(m·ρ + o, lo, hi).
    /// Writes log π [B] and, for <see cref="TanhGaussianLogProbBackward"/>, saved [4·B·d] (z = (u − μ)/σ, z/σ, the
    /// clamped action and ∂u/∂a). With <paramref name="givenIsPreImage"/>, <paramref name="action"/> holds the
    /// pre-images u of the actions instead (no clamp, no atanh: exact where tanh u rounds to ±1) and the backward gives
    /// ∂L/∂u. Formulas in <see cref="TanhGaussianReference.LogProb"/>.
    /// </summary>
    public void TanhGaussianLogProb(Tensor head, Tensor action, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, float actionBound, Tensor logProb, Tensor saved, bool givenIsPreImage = false)
    {
        int rows = TanhGaussianRows(head, action, action, action, logStdMultiplier, logStdOffset, minLogStd, maxLogStd);
        if (!(actionBound > 0f && actionBound < 1f)) throw new ArgumentOutOfRangeException(nameof(actionBound), actionBound, "the action clamp must be in (0, 1)");
        PerRow(logProb, rows, nameof(logProb)); Own(saved, nameof(saved));
        if (saved.Length != 4 * action.Length) throw new ArgumentException($"the saved values of [{action.ShapeText}] need {4 * action.Length} elements, got [{saved.ShapeText}]", nameof(saved));
        Distinct([head, action, logStdMultiplier, logStdOffset], [logProb, saved]);
        if (rows > 0) TanhGaussianLogProbCore(head, action, logStdMultiplier, logStdOffset, minLogStd, maxLogStd, actionBound, logProb, saved, givenIsPreImage);
    }

    /// <summary>
    /// Backward of <see cref="TanhGaussianLogProb"/> from ∂L/∂log π [B]: writes ∂L/∂a [B, d] (zero where the action was
    /// clamped); with <paramref name="headGradient"/> (a trainable head) also overwrites ∂L/∂head [B, 2d] and adds ∂L/∂m
    /// and ∂L/∂o onto their 1-element tensors, else those three are null.
    /// </summary>
    public void TanhGaussianLogProbBackward(Tensor head, Tensor logStdMultiplier, Tensor logStdOffset, float minLogStd, float maxLogStd,
        Tensor saved, Tensor logProbGradient, Tensor actionGradient, Tensor? headGradient, Tensor? logStdMultiplierGradient, Tensor? logStdOffsetGradient)
    {
        int rows = TanhGaussianRows(head, actionGradient, actionGradient, actionGradient, logStdMultiplier, logStdOffset, minLogStd, maxLogStd);
        Own(saved, nameof(saved)); PerRow(logProbGradient, rows, nameof(logProbGradient));
        if (saved.Length != 4 * actionGradient.Length) throw new ArgumentException($"the saved values of [{actionGradient.ShapeText}] need {4 * actionGradient.Length} elements, got [{saved.ShapeText}]", nameof(saved));
        if (headGradient is null != logStdMultiplierGradient is null || headGradient is null != logStdOffsetGradient is null)
            throw new ArgumentException("pass the head, multiplier and offset gradients together (a trainable head) or none of them");
        if (headGradient is not null)
        {
            SameLength(headGradient, head); ScalarOut(logStdMultiplierGradient!); ScalarOut(logStdOffsetGradient!);
            Distinct([head, logStdMultiplier, logStdOffset, saved, logProbGradient], [actionGradient, headGradient, logStdMultiplierGradient!, logStdOffsetGradient!]);
        }
        else Distinct([head, logStdMultiplier, logStdOffset, saved, logProbGradient], [actionGradient]);
        if (rows > 0)
            TanhGaussianLogProbBackwardCore(head, logStdMultiplier, logStdOffset, minLogStd, maxLogStd, saved, logProbGradient, actionGradient,
                headGradient, logStdMultiplierGradient, logStdOffsetGradient);
    }

    int TanhGaussianRows(Tensor head, Tensor noise, Tensor action, Tensor stdNoise, Tensor multiplier, Tensor offset, float minLogStd, float maxLogStd)
    {
        Own(head, nameof(head)); Own(noise, nameof(noise)); Own(action, nameof(action)); Own(stdNoise, nameof(stdNoise));
        ScalarOut(multiplier); ScalarOut(offset);
        int actionDim = action.Cols;
        if (actionDim < 1 || head.Cols != 2 * actionDim || head.Rows != action.Rows)
            throw new ArgumentException($"a tanh-Gaussian head for actions [{action.ShapeText}] must be [{action.Rows}, {2 * actionDim}], got [{head.ShapeText}]", nameof(head));
        if (noise.Rows != action.Rows || noise.Cols != actionDim || stdNoise.Rows != action.Rows || stdNoise.Cols != actionDim)
            throw new ArgumentException($"noise [{noise.ShapeText}] and σε [{stdNoise.ShapeText}] must match the actions [{action.ShapeText}]");
        if (!(minLogStd <= maxLogStd)) throw new ArgumentOutOfRangeException(nameof(minLogStd), $"log-std bounds [{minLogStd}, {maxLogStd}] are not an interval");
        return action.Rows;
    }

    /// <summary>Throws unless the tensor lives here and holds one value per row (log π and its gradient).</summary>
    void PerRow(Tensor t, int rows, string name)
    {
        Own(t, name);
        if (t.Length != rows) throw new ArgumentException($"{name} needs one value for each of {rows} rows, got [{t.ShapeText}]", name);
    }

    /// <summary>
    /// Throws if an output overlaps an input or another output (a fused op reads its inputs while it writes). Null
    /// inputs (unused optional ones) are skipped. Spans, so a call allocates nothing.
    /// </summary>
    static void Distinct(ReadOnlySpan<Tensor?> inputs, ReadOnlySpan<Tensor> outputs)
    {
        for (int i = 0; i < outputs.Length; i++)
        {
            foreach (var input in inputs)
                if (input is not null && Shares(outputs[i], input)) throw new ArgumentException($"an output [{outputs[i].ShapeText}] overlaps an input [{input.ShapeText}]");
            for (int j = i + 1; j < outputs.Length; j++)
                if (Shares(outputs[i], outputs[j])) throw new ArgumentException($"outputs [{outputs[i].ShapeText}] and [{outputs[j].ShapeText}] overlap");
        }
    }

    // ───────────────────────────── optimisation ─────────────────────────────

    /// <summary>
    /// One fused Adam step over flat buffers, as PyTorch computes it (no weight decay):
    /// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − (lr/(1−β1^t))·m/(√v/√(1−β2^t) + ε).
    /// <paramref name="step"/> is t, starting at 1.
    /// </summary>
    public void Adam(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float learningRate, float beta1, float beta2, float epsilon, long step)
    {
        SameLength(parameters, gradients); SameLength(parameters, firstMoment); SameLength(parameters, secondMoment);
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "Adam steps count from 1");
        O2RL.Engine.Adam.CheckSettings(learningRate, beta1, beta2, epsilon);
        float stepSize = (float)(learningRate / (1.0 - Math.Pow(beta1, step)));
        float rootBiasCorrection2 = (float)Math.Sqrt(1.0 - Math.Pow(beta2, step));
        AdamCore(parameters, gradients, firstMoment, secondMoment, stepSize, beta1, beta2, epsilon, rootBiasCorrection2);
    }

    /// <summary>Polyak averaging θ̄ ← (1 − τ)·θ̄ + τ·θ.</summary>
    public void Polyak(Tensor target, Tensor source, float tau)
    {
        SameLength(target, source);
        CheckTau(tau);
        PolyakCore(target, source, tau);
    }

    /// <summary>
    /// <see cref="Adam"/> on <paramref name="parameters"/>, then <see cref="Polyak"/> of <paramref name="target"/>
    /// towards them (θ̄ ← (1 − τ)·θ̄ + τ·θ with the stepped θ), with the results of the two calls: a critic's step
    /// and its target update. ILGPU backends make it one launch and one pass over the parameters.
    /// </summary>
    public void AdamThenPolyak(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float learningRate, float beta1, float beta2, float epsilon, long step, Tensor target, float tau)
    {
        SameLength(parameters, gradients); SameLength(parameters, firstMoment); SameLength(parameters, secondMoment); SameLength(parameters, target);
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "Adam steps count from 1");
        O2RL.Engine.Adam.CheckSettings(learningRate, beta1, beta2, epsilon);
        CheckTau(tau);
        if (Shares(target, parameters) || Shares(target, gradients) || Shares(target, firstMoment) || Shares(target, secondMoment))
            throw new ArgumentException("the Polyak target must not overlap the parameters, gradients or Adam moments it follows");
        float stepSize = (float)(learningRate / (1.0 - Math.Pow(beta1, step)));
        float rootBiasCorrection2 = (float)Math.Sqrt(1.0 - Math.Pow(beta2, step));
        AdamThenPolyakCore(parameters, gradients, firstMoment, secondMoment, stepSize, beta1, beta2, epsilon, rootBiasCorrection2, target, tau);
    }

    static void CheckTau(float tau)
    {
        if (!(tau >= 0f && tau <= 1f)) throw new ArgumentOutOfRangeException(nameof(tau), tau, "Polyak τ must be in [0, 1]");
    }

    /// <summary>
    /// Global L2 norm clipping as PyTorch's clip_grad_norm_: writes ‖g‖ to norm[0] and, when ‖g‖ exceeds
    /// maxNorm, scales g by maxNorm/(‖g‖ + 1e-6). Stays on the device.
    /// </summary>
    public void ClipGradientNorm(Tensor gradients, float maxNorm, Tensor norm)
    {
        Own(gradients, nameof(gradients)); ScalarOut(norm);
        if (!(maxNorm > 0f && float.IsFinite(maxNorm))) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "max norm must be finite and positive");
        ClipGradientNormCore(gradients, maxNorm, norm);
    }

    // ───────────────────────────── sampling ─────────────────────────────

    /// <summary>dst[i, :] ← src[indices[i], :]. src is [n, cols], dst is [indices.Length, cols].</summary>
    public void GatherRows(Tensor source, IndexTensor indices, Tensor destination)
    {
        Own(source, nameof(source)); Own(destination, nameof(destination));
        if (indices.Backend != this) throw new ArgumentException("indices belong to another backend");
        if (destination.Rows != indices.Length || destination.Cols != source.Cols)
            throw new ArgumentException($"gather of {indices.Length} rows of [{source.ShapeText}] into [{destination.ShapeText}]");
        GatherRowsCore(source, indices, destination);
    }

    /// <summary>x[i] ← U[low, high) from Philox(seed, counter + i). Identical bits on every backend.</summary>
    public void RandomUniform(Tensor x, ulong seed, ulong counter, float low = 0f, float high = 1f)
    {
        Own(x, nameof(x));
        if (!(float.IsFinite(low) && float.IsFinite(high) && low <= high))
            throw new ArgumentOutOfRangeException(nameof(high), $"uniform range [{low}, {high}) must be finite with low ≤ high");
        RandomUniformCore(x, seed, counter, low, high);
    }

    /// <summary>x[i] ← mean + std·N(0, 1) from Philox(seed, counter + i) (Box–Muller).</summary>
    public void RandomNormal(Tensor x, ulong seed, ulong counter, float mean = 0f, float std = 1f)
    {
        Own(x, nameof(x));
        if (!(float.IsFinite(mean) && float.IsFinite(std) && std >= 0f))
            throw new ArgumentOutOfRangeException(nameof(std), $"normal mean {mean} and std {std} must be finite, std ≥ 0");
        RandomNormalCore(x, seed, counter, mean, std);
    }

    /// <summary>indices[i] ← uniform integer in [offset, offset + count) from Philox(seed, counter + i).</summary>
    public void RandomIndices(IndexTensor indices, ulong seed, ulong counter, int count, int offset = 0)
    {
        if (indices.Backend != this) throw new ArgumentException("indices belong to another backend");
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "need at least one index to draw from");
        RandomIndicesCore(indices, seed, counter, count, offset);
    }

    // ───────────────────────────── the backend's work ─────────────────────────────

    protected abstract DeviceStorage AllocateStorage(int length);
    protected abstract DeviceStorage AllocateIndexStorage(int length);
    protected abstract void UploadCore(ReadOnlySpan<float> source, Tensor destination);
    protected abstract void DownloadCore(Tensor source, Span<float> destination);
    protected abstract void UploadIndicesCore(ReadOnlySpan<int> source, IndexTensor destination);
    protected abstract void DownloadIndicesCore(IndexTensor source, Span<int> destination);
    protected abstract void CopyCore(Tensor source, Tensor destination);
    protected abstract void FillCore(Tensor tensor, float value);
    protected abstract void GemmCore(in GemmShape shape, in GemmRequest g);
    /// <summary>Two independent, checked GEMMs; by default one after the other.</summary>
    protected virtual void GemmPairCore(in GemmShape firstShape, in GemmRequest first, in GemmShape secondShape, in GemmRequest second)
    {
        GemmCore(firstShape, first);
        GemmCore(secondShape, second);
    }

    /// <summary>Checked GEMMs (the second optional) and column sum; by default the pair (or the first GEMM), then the sum.</summary>
    protected virtual void GemmPairAndColumnSumCore(in GemmShape firstShape, in GemmRequest first, GemmShape? secondShape, GemmRequest? second,
        in ColumnSumRequest sum, int sumBatch)
    {
        if (second is { } other) GemmPairCore(firstShape, first, secondShape!.Value, other);
        else GemmCore(firstShape, first);
        ColumnSumCore(sum.X, sum.Y, sum.Alpha, sum.Beta, sumBatch);
    }

    protected abstract void ActivationForwardCore(Activation activation, Tensor x, Tensor y);
    protected abstract void ActivationBackwardCore(Activation activation, Tensor y, Tensor dy, Tensor dx);
    protected abstract void LayerNormForwardCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor rstd, float epsilon, int groups,
        Activation activation);
    protected abstract void LayerNormBackwardCore(Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, Tensor dgamma, Tensor dbeta, int groups);
    protected abstract void UnaryCore(UnaryOp op, Tensor x, Tensor y, float a, float b);
    protected abstract void BinaryCore(BinaryOp op, Tensor x, Tensor y, Tensor z, float alpha, float beta, Broadcast broadcast);
    protected abstract void SelectCore(Tensor condition, Tensor x, Tensor y, Tensor z);
    protected abstract void CopyColumnsCore(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int columnCount);
    protected abstract void ConcatColumnsCore(Tensor left, Tensor right, Tensor destination);
    protected abstract void RowSumCore(Tensor x, Tensor y, float alpha, float beta);
    protected abstract void ColumnSumCore(Tensor x, Tensor y, float alpha, float beta, int batch);
    protected abstract void SumCore(Tensor x, Tensor y, float alpha);
    protected abstract void EnsembleMinCore(Tensor x, Tensor y, Tensor argMin, int members);
    protected abstract void EnsembleMinBackwardCore(Tensor argMin, Tensor dy, Tensor dx, int members);
    protected abstract void MseLossCore(Tensor prediction, Tensor target, Tensor gradient, Tensor loss, float scale);
    protected abstract void ExpectileLossCore(Tensor prediction, Tensor target, float tau, Tensor gradient, Tensor loss);
    protected abstract void SoftActorLossCore(Tensor q, Tensor logProb, Tensor alpha, Tensor qGradient, Tensor logProbGradient, Tensor loss, int critics,
        Tensor? logAlpha, float targetEntropy, Tensor? logAlphaGradient, Tensor? alphaLoss);
    protected abstract void SoftTdLossCore(Tensor q, Tensor nextQ, Tensor? nextLogProb, Tensor alpha, Tensor? nextCost, Tensor rewards, Tensor terminals,
        float gamma, Tensor gradient, Tensor loss, Tensor meanQ, Tensor? target, int critics, int nextCritics);
    protected abstract void TanhGaussianSampleCore(Tensor head, Tensor noise, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, Tensor action, Tensor stdNoise, Tensor logProb);
    /// <summary>Checked noisy action; by default the five ops it stands for, one after the other.</summary>
    protected virtual void NoisyActionCore(Tensor mean, Tensor noise, PhiloxDraw draw, float noiseStd, float noiseClip, float actionLimit,
        Tensor clippedNoise, Tensor preClamp, Tensor action)
    {
        RandomNormalCore(noise, draw.Seed, draw.Counter, 0f, 1f);
        UnaryCore(UnaryOp.Affine, noise, clippedNoise, noiseStd, 0f);
        if (float.IsFinite(noiseClip)) UnaryCore(UnaryOp.Clamp, clippedNoise, clippedNoise, -noiseClip, noiseClip);
        BinaryCore(BinaryOp.Add, mean, clippedNoise, preClamp, 1f, 1f, Broadcast.None);
        if (float.IsFinite(actionLimit)) UnaryCore(UnaryOp.Clamp, preClamp, action, -actionLimit, actionLimit);
        else CopyCore(preClamp, action);
    }

    /// <summary>Checked noise-drawing sample; by default the normal draw, then the sample.</summary>
    protected virtual void TanhGaussianSampleDrawingCore(Tensor head, Tensor noise, PhiloxDraw draw, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, Tensor action, Tensor stdNoise, Tensor logProb)
    {
        RandomNormalCore(noise, draw.Seed, draw.Counter, 0f, 1f);
        TanhGaussianSampleCore(head, noise, logStdMultiplier, logStdOffset, minLogStd, maxLogStd, action, stdNoise, logProb);
    }
    protected abstract void TanhGaussianSampleBackwardCore(Tensor head, Tensor logStdMultiplier, Tensor logStdOffset, float minLogStd, float maxLogStd,
        Tensor action, Tensor stdNoise, Tensor? actionGradient, Tensor? logProbGradient, Tensor? preImageGradient,
        Tensor headGradient, Tensor logStdMultiplierGradient, Tensor logStdOffsetGradient);
    protected abstract void TanhGaussianLogProbCore(Tensor head, Tensor action, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, float actionBound, Tensor logProb, Tensor saved, bool givenIsPreImage);
    protected abstract void TanhGaussianLogProbBackwardCore(Tensor head, Tensor logStdMultiplier, Tensor logStdOffset, float minLogStd, float maxLogStd,
        Tensor saved, Tensor logProbGradient, Tensor actionGradient, Tensor? headGradient, Tensor? logStdMultiplierGradient, Tensor? logStdOffsetGradient);
    protected abstract void AdamCore(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2);
    protected abstract void PolyakCore(Tensor target, Tensor source, float tau);
    /// <summary>Checked <see cref="AdamThenPolyak"/>; by default the two steps one after the other.</summary>
    protected virtual void AdamThenPolyakCore(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2, Tensor target, float tau)
    {
        AdamCore(parameters, gradients, firstMoment, secondMoment, stepSize, beta1, beta2, epsilon, rootBiasCorrection2);
        PolyakCore(target, parameters, tau);
    }
    protected abstract void ClipGradientNormCore(Tensor gradients, float maxNorm, Tensor norm);
    protected abstract void GatherRowsCore(Tensor source, IndexTensor indices, Tensor destination);
    protected abstract void RandomUniformCore(Tensor x, ulong seed, ulong counter, float low, float high);
    protected abstract void RandomNormalCore(Tensor x, ulong seed, ulong counter, float mean, float std);
    protected abstract void RandomIndicesCore(IndexTensor indices, ulong seed, ulong counter, int count, int offset);

    /// <summary>True after <see cref="Dispose"/>: every later op and allocation throws <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Releases device resources.</summary>
    public virtual void Dispose()
    {
        IsDisposed = true;
        GC.SuppressFinalize(this);
    }

    void ThrowIfDisposed()
    {
        // Without this, small ops on a disposed CPU backend kept working while large ones failed naming an internal pool.
        if (IsDisposed) throw new ObjectDisposedException(Name, $"the backend {Name} was disposed");
        PrepareCallingThread();
    }

    /// <summary>Called as every op and allocation starts, on the thread that calls it (the CPU backend sets its float mode there).</summary>
    protected virtual void PrepareCallingThread() { }

    // ───────────────────────────── validation helpers ─────────────────────────────

    void Own(Tensor t, string name)
    {
        if (t is null) throw new ArgumentNullException(name);
        ThrowIfDisposed();
        if (t.Backend != this)
            throw new ArgumentException(t.Backend.Name == Name
                ? $"a tensor [{t.ShapeText}] belongs to another backend instance ({Name}); tensors of one network or op must come from the same backend object"
                : $"a tensor [{t.ShapeText}] lives on {t.Backend.Name}, not on {Name}");
    }

    void SameLength(Tensor x, Tensor y)
    {
        Own(x, nameof(x)); Own(y, nameof(y));
        if (x.Length != y.Length)
            throw new ArgumentException($"tensor lengths differ: [{x.ShapeText}] ({x.Length}) vs [{y.ShapeText}] ({y.Length})");
    }

    static void SameLayout(Tensor prediction, Tensor target)
    {
        if (!Tensor.SameLayout(prediction, target))
            throw new ArgumentException($"prediction [{prediction.ShapeText}] and target [{target.ShapeText}] have the same length but different layouts; reshape one to the other's shape");
    }

    void ScalarOut(Tensor t)
    {
        Own(t, nameof(t));
        if (t.Length != 1) throw new ArgumentException($"expected a 1-element output, got [{t.ShapeText}]");
    }

    static bool Overlaps(Tensor x, Tensor y) => x.Offset < y.Offset + y.Length && y.Offset < x.Offset + x.Length;

    int LayerNormGroups(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor rstd)
    {
        Own(x, nameof(x)); SameLength(gamma, beta); SameLength(mean, rstd);
        if (mean.Length != x.Rows) throw new ArgumentException($"LayerNorm of [{x.ShapeText}] needs {x.Rows} saved means, got [{mean.ShapeText}]");
        if (gamma.Length % x.Cols != 0 || gamma.Length == 0)
            throw new ArgumentException($"LayerNorm over {x.Cols} features needs γ of [{x.Cols}] or [groups, {x.Cols}], got [{gamma.ShapeText}]");
        int groups = gamma.Length / x.Cols;
        if (x.Rows % groups != 0) throw new ArgumentException($"{x.Rows} rows do not split into {groups} LayerNorm groups");
        return groups;
    }
}

/// <summary>
/// One GEMM: C ← act(α·op(A)·op(B) + β·C + bias), or with <see cref="ActivationOutput"/> Y the backward
/// C ← (α·op(A)·op(B) + β·C) ⊙ act′(Y), as <see cref="Backend.Gemm(Tensor, bool, Tensor, bool, Tensor, float, float, Tensor?, Activation, Tensor?)"/> takes it.
/// </summary>
public readonly record struct GemmRequest(Tensor A, bool TransposeA, Tensor B, bool TransposeB, Tensor C,
    float Alpha = 1f, float Beta = 0f, Tensor? Bias = null, Activation Activation = Activation.Identity, Tensor? ActivationOutput = null);

/// <summary>
/// Where a draw reads a Philox stream: its key and the counter of its first element (element i uses counter + i), as
/// <see cref="DeviceRandom.Take"/> hands them out.
/// </summary>
public readonly record struct PhiloxDraw(ulong Seed, ulong Counter);

/// <summary>One column sum, as <see cref="Backend.ColumnSum"/> takes it: y ← β·y + α·Σ_r x[r, ·] (per batch entry of a rank-3 x).</summary>
public readonly record struct ColumnSumRequest(Tensor X, Tensor Y, float Alpha = 1f, float Beta = 0f);

/// <summary>Resolved dimensions of a (batched) GEMM: C[batch][M, N] = op(A)[M, K]·op(B)[K, N].</summary>
public readonly record struct GemmShape(
    int Batch, int M, int N, int K, bool TransposeA, bool TransposeB,
    int StrideA, int StrideB, int StrideC, int StrideBias)
{
    /// <summary>Leading dimension (row length in memory) of A.</summary>
    public int Lda => TransposeA ? M : K;

    /// <summary>Leading dimension of B.</summary>
    public int Ldb => TransposeB ? K : N;

    internal static GemmShape Of(Tensor a, bool transposeA, Tensor b, bool transposeB, Tensor c, Tensor? bias)
    {
        if (a.Rank < 2 || b.Rank < 2 || c.Rank < 2 || a.Rank > 3 || b.Rank > 3 || c.Rank > 3)
            throw new ArgumentException($"GEMM operands must have rank 2 or 3: A [{a.ShapeText}], B [{b.ShapeText}], C [{c.ShapeText}]");
        int batch = c.Rank == 3 ? c.Shape[0] : 1;
        int aBatch = a.Rank == 3 ? a.Shape[0] : 1, bBatch = b.Rank == 3 ? b.Shape[0] : 1;
        if (aBatch != batch && aBatch != 1 || bBatch != batch && bBatch != 1)
            throw new ArgumentException($"GEMM batch sizes disagree: A [{a.ShapeText}], B [{b.ShapeText}], C [{c.ShapeText}]");
        int aRows = a.Shape[^2], aCols = a.Shape[^1], bRows = b.Shape[^2], bCols = b.Shape[^1];
        int m = transposeA ? aCols : aRows, k = transposeA ? aRows : aCols;
        int kB = transposeB ? bCols : bRows, n = transposeB ? bRows : bCols;
        if (k != kB || c.Shape[^2] != m || c.Shape[^1] != n)
            throw new ArgumentException(
                $"GEMM shapes do not chain: op(A) is [{m}, {k}] from A [{a.ShapeText}]{(transposeA ? "ᵀ" : "")}, " +
                $"op(B) is [{kB}, {n}] from B [{b.ShapeText}]{(transposeB ? "ᵀ" : "")}, C is [{c.ShapeText}]");
        int strideBias = 0;
        if (bias is not null)
        {
            if (bias.Backend != c.Backend) throw new ArgumentException("bias lives on another backend");
            if (bias.Length == n) strideBias = 0;
            else if (bias.Length == batch * n) strideBias = n;
            else throw new ArgumentException($"GEMM bias must have {n} or {batch}×{n} elements, got [{bias.ShapeText}]");
        }
        return new GemmShape(batch, m, n, k, transposeA, transposeB,
            aBatch == 1 ? 0 : m * k, bBatch == 1 ? 0 : k * n, m * n, strideBias);
    }
}
