using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using O2RL.Kernels;

namespace O2RL.Engine;

/// <summary>
/// The CPU backend: our own managed SIMD kernels (the <c>Cpu.cs</c> file of each op) on pinned host arrays.
/// Deterministic: every op has a fixed work split and a fixed reduction order, so two runs with one seed are
/// bit-identical. Ops run synchronously on the calling thread (GEMM may fan out to the worker pool).
/// </summary>
public sealed unsafe class CpuBackend : Backend
{
    readonly int threadCount;
    readonly WorkerPool? pool;

    /// <summary>A CPU backend using all cores (or <c>O2RL_THREADS</c>).</summary>
    public CpuBackend() : this(DefaultThreadCount()) { }

    /// <summary>A CPU backend using the given number of threads for large GEMMs.</summary>
    public CpuBackend(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "need at least one thread");
        threadCount = threads;
        // One persistent pool per backend (spin, then park); single-threaded backends never touch one.
        pool = threads > 1 ? new WorkerPool(threads) : null;
    }

    /// <inheritdoc/>
    /// <summary>Subnormal floats flushed to zero on every thread that runs this backend's kernels (<see cref="DenormalFlush"/>).</summary>
    protected override void PrepareCallingThread() => DenormalFlush.EnsureOnThisThread();

    public override void Dispose()
    {
        if (IsDisposed) return;
        pool?.Dispose();
        base.Dispose();
    }

    /// <inheritdoc/>
    public override string Name => $"cpu ({threadCount} thread{(threadCount == 1 ? "" : "s")}, {SimdDescription()})";

    /// <inheritdoc/>
    public override DeviceKind Kind => DeviceKind.Cpu;

    /// <summary>Threads used for large GEMMs.</summary>
    public int ThreadCount => threadCount;

    /// <summary>Threads a default CPU backend uses (for reports).</summary>
    public static int DefaultThreadCountForDisplay => DefaultThreadCount();

    internal static int DefaultThreadCount()
    {
        string? text = Environment.GetEnvironmentVariable("O2RL_THREADS");
        if (text is not null && int.TryParse(text, out int threads) && threads > 0) return threads;
        return Environment.ProcessorCount;
    }

    static string SimdDescription() =>
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512"
        : System.Runtime.Intrinsics.X86.Fma.IsSupported ? "AVX2+FMA"
        : System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? "128-bit SIMD" : "scalar";

    /// <summary>
    /// Pinned host memory; the pointer stays valid for the storage's lifetime. Buffers of a page or more start on a
    /// cache line, at an offset within the page that advances by 9 lines per buffer. Why: buffers allocated one
    /// after another (an op's input and output) otherwise sit at the same few bytes modulo 4096, and on x64 a load
    /// whose address matches a pending store's in the low 12 bits waits for it (4K aliasing). Measured on the Zen 3
    /// development machine for a 256 KiB y = f(x) loop: 83 µs at equal offsets against 12 µs staggered, and the
    /// runtime's memmove takes 200–280 µs when the destination runs 8 or 24 bytes ahead (the unaligned layout of
    /// consecutive pinned arrays) against 7 µs aligned; <see cref="Backend.Copy"/> of a 256×256 tensor went from
    /// about 400 µs to 15 µs. Smaller buffers keep the plain layout (a page of padding would outweigh them).
    /// </summary>
    sealed class CpuStorage<T> : DeviceStorage where T : unmanaged
    {
        const int CacheLine = 64, Page = 4096, StaggerStep = 9 * CacheLine;
        static int allocations;

        public readonly T[] Array;
        public readonly T* Pointer;

        public CpuStorage(int length)
        {
            int elementSize = sizeof(T);
            bool large = (long)length * elementSize >= Page;
            int padding = large ? (Page + CacheLine) / elementSize : 0;
            Array = GC.AllocateArray<T>(Math.Max(length, 1) + padding, pinned: true);
            byte* start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Array));
            if (large)
            {
                long aligned = ((long)start + CacheLine - 1) & ~(long)(CacheLine - 1);
                int stagger = (int)((uint)Interlocked.Increment(ref allocations) * (uint)StaggerStep % Page);
                start = (byte*)(aligned + stagger);
            }
            Pointer = (T*)start;
            Length = length;
        }

        public override int Length { get; }

        public override void Dispose() { }
    }

    static float* P(Tensor t) => ((CpuStorage<float>)t.Storage).Pointer + t.Offset;
    static float* P(Tensor? t, float* whenNull) => t is null ? whenNull : P(t);
    static int* P(IndexTensor t) => ((CpuStorage<int>)t.Storage).Pointer;
    static Span<float> S(Tensor t) => new(P(t), t.Length);

    /// <inheritdoc/>
    protected override DeviceStorage AllocateStorage(int length) => new CpuStorage<float>(length);
    /// <inheritdoc/>
    protected override DeviceStorage AllocateIndexStorage(int length) => new CpuStorage<int>(length);
    /// <inheritdoc/>
    protected override void UploadCore(ReadOnlySpan<float> source, Tensor destination) => source.CopyTo(S(destination));
    /// <inheritdoc/>
    protected override void DownloadCore(Tensor source, Span<float> destination) => S(source).CopyTo(destination);
    /// <inheritdoc/>
    protected override void UploadIndicesCore(ReadOnlySpan<int> source, IndexTensor destination) => source.CopyTo(new Span<int>(P(destination), destination.Length));
    /// <inheritdoc/>
    protected override void DownloadIndicesCore(IndexTensor source, Span<int> destination) => new Span<int>(P(source), source.Length).CopyTo(destination);
    /// <inheritdoc/>
    protected override void CopyCore(Tensor source, Tensor destination) => S(source).CopyTo(S(destination));
    /// <inheritdoc/>
    protected override void FillCore(Tensor tensor, float value)
    {
        if (SplitsOverPool(tensor.Length)) elementwise.Run(pool!, ElementwiseSlices.Op.Fill, P(tensor), null, null, tensor.Length, value);
        else S(tensor).Fill(value);
    }
    /// <inheritdoc/>
    public override void Synchronize() { }

    /// <inheritdoc/>
    protected override void GemmCore(in GemmShape shape, in GemmRequest g) =>
        GemmCpu.GemmBatched(shape.Batch, shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, g.Alpha,
            P(g.A), shape.StrideA, P(g.B), shape.StrideB, g.Beta, P(g.C), shape.StrideC,
            g.Bias is null ? null : P(g.Bias), shape.StrideBias, g.Activation, pool, g.ActivationOutput is null ? null : P(g.ActivationOutput));

    /// <inheritdoc/>
    protected override void GemmPairCore(in GemmShape firstShape, in GemmRequest first, in GemmShape secondShape, in GemmRequest second)
    {
        // Batched GEMMs (ensembles) already give each thread whole members.
        if (firstShape.Batch != 1 || secondShape.Batch != 1)
        {
            base.GemmPairCore(firstShape, first, secondShape, second);
            return;
        }
        GemmCpu.GemmPair(Call(firstShape, first), Call(secondShape, second), pool);
    }

    static GemmCall Call(in GemmShape shape, in GemmRequest g) => new()
    {
        TransposeA = shape.TransposeA, TransposeB = shape.TransposeB, M = shape.M, N = shape.N, K = shape.K,
        Alpha = g.Alpha, Beta = g.Beta, A = P(g.A), B = P(g.B), C = P(g.C), Bias = g.Bias is null ? null : P(g.Bias), Activation = g.Activation,
        ActivationOutput = g.ActivationOutput is null ? null : P(g.ActivationOutput),
    };

    /// <inheritdoc/>
    protected override void ActivationForwardCore(Activation activation, Tensor x, Tensor y) => ActivationCpu.Forward(activation, P(x), P(y), x.Length);
    /// <inheritdoc/>
    protected override void ActivationBackwardCore(Activation activation, Tensor y, Tensor dy, Tensor dx)
    {
        if (activation != Activation.Identity && SplitsOverPool(y.Length))
            elementwise.Run(pool!, activation == Activation.Relu ? ElementwiseSlices.Op.ReluBackward : ElementwiseSlices.Op.TanhBackward, P(dx), P(y), P(dy), y.Length, 0f);
        else ActivationCpu.Backward(activation, P(y), P(dy), P(dx), y.Length);
    }
    /// <inheritdoc/>
    protected override void LayerNormForwardCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor rstd, float epsilon, int groups,
        Activation activation)
    {
        // Rows are independent: a large LayerNorm is split over the pool by rows (same bits).
        if (SplitsOverPool(x.Length) && x.Rows >= pool!.ThreadCount)
            layerNormParts.RunForward(pool, x.Rows, x.Cols, x.Rows / groups, P(x), P(gamma), P(beta), P(y), P(mean), P(rstd), epsilon, activation);
        else LayerNormCpu.Forward(x.Rows, x.Cols, groups, P(x), P(gamma), P(beta), P(y), P(mean), P(rstd), epsilon, activation);
    }
    /// <inheritdoc/>
    protected override void LayerNormBackwardCore(Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, Tensor dgamma, Tensor dbeta, int groups)
    {
        // dγ, dβ sum over a group's rows in order, so the split is by whole groups (an ensemble's members): same bits.
        if (SplitsOverPool(x.Length) && groups % pool!.ThreadCount == 0)
            layerNormParts.RunBackward(pool, x.Rows, x.Cols, x.Rows / groups, groups, P(x), P(dy), P(gamma), P(mean), P(rstd), P(dx), P(dgamma), P(dbeta));
        else LayerNormCpu.Backward(x.Rows, x.Cols, groups, P(x), P(dy), P(gamma), P(mean), P(rstd), P(dx), P(dgamma), P(dbeta));
    }

    readonly LayerNormParts layerNormParts = new();

    /// <summary>
    /// LayerNorm split over the pool: the forward by contiguous row ranges, the backward by whole groups. One caller at
    /// a time (the backend's ops run on its calling thread).
    /// </summary>
    sealed class LayerNormParts : IParallelWork
    {
        bool backward;
        int rows, cols, rowsPerGroup, groups;
        float* x, dy, gamma, beta, y, mean, rstd, dx, dgamma, dbeta;
        float epsilon;
        Activation activation;

        public void RunForward(WorkerPool pool, int rows, int cols, int rowsPerGroup, float* x, float* gamma, float* beta, float* y,
            float* mean, float* rstd, float epsilon, Activation activation)
        {
            (backward, this.rows, this.cols, this.rowsPerGroup) = (false, rows, cols, rowsPerGroup);
            this.x = x; this.gamma = gamma; this.beta = beta; this.y = y; this.mean = mean; this.rstd = rstd;
            this.epsilon = epsilon; this.activation = activation;
            pool.Run(this, pool.ThreadCount);
        }

        public void RunBackward(WorkerPool pool, int rows, int cols, int rowsPerGroup, int groups, float* x, float* dy, float* gamma,
            float* mean, float* rstd, float* dx, float* dgamma, float* dbeta)
        {
            (backward, this.rows, this.cols, this.rowsPerGroup, this.groups) = (true, rows, cols, rowsPerGroup, groups);
            this.x = x; this.dy = dy; this.gamma = gamma; this.mean = mean; this.rstd = rstd;
            this.dx = dx; this.dgamma = dgamma; this.dbeta = dbeta;
            pool.Run(this, pool.ThreadCount);
        }

        public void Execute(int part, int partCount)
        {
            if (backward)
            {
                int groupsPerPart = groups / partCount;
                int first = part * groupsPerPart * rowsPerGroup, end = first + groupsPerPart * rowsPerGroup;
                LayerNormCpu.BackwardRows(first, end, rowsPerGroup, cols, x, dy, gamma, mean, rstd, dx, dgamma, dbeta);
            }
            else
            {
                int first = (int)((long)rows * part / partCount), end = (int)((long)rows * (part + 1) / partCount);
                LayerNormCpu.ForwardRows(first, end, rowsPerGroup, cols, x, gamma, beta, y, mean, rstd, epsilon, activation);
            }
        }
    }
    /// <inheritdoc/>
    protected override void UnaryCore(UnaryOp op, Tensor x, Tensor y, float a, float b) => ElementwiseCpu.Unary(op, P(x), P(y), x.Length, a, b);
    /// <inheritdoc/>
    protected override void BinaryCore(BinaryOp op, Tensor x, Tensor y, Tensor z, float alpha, float beta, Broadcast broadcast) =>
        ElementwiseCpu.Binary(op, P(x), P(y), P(z), x.Rows, x.Cols, alpha, beta, broadcast);
    /// <inheritdoc/>
    protected override void SelectCore(Tensor condition, Tensor x, Tensor y, Tensor z) => ElementwiseCpu.Select(P(condition), P(x), P(y), P(z), x.Length);
    /// <inheritdoc/>
    protected override void CopyColumnsCore(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int columnCount) =>
        ElementwiseCpu.CopyColumns(source.Rows, P(source), source.Cols, sourceColumn, P(destination), destination.Cols, destinationColumn, columnCount);
    /// <inheritdoc/>
    protected override void ConcatColumnsCore(Tensor left, Tensor right, Tensor destination)
    {
        ElementwiseCpu.CopyColumns(left.Rows, P(left), left.Cols, 0, P(destination), destination.Cols, 0, left.Cols);
        ElementwiseCpu.CopyColumns(right.Rows, P(right), right.Cols, 0, P(destination), destination.Cols, left.Cols, right.Cols);
    }
    /// <inheritdoc/>
    protected override void RowSumCore(Tensor x, Tensor y, float alpha, float beta) => ReduceCpu.RowSum(x.Rows, x.Cols, P(x), P(y), alpha, beta);
    /// <inheritdoc/>
    protected override void ColumnSumCore(Tensor x, Tensor y, float alpha, float beta, int batch) =>
        ReduceCpu.ColumnSum(batch, x.Rows / batch, x.Cols, P(x), P(y), alpha, beta);
    /// <inheritdoc/>
    protected override void SumCore(Tensor x, Tensor y, float alpha) => *P(y) = ReduceCpu.Sum(P(x), x.Length, alpha);
    /// <inheritdoc/>
    protected override void EnsembleMinCore(Tensor x, Tensor y, Tensor argMin, int members) => ReduceCpu.EnsembleMin(members, y.Length, P(x), P(y), P(argMin));
    /// <inheritdoc/>
    protected override void EnsembleMinBackwardCore(Tensor argMin, Tensor dy, Tensor dx, int members) => ReduceCpu.EnsembleMinBackward(members, dy.Length, P(argMin), P(dy), P(dx));
    /// <inheritdoc/>
    protected override void MseLossCore(Tensor prediction, Tensor target, Tensor gradient, Tensor loss, float scale) =>
        *P(loss) = LossCpu.Mse(P(prediction), P(target), P(gradient), prediction.Length, scale);
    /// <inheritdoc/>
    protected override void ExpectileLossCore(Tensor prediction, Tensor target, float tau, Tensor gradient, Tensor loss) =>
        *P(loss) = LossCpu.Expectile(P(prediction), P(target), tau, P(gradient), prediction.Length);
    /// <inheritdoc/>
    protected override void SoftActorLossCore(Tensor q, Tensor logProb, Tensor alpha, Tensor qGradient, Tensor logProbGradient, Tensor loss, int critics,
        Tensor? logAlpha, float targetEntropy, Tensor? logAlphaGradient, Tensor? alphaLoss)
    {
        *P(loss) = SacLossCpu.ActorLoss(critics, logProb.Length, P(q), P(logProb), *P(alpha), P(qGradient), P(logProbGradient), out float meanLogProb);
        if (logAlpha is not null)
            *P(logAlphaGradient!) = SacLossReference.TemperatureGradient(meanLogProb, targetEntropy, *P(logAlpha), out *P(alphaLoss!));
    }
    /// <inheritdoc/>
    protected override void SoftTdLossCore(Tensor q, Tensor nextQ, Tensor? nextLogProb, Tensor alpha, Tensor? nextCost, Tensor rewards, Tensor terminals,
        float gamma, Tensor gradient, Tensor loss, Tensor meanQ, Tensor? target, int critics, int nextCritics)
    {
        *P(loss) = SacLossCpu.TdLoss(critics, nextCritics, rewards.Length, P(q), P(nextQ), P(nextLogProb, null), *P(alpha), P(nextCost, null),
            P(rewards), P(terminals), gamma, P(gradient), P(target, null), out float mean);
        *P(meanQ) = mean;
    }
    /// <inheritdoc/>
    protected override void TanhGaussianSampleCore(Tensor head, Tensor noise, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, Tensor action, Tensor stdNoise, Tensor logProb) =>
        TanhGaussianCpu.Sample(action.Rows, action.Cols, P(head), P(noise), P(logStdMultiplier), P(logStdOffset), minLogStd, maxLogStd, P(action), P(stdNoise), P(logProb));
    /// <inheritdoc/>
    protected override void TanhGaussianSampleBackwardCore(Tensor head, Tensor logStdMultiplier, Tensor logStdOffset, float minLogStd, float maxLogStd,
        Tensor action, Tensor stdNoise, Tensor? actionGradient, Tensor? logProbGradient, Tensor? preImageGradient,
        Tensor headGradient, Tensor logStdMultiplierGradient, Tensor logStdOffsetGradient) =>
        TanhGaussianCpu.SampleBackward(action.Rows, action.Cols, P(head), P(logStdMultiplier), P(logStdOffset), minLogStd, maxLogStd, P(action), P(stdNoise),
            P(actionGradient, null), P(logProbGradient, null), P(headGradient), P(logStdMultiplierGradient), P(logStdOffsetGradient), P(preImageGradient, null));
    /// <inheritdoc/>
    protected override void TanhGaussianLogProbCore(Tensor head, Tensor action, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, float actionBound, Tensor logProb, Tensor saved, bool givenIsPreImage) =>
        TanhGaussianCpu.LogProb(action.Rows, action.Cols, P(head), P(action), P(logStdMultiplier), P(logStdOffset), minLogStd, maxLogStd, actionBound, P(logProb), P(saved),
            givenIsPreImage);
    /// <inheritdoc/>
    protected override void TanhGaussianLogProbBackwardCore(Tensor head, Tensor logStdMultiplier, Tensor logStdOffset, float minLogStd, float maxLogStd,
        Tensor saved, Tensor logProbGradient, Tensor actionGradient, Tensor? headGradient, Tensor? logStdMultiplierGradient, Tensor? logStdOffsetGradient) =>
        TanhGaussianCpu.LogProbBackward(actionGradient.Rows, actionGradient.Cols, P(head), P(logStdMultiplier), P(logStdOffset), minLogStd, maxLogStd,
            P(saved), P(logProbGradient), P(actionGradient), P(headGradient, null), P(logStdMultiplierGradient, null), P(logStdOffsetGradient, null));
    /// <inheritdoc/>
    protected override void AdamCore(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2)
    {
        // Adam is elementwise: splitting a large buffer over the pool changes no result, only the time.
        if (pool is not null && parameters.Length >= ParallelElementwiseThreshold)
            parallelAdam.Step(pool, P(parameters), P(gradients), P(firstMoment), P(secondMoment), parameters.Length, stepSize, beta1, beta2, epsilon, rootBiasCorrection2);
        else
            AdamCpu.Step(P(parameters), P(gradients), P(firstMoment), P(secondMoment), parameters.Length, stepSize, beta1, beta2, epsilon, rootBiasCorrection2);
    }

    /// <summary>Elementwise ops on at least this many elements are split over the pool (measured: Adam on 70k
    /// parameters 50 → ~25 µs with 2 threads; below ~16k the wake-up costs more than it saves).</summary>
    const int ParallelElementwiseThreshold = 16_384;
    readonly AdamCpu.ParallelAdam parallelAdam = new();
    readonly ElementwiseSlices elementwise = new();

    /// <summary>Whether large fills, Polyak updates, activation backwards and LayerNorms are split over the pool (benchmarks flip it; results are identical either way).</summary>
    public static bool SplitElementwise { get; set; } = true;

    bool SplitsOverPool(int length) => pool is not null && SplitElementwise && length >= ParallelElementwiseThreshold;

    /// <summary>
    /// A memory-bound elementwise op split over the pool in fixed slices whose boundaries are multiples of 64 elements,
    /// so each element takes the same vector or scalar path as in the single-threaded kernel (identical results).
    /// One caller at a time (the backend's ops run on its calling thread).
    /// </summary>
    sealed class ElementwiseSlices : IParallelWork
    {
        public enum Op { Fill, ReluBackward, TanhBackward, Polyak }

        Op op;
        float* output, first, second;
        int length;
        float scalar;

        /// <summary>Fill: output ← scalar. Relu/TanhBackward: output (dx) ← second (dy) ⊙ act′(first (y)). Polyak: output ← (1 − τ)·output + τ·first.</summary>
        public void Run(WorkerPool pool, Op op, float* output, float* first, float* second, int length, float scalar)
        {
            this.op = op; this.output = output; this.first = first; this.second = second; this.length = length; this.scalar = scalar;
            pool.Run(this, pool.ThreadCount);
        }

        public void Execute(int part, int partCount)
        {
            int chunk = (length / partCount + 63) & ~63;
            int start = Math.Min(length, part * chunk), end = part == partCount - 1 ? length : Math.Min(length, start + chunk);
            int count = end - start;
            if (count <= 0) return;
            switch (op)
            {
                case Op.Fill: new Span<float>(output + start, count).Fill(scalar); break;
                case Op.ReluBackward: ActivationCpu.Backward(Activation.Relu, first + start, second + start, output + start, count); break;
                case Op.TanhBackward: ActivationCpu.Backward(Activation.Tanh, first + start, second + start, output + start, count); break;
                default: PolyakCpu.Update(output + start, first + start, count, scalar); break;
            }
        }
    }
    /// <inheritdoc/>
    protected override void PolyakCore(Tensor target, Tensor source, float tau)
    {
        if (SplitsOverPool(target.Length)) elementwise.Run(pool!, ElementwiseSlices.Op.Polyak, P(target), P(source), null, target.Length, tau);
        else PolyakCpu.Update(P(target), P(source), target.Length, tau);
    }
    /// <inheritdoc/>
    protected override void ClipGradientNormCore(Tensor gradients, float maxNorm, Tensor norm) => *P(norm) = GradNormCpu.Clip(P(gradients), gradients.Length, maxNorm);
    /// <inheritdoc/>
    protected override void GatherRowsCore(Tensor source, IndexTensor indices, Tensor destination) =>
        GatherCpu.Rows(P(source), source.Rows, source.Cols, P(indices), indices.Length, P(destination));
    /// <inheritdoc/>
    protected override void RandomUniformCore(Tensor x, ulong seed, ulong counter, float low, float high) => RandomCpu.Uniform(P(x), x.Length, seed, counter, low, high);
    /// <inheritdoc/>
    protected override void RandomNormalCore(Tensor x, ulong seed, ulong counter, float mean, float std) => RandomCpu.Normal(P(x), x.Length, seed, counter, mean, std);
    /// <inheritdoc/>
    protected override void RandomIndicesCore(IndexTensor indices, ulong seed, ulong counter, int count, int offset) => RandomCpu.Indices(P(indices), indices.Length, seed, counter, count, offset);
}
