using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace O2RL.Kernels;

/// <summary>
/// Managed SIMD GEMM for the CPU backend: C ← act(α·op(A)·op(B) + β·C + bias), all row-major float32, with
/// the same semantics as <see cref="GemmReference"/>.
/// <para>
/// How it works (the BLIS recipe, trimmed to our shapes): op(B) is packed into 16-column panels (transposes
/// are absorbed by the packing), A is read in place six rows at a time (a ragged last strip, and strips of a
/// transposed A, are first copied into a small buffer), and a 6×16 register-blocked FMA micro-kernel keeps
/// the 6×16 block of C in twelve 256-bit accumulators. The epilogue (α, β·C, bias, activation) is applied
/// on the single store of the last K block; the common ones (α = 1, β ∈ {0, 1}, bias, ReLU) straight from
/// the registers. K is blocked at 256 (a packed panel stays in L1), N so that the packed B stays in L2.
/// </para>
/// <para>
/// The backward epilogue: given the output Y of an activation (same shape as C), the store applies that
/// activation's backward instead, C ← (α·op(A)·op(B) + β·C) ⊙ act′(Y). A layer's input gradient δz·W is then
/// already the previous layer's pre-activation gradient, without a separate pass over three [B, hidden] arrays.
/// </para>
/// <para>
/// Ragged shapes: a last panel of ≤ 8 columns runs a 6×8 kernel, ≤ 4 leftover columns after full panels are
/// matrix–vector products, a narrow C (n = 6) is computed as Cᵀ when that tiles better, and GEMMs with one
/// output row or column are matrix–vector products throughout.
/// </para>
/// <para>
/// Threads split the output into contiguous ranges of whole column panels (or whole row strips for tall,
/// narrow outputs). Every element of C is computed by the same sequence of operations whichever thread owns
/// it (the path taken depends on the shape only), so results are bit-identical for any thread count, run to
/// run.
/// </para>
/// </summary>
public static unsafe class GemmCpu
{
    /// <summary>Rows of C per micro-kernel tile.</summary>
    internal const int TileRows = 6;
    /// <summary>Columns of C per micro-kernel tile (two 256-bit vectors).</summary>
    internal const int TileColumns = 16;
    /// <summary>K up to this length is done in one block (avoids a tiny trailing block for K = 257 … 384).</summary>
    const int SingleKBlockMax = 384;
    /// <summary>K block length when K is longer than <see cref="SingleKBlockMax"/>.</summary>
    const int KBlock = 256;
    /// <summary>Floats in each thread's packed-B buffer (256 KiB, half of a Zen L2).</summary>
    const int PackedBFloats = 64 * 1024;
    /// <summary>
    /// Below this m·n·k (40³) a GEMM runs on the calling thread: handing a part to a worker costs about a
    /// microsecond even when it is spinning, as much as such a GEMM takes. Measured on the 2-core Zen machines.
    /// </summary>
    internal const long ParallelThreshold = 64 * 1000;
    /// <summary>Up to this K a multi-threaded GEMM splits C by row strips even when it has many column panels.</summary>
    internal const int ShortK = 48;

    /// <summary>Which micro-kernel runs the tiles.</summary>
    internal enum Kernel
    {
        /// <summary>Vector128 arithmetic only: runs wherever .NET runs (SSE, NEON, or software).</summary>
        Portable = 0,
        /// <summary>AVX2 + FMA3, 256-bit accumulators (x64 from Haswell / Zen 1 on).</summary>
        Avx2Fma = 1,
    }

    /// <summary>The fastest micro-kernel this machine supports.</summary>
    internal static Kernel BestKernel => Fma.IsSupported && Avx2.IsSupported ? Kernel.Avx2Fma : Kernel.Portable;

    /// <summary>
    /// C ← act(α·op(A)·op(B) + β·C + bias). A: [m, k] row-major ([k, m] when <paramref name="transposeA"/>);
    /// B: [k, n] ([n, k] when <paramref name="transposeB"/>); C: [m, n]; bias: [n] or null. With β = 0, C is
    /// write-only (whatever it holds, NaN included, is ignored); C must not overlap A, B or bias. Runs on
    /// <paramref name="pool"/> when the GEMM is large enough to pay for it (null = calling thread only). When
    /// <paramref name="activationOutput"/> is not null, the backward epilogue instead: C ← (α·op(A)·op(B) + β·C) ⊙ act′(Y)
    /// with Y = activationOutput ([m, n] like C, not overlapping it), act ReLU or Tanh, and no bias.
    /// </summary>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, float* a, float* b,
        float beta, float* c, float* bias, Activation activation, WorkerPool? pool, float* activationOutput = null)
    {
        Validate(m, n, k, a, b, c, bias, activation, activationOutput);
        Run(BestKernel, transposeA, transposeB, m, n, k, alpha, a, b, beta, c, bias, activation, activationOutput, pool);
    }

    /// <summary>
    /// <paramref name="batch"/> independent GEMMs: for g in 0 … batch − 1,
    /// C_g ← act(α·op(A_g)·op(B_g) + β·C_g + bias_g) with X_g = x + g·strideX. A stride of 0 shares that
    /// operand across the batch (e.g. one input for every network of an ensemble); bias may be null. An
    /// <paramref name="activationOutput"/> (the backward epilogue of <see cref="Gemm"/>) is laid out like C, Y_g = y + g·strideC.
    /// </summary>
    public static void GemmBatched(int batch, bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, long strideA, float* b, long strideB, float beta, float* c, long strideC,
        float* bias, long strideBias, Activation activation, WorkerPool? pool, float* activationOutput = null)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "the batch count must not be negative");
        if (strideA < 0 || strideB < 0 || strideC < 0 || strideBias < 0)
            throw new ArgumentException($"strides must not be negative (A {strideA}, B {strideB}, C {strideC}, bias {strideBias})");
        if (batch > 1 && strideC < (long)m * n)
            throw new ArgumentException($"strideC is {strideC} but each C holds {m}×{n} = {(long)m * n} values; the outputs would overlap", nameof(strideC));
        Validate(m, n, k, a, b, c, bias, activation, activationOutput);
        Kernel kernel = BestKernel;
        int threads = pool?.ThreadCount ?? 1;
        if (threads > 1 && batch >= threads && batch % threads == 0 && (long)batch * m * n * k >= ParallelThreshold)
        {
            // An ensemble (the twin critics) with a member count the threads divide: each thread computes whole
            // members on its own, one hand-off per batch instead of one per member. Measured on the 2-core Zen VM,
            // 2 threads: the critics' K = 23 layer (2×256×256×23) 45–70 µs instead of 84–190, its input gradient
            // 49–59 µs instead of 79–83; the 256³ members about level. A member's result does not depend on
            // which thread computes it.
            BatchWork work = BatchWork.ForCurrentThread();
            work.Problem = new Problem
            {
                TransposeA = transposeA, TransposeB = transposeB, M = m, N = n, K = k, Alpha = alpha, Beta = beta,
                A = a, B = b, C = c, Bias = bias, Activation = activation, ActivationOutput = activationOutput, Kernel = kernel,
            };
            work.StrideA = strideA; work.StrideB = strideB; work.StrideC = strideC; work.StrideBias = strideBias;
            try
            {
                pool!.Run(work, batch);
            }
            finally
            {
                work.Problem = default;
            }
            return;
        }
        for (int g = 0; g < batch; g++)
        {
            Run(kernel, transposeA, transposeB, m, n, k, alpha, a + g * strideA, b + g * strideB, beta, c + g * strideC,
                bias == null ? null : bias + g * strideBias, activation, activationOutput == null ? null : activationOutput + g * strideC, pool);
        }
    }

    /// <summary>
    /// Two independent GEMMs (neither writes what the other reads), each with <see cref="Gemm"/>'s semantics and
    /// results. When both are large and of similar size they run side by side, one per thread, each on its own
    /// (measured on the 2-core Zen VM, the 256³ weight- and input-gradient GEMMs of a layer's backward: 388–397 µs
    /// side by side against 419–428 µs one after the other on both threads; one thread keeps a GEMM at 90 % of peak,
    /// two threads on one 256³ GEMM reach about 80 %). Otherwise they run one after the other on the pool.
    /// </summary>
    public static void GemmPair(in GemmCall first, in GemmCall second, WorkerPool? pool)
    {
        first.Validate();
        second.Validate();
        if (pool is null || pool.ThreadCount < 2 || !PairsSideBySide || !WorthRunningSideBySide(first.Work, second.Work))
        {
            Run(first, pool);
            Run(second, pool);
            return;
        }
        PairWork work = PairWork.ForCurrentThread();
        work.First = first;
        work.Second = second;
        try
        {
            pool.Run(work, 2);
        }
        finally
        {
            work.First = default;
            work.Second = default;
        }
    }

    /// <summary>
    /// Whether <see cref="GemmPair"/> may run a pair side by side (default true; the environment variable
    /// <c>O2RL_GEMM_PAIRS=sequential</c> turns it off). Either way the results are the same bit for bit; benchmarks
    /// flip it to time both.
    /// </summary>
    public static bool PairsSideBySide { get; set; } =
        !string.Equals(Environment.GetEnvironmentVariable("O2RL_GEMM_PAIRS"), "sequential", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Whether a multi-threaded GEMM with K ≤ <see cref="ShortK"/> splits C by row strips (default true). Either way
    /// the results are the same bit for bit; benchmarks flip it to time both.
    /// </summary>
    public static bool ShortKByRowStrips { get; set; } = true;

    /// <summary>
    /// Side by side pays when each GEMM alone is worth splitting and the smaller has at least 3/4 of the larger's
    /// work (else the thread with the larger one finishes last, later than a split of each would).
    /// </summary>
    internal static bool WorthRunningSideBySide(long firstWork, long secondWork) =>
        Math.Min(firstWork, secondWork) >= ParallelThreshold && 4 * Math.Min(firstWork, secondWork) >= 3 * Math.Max(firstWork, secondWork);

    /// <summary>The cached work object for side-by-side pairs started by one calling thread.</summary>
    sealed class PairWork : IParallelWork
    {
        [ThreadStatic] static PairWork? ofCurrentThread;

        public GemmCall First, Second;

        public static PairWork ForCurrentThread() => ofCurrentThread ??= new PairWork();

        /// <summary>Part 0 computes the first GEMM, part 1 the second, each on the thread that runs the part.</summary>
        public void Execute(int part, int partCount)
        {
            Run(part == 0 ? First : Second, pool: null);
        }
    }

    static void Run(in GemmCall g, WorkerPool? pool) =>
        Run(BestKernel, g.TransposeA, g.TransposeB, g.M, g.N, g.K, g.Alpha, g.A, g.B, g.Beta, g.C, g.Bias, g.Activation, g.ActivationOutput, pool);

    /// <summary>Same as <see cref="Gemm"/> with a chosen micro-kernel (tests run every kernel the machine has).</summary>
    internal static void GemmWithKernel(Kernel kernel, bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, float* b, float beta, float* c, float* bias, Activation activation, WorkerPool? pool, float* activationOutput = null)
    {
        Validate(m, n, k, a, b, c, bias, activation, activationOutput);
        if (kernel == Kernel.Avx2Fma && !(Fma.IsSupported && Avx2.IsSupported))
            throw new PlatformNotSupportedException("the AVX2+FMA GEMM kernel needs a CPU with AVX2 and FMA3");
        Run(kernel, transposeA, transposeB, m, n, k, alpha, a, b, beta, c, bias, activation, activationOutput, pool);
    }

    internal static void ValidateCall(in GemmCall g) => Validate(g.M, g.N, g.K, g.A, g.B, g.C, g.Bias, g.Activation, g.ActivationOutput);

    static void Validate(int m, int n, int k, float* a, float* b, float* c, float* bias, Activation activation, float* activationOutput)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"GEMM sizes must not be negative (m = {m}, n = {n}, k = {k})");
        if ((uint)activation > (uint)Activation.Tanh)
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation");
        if (activationOutput != null)
        {
            if (activation == Activation.Identity)
                throw new ArgumentException("the backward epilogue needs the activation whose derivative it applies (ReLU or Tanh), not Identity", nameof(activation));
            if (bias != null)
                throw new ArgumentException("the backward epilogue (an activation output given) takes no bias", nameof(bias));
        }
        if (m > 0 && n > 0)
        {
            if (c == null) throw new ArgumentNullException(nameof(c), $"C is null but the output is {m}×{n}");
            if (k > 0 && (a == null || b == null))
                throw new ArgumentNullException(a == null ? nameof(a) : nameof(b), $"an operand is null but m = {m}, n = {n}, k = {k}");
        }
    }

    static void Run(Kernel kernel, bool transposeA, bool transposeB, int m, int n, int k, float alpha, float* a, float* b,
        float beta, float* c, float* bias, Activation activation, float* activationOutput, WorkerPool? pool)
    {
        if (m == 0 || n == 0) return;

        if (kernel == Kernel.Avx2Fma && (m == 1 || n == 1))
        {
            // The vector is tiny next to the product: a backward epilogue is a pass over the stored values.
            RunMatrixVector(transposeA, transposeB, m, n, k, alpha, a, b, beta, c, bias, activationOutput == null ? activation : Activation.Identity);
            if (activationOutput != null) MultiplyByDerivative(activation, c, activationOutput, 1, m * n);
            return;
        }

        var problem = new Problem
        {
            TransposeA = transposeA, TransposeB = transposeB, M = m, N = n, K = k, Alpha = alpha, Beta = beta,
            A = a, B = b, C = c, Bias = bias, Activation = activation, ActivationOutput = activationOutput, Kernel = kernel,
        };
        // A narrow C (n = 6: one mostly empty panel) wastes up to half the micro-kernel's work; computing
        // Cᵀ = op(B)ᵀ·op(A)ᵀ instead tiles it tightly. Its tiles are stored transposed, element by element,
        // which only pays when K is long enough to hide that (measured: 256×6×256 takes 20 µs instead of 25).
        if (k >= 32 && 5 * PaddedWork(n, m) < 4 * PaddedWork(m, n))
        {
            problem.TransposeA = !transposeB;
            problem.TransposeB = !transposeA;
            problem.M = n;
            problem.N = m;
            problem.A = b;
            problem.B = a;
            problem.TransposedOutput = true;
            (m, n) = (n, m);
        }
        int strips = (m + TileRows - 1) / TileRows;
        int panels = (n + TileColumns - 1) / TileColumns;
        int threads = pool is null || (long)m * n * k < ParallelThreshold ? 1 : pool.ThreadCount;
        if (threads == 1)
        {
            RunTiles(in problem, 0, strips, 0, panels);
            return;
        }

        bool splitPanels = SplitsByPanels(strips, panels, k, threads);
        int units = splitPanels ? panels : strips;
        int parts = Math.Min(threads, units);
        GemmWork work = GemmWork.ForCurrentThread();
        work.Problem = problem;
        work.SplitPanels = splitPanels;
        work.Strips = strips;
        work.Panels = panels;
        try
        {
            pool!.Run(work, parts);
        }
        finally
        {
            work.Problem = default;
        }
    }

    /// <summary>
    /// Whether a GEMM of <paramref name="strips"/> row strips and <paramref name="panels"/> column panels is split
    /// over <paramref name="threads"/> threads by whole column panels (each thread then packs only its own part of
    /// B) rather than by whole row strips (each thread packs all of B, which is then narrow). With a short K the
    /// work is mostly storing C, and row strips give each thread one contiguous block of C instead of a part of
    /// every row; packing all of B is cheap then. Measured on the 2-core Zen 4 VM, 2 threads: 256×256×17 with
    /// bias and ReLU 16.7 µs by strips against 25.3 by panels (one thread: 27 µs), the ReLU-masked outer product
    /// 256×256×1 of a one-output head's backward 7.4 against 23.1 (one thread: 11), level from K = 48 on, and
    /// panels 3 % ahead at K = 256.
    /// </summary>
    internal static bool SplitsByPanels(int strips, int panels, int k, int threads) =>
        (panels >= 2 * threads || panels >= strips) && !(ShortKByRowStrips && k <= ShortK && strips >= 2 * threads);

    /// <summary>
    /// Micro-kernel work for an m×n output, counting padded rows and columns: a ≤ 8-column last panel runs the
    /// 6×8 kernel at about 3/4 of its rate, so it costs like 11 columns; up to 4 leftover columns after full
    /// panels are matrix–vector products at roughly half the kernel's rate (measured).
    /// </summary>
    static long PaddedWork(int m, int n)
    {
        int remainder = n % TileColumns;
        long leftover = remainder == 0 ? 0
            : remainder <= 4 && n > TileColumns ? 2 * remainder
            : remainder <= TileColumns / 2 ? 11 : TileColumns;
        long columns = n - remainder + leftover;
        return (long)((m + TileRows - 1) / TileRows) * TileRows * columns;
    }

    /// <summary>
    /// Everything a thread needs to compute its part of C. With <see cref="TransposedOutput"/> the operands
    /// describe Cᵀ (M and N swapped, bias indexed by row) and C is still the caller's row-major [N, M] matrix.
    /// </summary>
    struct Problem
    {
        public bool TransposeA, TransposeB, TransposedOutput;
        public int M, N, K;
        public float Alpha, Beta;
        public float* A, B, C, Bias;
        public Activation Activation;
        /// <summary>Y of the backward epilogue, laid out like the caller's C (null: the forward epilogue).</summary>
        public float* ActivationOutput;
        public Kernel Kernel;
    }

    /// <summary>The cached work object for pool runs started by one calling thread (no allocation per call).</summary>
    sealed class GemmWork : IParallelWork
    {
        [ThreadStatic] static GemmWork? ofCurrentThread;

        public Problem Problem;
        public bool SplitPanels;
        public int Strips, Panels;

        public static GemmWork ForCurrentThread() => ofCurrentThread ??= new GemmWork();

        public void Execute(int part, int partCount)
        {
            if (SplitPanels)
            {
                RunTiles(in Problem, 0, Strips, Share(Panels, part, partCount), Share(Panels, part + 1, partCount));
            }
            else
            {
                RunTiles(in Problem, Share(Strips, part, partCount), Share(Strips, part + 1, partCount), 0, Panels);
            }
        }

        static int Share(int total, int part, int partCount) => (int)((long)total * part / partCount);
    }

    /// <summary>The cached work object for member-per-part batched runs started by one calling thread.</summary>
    sealed class BatchWork : IParallelWork
    {
        [ThreadStatic] static BatchWork? ofCurrentThread;

        public Problem Problem;
        public long StrideA, StrideB, StrideC, StrideBias;

        public static BatchWork ForCurrentThread() => ofCurrentThread ??= new BatchWork();

        /// <summary>Part g computes member g on the calling thread.</summary>
        public void Execute(int part, int partCount)
        {
            ref readonly Problem p = ref Problem;
            Run(p.Kernel, p.TransposeA, p.TransposeB, p.M, p.N, p.K, p.Alpha, p.A + part * StrideA, p.B + part * StrideB, p.Beta,
                p.C + part * StrideC, p.Bias == null ? null : p.Bias + part * StrideBias, p.Activation,
                p.ActivationOutput == null ? null : p.ActivationOutput + part * StrideC, pool: null);
        }
    }

    /// <summary>Per-thread packing buffer for B (pinned, 64-byte aligned, allocated once per thread).</summary>
    static class PackBuffer
    {
        [ThreadStatic] static float[]? storage;

        public static float* Get()
        {
            storage ??= GC.AllocateUninitializedArray<float>(PackedBFloats + 16, pinned: true);
            float* start = (float*)Unsafe.AsPointer(ref storage[0]);
            return (float*)(((nint)start + 63) & ~(nint)63);
        }
    }

    /// <summary>
    /// Computes the row strips [stripBegin, stripEnd) × column panels [panelBegin, panelEnd) of C (a strip is 6
    /// rows, a panel 16 columns), looping over K blocks, packing each block of B once.
    /// </summary>
    static void RunTiles(in Problem p, int stripBegin, int stripEnd, int panelBegin, int panelEnd)
    {
        if (stripBegin >= stripEnd || panelBegin >= panelEnd) return;
        int m = p.M, n = p.N, k = p.K;
        int kBlock = k <= SingleKBlockMax ? Math.Max(k, 1) : KBlock;
        int panelsPerBlock = Math.Max(1, PackedBFloats / (kBlock * TileColumns));

        // A element (i, q) lives at a[i·rowStride + q·columnStride]; transposes are just other strides.
        nint rowStride = p.TransposeA ? 1 : k;
        nint columnStride = p.TransposeA ? m : 1;

        float* packedB = PackBuffer.Get();
        // +2: the fast copy in PackAStrip writes two floats past the last row it fills.
        float* packedA = stackalloc float[TileRows * kBlock + 2];
        float* tile = stackalloc float[TileRows * TileColumns];

        // A last panel with at most 4 columns would waste ≥ 3/4 of the micro-kernel; those columns are
        // matrix–vector products instead (done by whoever owns that panel, after its tiles).
        int panels = (n + TileColumns - 1) / TileColumns;
        int leftoverColumns = n % TileColumns;
        bool leftoverAsVectors = p.Kernel == Kernel.Avx2Fma && n > TileColumns && leftoverColumns <= 4 && leftoverColumns > 0
            && (p.TransposeB || k <= PackedBFloats);
        if (leftoverAsVectors && panelEnd == panels) panelEnd--;
        else leftoverAsVectors = false;

        for (int panelBlock = panelBegin; panelBlock < panelEnd; panelBlock += panelsPerBlock)
        {
            int panelBlockEnd = Math.Min(panelEnd, panelBlock + panelsPerBlock);
            int columnBegin = panelBlock * TileColumns;
            int columnEnd = Math.Min(n, panelBlockEnd * TileColumns);
            int kBegin = 0;
            do
            {
                int kc = Math.Min(kBlock, k - kBegin);
                bool firstK = kBegin == 0;
                bool lastK = kBegin + kc >= k;
                PackB(p.TransposeB, p.B, n, k, kBegin, kc, columnBegin, columnEnd, packedB);

                var epilogue = new Epilogue
                {
                    Alpha = p.Alpha,
                    // Later K blocks add onto the partial sums already stored in C.
                    Beta = firstK ? p.Beta : 1f,
                    Activation = lastK ? p.Activation : Activation.Identity,
                };
                bool backward = lastK && p.ActivationOutput != null;

                // The common epilogues (α = 1, β ∈ {0, 1}, identity or ReLU) fit in the registers the micro-kernel
                // leaves free, so full tiles with them skip the trip through the tile buffer.
                bool simpleEpilogue = epilogue.Alpha == 1f && (epilogue.Beta == 0f || epilogue.Beta == 1f)
                    && epilogue.Activation != Activation.Tanh;

                for (int strip = stripBegin; strip < stripEnd; strip++)
                {
                    int rowBegin = strip * TileRows;
                    int rows = Math.Min(TileRows, m - rowBegin);
                    float* aStrip;
                    nint aRowStride, aColumnStride;
                    // A stored [k, m] (transposeA) is read one short run per row of A, m floats apart: those
                    // runs alias to a few L1 sets and thrash, so strips reused across panels are copied first.
                    bool copyStrip = p.TransposeA && panelBlockEnd - panelBlock > 1;
                    if (rows == TileRows && !copyStrip)
                    {
                        aStrip = p.A + rowBegin * rowStride + kBegin * columnStride;
                        aRowStride = rowStride;
                        aColumnStride = columnStride;
                    }
                    else
                    {
                        PackAStrip(p.A, rowStride, columnStride, rowBegin, rows, kBegin, kc, packedA);
                        aStrip = packedA;
                        aRowStride = 1;
                        aColumnStride = TileRows;
                    }

                    for (int panel = panelBlock; panel < panelBlockEnd; panel++)
                    {
                        int columnStart = panel * TileColumns;
                        int columns = Math.Min(TileColumns, n - columnStart);
                        float* bPanel = packedB + (nint)(panel - panelBlock) * kc * TileColumns;
                        if (p.TransposedOutput)
                        {
                            // Tile (rowBegin, columnStart) of Cᵀ is block (columnStart, rowBegin) of C, whose rows hold m values.
                            epilogue.Bias = lastK && p.Bias != null ? p.Bias + rowBegin : null;
                            epilogue.ActivationOutput = backward ? p.ActivationOutput + (nint)columnStart * m + rowBegin : null;
                            ComputeTile(p.Kernel, kc, aStrip, aRowStride, aColumnStride, bPanel, columns, tile);
                            StoreTileTransposed(tile, p.C + (nint)columnStart * m + rowBegin, m, rows, columns, in epilogue);
                            continue;
                        }
                        float* cTile = p.C + (nint)rowBegin * n + columnStart;
                        epilogue.Bias = lastK && p.Bias != null ? p.Bias + columnStart : null;
                        epilogue.ActivationOutput = backward ? p.ActivationOutput + (nint)rowBegin * n + columnStart : null;
                        bool fullTile = rows == TileRows && columns == TileColumns;
                        if (p.Kernel == Kernel.Avx2Fma && fullTile && simpleEpilogue)
                        {
                            MicroKernelAvx2Fused(kc, aStrip, aRowStride, aColumnStride, bPanel, cTile, n, epilogue.Bias,
                                accumulate: epilogue.Beta == 1f, relu: epilogue.Activation == Activation.Relu && !backward,
                                reluMask: backward ? epilogue.ActivationOutput : null);
                            continue;
                        }
                        ComputeTile(p.Kernel, kc, aStrip, aRowStride, aColumnStride, bPanel, columns, tile);
                        if (p.Kernel == Kernel.Avx2Fma && fullTile) StoreFullTileAvx(tile, cTile, n, in epilogue);
                        else StoreTile(tile, cTile, n, rows, columns, in epilogue);
                    }
                }
                kBegin += kc;
            } while (kBegin < k);
        }

        if (leftoverAsVectors)
        {
            int rowBegin = stripBegin * TileRows;
            int rows = Math.Min(m, stripEnd * TileRows) - rowBegin;
            for (int column = n - leftoverColumns; column < n; column++)
            {
                // Column j of op(B) is contiguous in B: [n, k]; gather it from B: [k, n].
                float* x = p.B + (nint)column * k;
                if (!p.TransposeB)
                {
                    for (int q = 0; q < k; q++) packedB[q] = p.B[(nint)q * n + column];
                    x = packedB;
                }
                // The backward epilogue of these few columns is a pass over the values just stored.
                Activation forward = p.ActivationOutput == null ? p.Activation : Activation.Identity;
                if (p.TransposedOutput)
                {
                    nint offset = (nint)column * m + rowBegin;
                    MatrixVector(rows, k, p.A + rowBegin * rowStride, rowStride, columnStride, x, p.Alpha, p.Beta,
                        p.C + offset, 1, p.Bias == null ? null : p.Bias + rowBegin, 1, forward);
                    if (p.ActivationOutput != null) MultiplyByDerivative(p.Activation, p.C + offset, p.ActivationOutput + offset, 1, rows);
                }
                else
                {
                    nint offset = (nint)rowBegin * n + column;
                    MatrixVector(rows, k, p.A + rowBegin * rowStride, rowStride, columnStride, x, p.Alpha, p.Beta,
                        p.C + offset, n, p.Bias == null ? null : p.Bias + column, 0, forward);
                    if (p.ActivationOutput != null) MultiplyByDerivative(p.Activation, p.C + offset, p.ActivationOutput + offset, n, rows);
                }
            }
        }
    }

    /// <summary>Runs the micro-kernel for one tile, leaving the raw sums in tile ([6, 16]).</summary>
    static void ComputeTile(Kernel kernel, int kc, float* a, nint rowStride, nint columnStride, float* bPanel, int columns, float* tile)
    {
        if (kernel == Kernel.Portable) MicroKernelPortable(kc, a, rowStride, columnStride, bPanel, tile);
        else if (columns <= TileColumns / 2) MicroKernelAvx2Narrow(kc, a, rowStride, columnStride, bPanel, tile);
        else MicroKernelAvx2(kc, a, rowStride, columnStride, bPanel, tile);
    }

    /// <summary>
    /// What the store of a tile applies: C ← act(α·acc + β·C + bias), or with <see cref="ActivationOutput"/> the
    /// backward C ← (α·acc + β·C) ⊙ act′(Y); β = 0 never reads C.
    /// </summary>
    struct Epilogue
    {
        public float Alpha, Beta;
        public float* Bias;
        public Activation Activation;
        /// <summary>Y at the tile's first element, with C's row stride (null: the forward epilogue).</summary>
        public float* ActivationOutput;
    }

    /// <summary>act′ applied through the activation's output y, exactly as <see cref="ActivationCpu.Backward"/> does it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float ApplyDerivative(Activation activation, float value, float y) =>
        activation == Activation.Relu ? (y > 0f ? value : 0f) : value * (1f - y * y);

    /// <summary>c[i·stride] ← c[i·stride] ⊙ act′(y[i·stride]) for i &lt; count.</summary>
    static void MultiplyByDerivative(Activation activation, float* c, float* y, nint stride, int count)
    {
        for (int i = 0; i < count; i++) c[i * stride] = ApplyDerivative(activation, c[i * stride], y[i * stride]);
    }

    /// <summary>
    /// Packs op(B)[kBegin .. kBegin+kc, columnBegin .. columnEnd) into 16-column panels: panel q holds
    /// kc rows of 16 consecutive floats, columns past n are zero (so ragged panels need no special kernel).
    /// </summary>
    static void PackB(bool transposeB, float* b, int n, int k, int kBegin, int kc, int columnBegin, int columnEnd, float* packed)
    {
        for (int column0 = columnBegin; column0 < columnEnd; column0 += TileColumns)
        {
            int columns = Math.Min(TileColumns, columnEnd - column0);
            if (!transposeB)
            {
                // B: [k, n]; each packed row is a contiguous run of a row of B.
                float* source = b + (nint)kBegin * n + column0;
                if (columns == TileColumns)
                {
                    for (int q = 0; q < kc; q++)
                    {
                        Vector128.Store(Vector128.Load(source), packed);
                        Vector128.Store(Vector128.Load(source + 4), packed + 4);
                        Vector128.Store(Vector128.Load(source + 8), packed + 8);
                        Vector128.Store(Vector128.Load(source + 12), packed + 12);
                        source += n;
                        packed += TileColumns;
                    }
                }
                else
                {
                    for (int q = 0; q < kc; q++)
                    {
                        int j = 0;
                        for (; j < columns; j++) packed[j] = source[j];
                        for (; j < TileColumns; j++) packed[j] = 0f;
                        source += n;
                        packed += TileColumns;
                    }
                }
            }
            else
            {
                // B: [n, k]; op(B) column j is row j of B, so packing is a transpose.
                float* source = b + (nint)column0 * k + kBegin;
                int q = 0;
                if (columns == TileColumns && Avx.IsSupported)
                {
                    for (; q + 8 <= kc; q += 8)
                    {
                        Transpose8x8(source + q, k, packed + q * TileColumns, TileColumns);
                        Transpose8x8(source + 8 * (nint)k + q, k, packed + q * TileColumns + 8, TileColumns);
                    }
                }
                for (; q < kc; q++)
                {
                    float* row = packed + q * TileColumns;
                    int j = 0;
                    for (; j < columns; j++) row[j] = source[(nint)j * k + q];
                    for (; j < TileColumns; j++) row[j] = 0f;
                }
                packed += kc * TileColumns;
            }
        }
    }

    /// <summary>Writes the transpose of the 8×8 block at source (row stride sourceStride) to destination.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(float* source, nint sourceStride, float* destination, nint destinationStride)
    {
        Vector256<float> r0 = Avx.LoadVector256(source);
        Vector256<float> r1 = Avx.LoadVector256(source + sourceStride);
        Vector256<float> r2 = Avx.LoadVector256(source + 2 * sourceStride);
        Vector256<float> r3 = Avx.LoadVector256(source + 3 * sourceStride);
        Vector256<float> r4 = Avx.LoadVector256(source + 4 * sourceStride);
        Vector256<float> r5 = Avx.LoadVector256(source + 5 * sourceStride);
        Vector256<float> r6 = Avx.LoadVector256(source + 6 * sourceStride);
        Vector256<float> r7 = Avx.LoadVector256(source + 7 * sourceStride);

        // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);

        Avx.Store(destination, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(destination + destinationStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(destination + 2 * destinationStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(destination + 3 * destinationStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(destination + 4 * destinationStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(destination + 5 * destinationStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(destination + 6 * destinationStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(destination + 7 * destinationStride, Avx.Permute2x128(s3, s7, 0x31));
    }

    /// <summary>
    /// Copies a strip of op(A) (rows ≤ 6 rows from rowBegin, K from kBegin) into [kc, 6] order, with zero rows
    /// below the matrix.
    /// </summary>
    static void PackAStrip(float* a, nint rowStride, nint columnStride, int rowBegin, int rows, int kBegin, int kc, float* packed)
    {
        float* source = a + rowBegin * rowStride + kBegin * columnStride;
        if (rows == TileRows && rowStride == 1)
        {
            // The six values of each K step are contiguous: one 4-float and one 2-float copy per step.
            for (int q = 0; q < kc; q++)
            {
                Vector128.Store(Vector128.Load(source), packed);
                *(ulong*)(packed + 4) = *(ulong*)(source + 4);
                source += columnStride;
                packed += TileRows;
            }
            return;
        }
        for (int q = 0; q < kc; q++)
        {
            int i = 0;
            for (; i < rows; i++) packed[i] = source[i * rowStride];
            for (; i < TileRows; i++) packed[i] = 0f;
            source += columnStride;
            packed += TileRows;
        }
    }

    /// <summary>
    /// The 6×16 AVX2/FMA micro-kernel: acc = Σ_q A[0..6, q] ⊗ Bpanel[q, 0..16] in twelve ymm accumulators,
    /// written to <paramref name="tile"/> ([6, 16]) for the epilogue.
    /// </summary>
    static void MicroKernelAvx2(int kc, float* a, nint rowStride, nint columnStride, float* bPanel, float* tile)
    {
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;

        float* a0 = a, a1 = a + rowStride, a2 = a + 2 * rowStride, a3 = a + 3 * rowStride, a4 = a + 4 * rowStride, a5 = a + 5 * rowStride;
        nint offset = 0;
        float* bp = bPanel;
        for (int q = 0; q < kc; q++)
        {
            Vector256<float> b0 = Avx.LoadVector256(bp);
            Vector256<float> b1 = Avx.LoadVector256(bp + 8);
            Vector256<float> x = Avx.BroadcastScalarToVector256(a0 + offset);
            c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Avx.BroadcastScalarToVector256(a1 + offset);
            c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Avx.BroadcastScalarToVector256(a2 + offset);
            c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Avx.BroadcastScalarToVector256(a3 + offset);
            c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Avx.BroadcastScalarToVector256(a4 + offset);
            c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Avx.BroadcastScalarToVector256(a5 + offset);
            c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
            offset += columnStride;
            bp += TileColumns;
        }

        // The sums go through the (L1-resident) tile: with the epilogue in this method the JIT would spill
        // accumulators inside the loop.
        Avx.Store(tile, c00); Avx.Store(tile + 8, c01);
        Avx.Store(tile + 16, c10); Avx.Store(tile + 24, c11);
        Avx.Store(tile + 32, c20); Avx.Store(tile + 40, c21);
        Avx.Store(tile + 48, c30); Avx.Store(tile + 56, c31);
        Avx.Store(tile + 64, c40); Avx.Store(tile + 72, c41);
        Avx.Store(tile + 80, c50); Avx.Store(tile + 88, c51);
    }

    /// <summary>
    /// The 6×16 micro-kernel with the simple epilogues fused into its store: C ← acc (+ C when accumulate)
    /// + bias, then ReLU when asked. Kept free of anything that needs more registers (α, β scaling, tanh) so
    /// the JIT holds all twelve accumulators in registers through the loop.
    /// </summary>
    static void MicroKernelAvx2Fused(int kc, float* a, nint rowStride, nint columnStride, float* bPanel, float* c, nint ldc,
        float* bias, bool accumulate, bool relu, float* reluMask)
    {
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;

        float* a0 = a, a1 = a + rowStride, a2 = a + 2 * rowStride, a3 = a + 3 * rowStride, a4 = a + 4 * rowStride, a5 = a + 5 * rowStride;
        nint offset = 0;
        float* bp = bPanel;
        for (int q = 0; q < kc; q++)
        {
            Vector256<float> b0 = Avx.LoadVector256(bp);
            Vector256<float> b1 = Avx.LoadVector256(bp + 8);
            Vector256<float> x = Avx.BroadcastScalarToVector256(a0 + offset);
            c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Avx.BroadcastScalarToVector256(a1 + offset);
            c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Avx.BroadcastScalarToVector256(a2 + offset);
            c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Avx.BroadcastScalarToVector256(a3 + offset);
            c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Avx.BroadcastScalarToVector256(a4 + offset);
            c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Avx.BroadcastScalarToVector256(a5 + offset);
            c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
            offset += columnStride;
            bp += TileColumns;
        }

        if (accumulate)
        {
            c00 = Avx.Add(c00, Avx.LoadVector256(c)); c01 = Avx.Add(c01, Avx.LoadVector256(c + 8));
            c10 = Avx.Add(c10, Avx.LoadVector256(c + ldc)); c11 = Avx.Add(c11, Avx.LoadVector256(c + ldc + 8));
            c20 = Avx.Add(c20, Avx.LoadVector256(c + 2 * ldc)); c21 = Avx.Add(c21, Avx.LoadVector256(c + 2 * ldc + 8));
            c30 = Avx.Add(c30, Avx.LoadVector256(c + 3 * ldc)); c31 = Avx.Add(c31, Avx.LoadVector256(c + 3 * ldc + 8));
            c40 = Avx.Add(c40, Avx.LoadVector256(c + 4 * ldc)); c41 = Avx.Add(c41, Avx.LoadVector256(c + 4 * ldc + 8));
            c50 = Avx.Add(c50, Avx.LoadVector256(c + 5 * ldc)); c51 = Avx.Add(c51, Avx.LoadVector256(c + 5 * ldc + 8));
        }
        if (bias != null)
        {
            Vector256<float> bias0 = Avx.LoadVector256(bias), bias1 = Avx.LoadVector256(bias + 8);
            c00 = Avx.Add(c00, bias0); c01 = Avx.Add(c01, bias1);
            c10 = Avx.Add(c10, bias0); c11 = Avx.Add(c11, bias1);
            c20 = Avx.Add(c20, bias0); c21 = Avx.Add(c21, bias1);
            c30 = Avx.Add(c30, bias0); c31 = Avx.Add(c31, bias1);
            c40 = Avx.Add(c40, bias0); c41 = Avx.Add(c41, bias1);
            c50 = Avx.Add(c50, bias0); c51 = Avx.Add(c51, bias1);
        }
        if (relu)
        {
            // Vector256.Max, not Avx.Max: maxps returns its second operand (0) for a NaN, Vector256.Max keeps the NaN
            // like OpMath.Relu (a few more instructions, once per tile).
            Vector256<float> zero = Vector256<float>.Zero;
            c00 = Vector256.Max(c00, zero); c01 = Vector256.Max(c01, zero);
            c10 = Vector256.Max(c10, zero); c11 = Vector256.Max(c11, zero);
            c20 = Vector256.Max(c20, zero); c21 = Vector256.Max(c21, zero);
            c30 = Vector256.Max(c30, zero); c31 = Vector256.Max(c31, zero);
            c40 = Vector256.Max(c40, zero); c41 = Vector256.Max(c41, zero);
            c50 = Vector256.Max(c50, zero); c51 = Vector256.Max(c51, zero);
        }
        if (reluMask != null)
        {
            // ReLU backward through its output Y (laid out like C): keep the sum where Y > 0, else +0.
            float* y = reluMask;
            Vector256<float> zero = Vector256<float>.Zero;
            c00 = Avx.And(c00, Avx.CompareGreaterThan(Avx.LoadVector256(y), zero)); c01 = Avx.And(c01, Avx.CompareGreaterThan(Avx.LoadVector256(y + 8), zero));
            c10 = Avx.And(c10, Avx.CompareGreaterThan(Avx.LoadVector256(y + ldc), zero)); c11 = Avx.And(c11, Avx.CompareGreaterThan(Avx.LoadVector256(y + ldc + 8), zero));
            c20 = Avx.And(c20, Avx.CompareGreaterThan(Avx.LoadVector256(y + 2 * ldc), zero)); c21 = Avx.And(c21, Avx.CompareGreaterThan(Avx.LoadVector256(y + 2 * ldc + 8), zero));
            c30 = Avx.And(c30, Avx.CompareGreaterThan(Avx.LoadVector256(y + 3 * ldc), zero)); c31 = Avx.And(c31, Avx.CompareGreaterThan(Avx.LoadVector256(y + 3 * ldc + 8), zero));
            c40 = Avx.And(c40, Avx.CompareGreaterThan(Avx.LoadVector256(y + 4 * ldc), zero)); c41 = Avx.And(c41, Avx.CompareGreaterThan(Avx.LoadVector256(y + 4 * ldc + 8), zero));
            c50 = Avx.And(c50, Avx.CompareGreaterThan(Avx.LoadVector256(y + 5 * ldc), zero)); c51 = Avx.And(c51, Avx.CompareGreaterThan(Avx.LoadVector256(y + 5 * ldc + 8), zero));
        }
        Avx.Store(c, c00); Avx.Store(c + 8, c01);
        Avx.Store(c + ldc, c10); Avx.Store(c + ldc + 8, c11);
        Avx.Store(c + 2 * ldc, c20); Avx.Store(c + 2 * ldc + 8, c21);
        Avx.Store(c + 3 * ldc, c30); Avx.Store(c + 3 * ldc + 8, c31);
        Avx.Store(c + 4 * ldc, c40); Avx.Store(c + 4 * ldc + 8, c41);
        Avx.Store(c + 5 * ldc, c50); Avx.Store(c + 5 * ldc + 8, c51);
    }

    /// <summary>
    /// The 6×8 variant for a last panel of at most 8 columns (n = 17, 24, … would otherwise do up to twice the
    /// work); the panel keeps its 16-float row stride. Writes columns 0..8 of each tile row.
    /// </summary>
    static void MicroKernelAvx2Narrow(int kc, float* a, nint rowStride, nint columnStride, float* bPanel, float* tile)
    {
        Vector256<float> c0 = Vector256<float>.Zero, c1 = Vector256<float>.Zero, c2 = Vector256<float>.Zero;
        Vector256<float> c3 = Vector256<float>.Zero, c4 = Vector256<float>.Zero, c5 = Vector256<float>.Zero;
        float* a0 = a, a1 = a + rowStride, a2 = a + 2 * rowStride, a3 = a + 3 * rowStride, a4 = a + 4 * rowStride, a5 = a + 5 * rowStride;
        nint offset = 0;
        float* bp = bPanel;
        for (int q = 0; q < kc; q++)
        {
            Vector256<float> b0 = Avx.LoadVector256(bp);
            c0 = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(a0 + offset), b0, c0);
            c1 = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(a1 + offset), b0, c1);
            c2 = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(a2 + offset), b0, c2);
            c3 = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(a3 + offset), b0, c3);
            c4 = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(a4 + offset), b0, c4);
            c5 = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(a5 + offset), b0, c5);
            offset += columnStride;
            bp += TileColumns;
        }
        Avx.Store(tile, c0);
        Avx.Store(tile + TileColumns, c1);
        Avx.Store(tile + 2 * TileColumns, c2);
        Avx.Store(tile + 3 * TileColumns, c3);
        Avx.Store(tile + 4 * TileColumns, c4);
        Avx.Store(tile + 5 * TileColumns, c5);
    }

    /// <summary>Applies the epilogue to a full 6×16 tile of sums and stores it into C with 256-bit vectors.</summary>
    static void StoreFullTileAvx(float* tile, float* c, nint ldc, in Epilogue epilogue)
    {
        Vector256<float> bias0 = Vector256<float>.Zero, bias1 = Vector256<float>.Zero;
        if (epilogue.Bias != null)
        {
            bias0 = Avx.LoadVector256(epilogue.Bias);
            bias1 = Avx.LoadVector256(epilogue.Bias + 8);
        }
        for (int row = 0; row < TileRows; row++)
        {
            StoreRowAvx(Avx.LoadVector256(tile + row * TileColumns), Avx.LoadVector256(tile + row * TileColumns + 8),
                c + row * ldc, epilogue.ActivationOutput == null ? null : epilogue.ActivationOutput + row * ldc, in epilogue, bias0, bias1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRowAvx(Vector256<float> acc0, Vector256<float> acc1, float* c, float* y, in Epilogue epilogue,
        Vector256<float> bias0, Vector256<float> bias1)
    {
        Vector256<float> alpha = Vector256.Create(epilogue.Alpha);
        Vector256<float> v0 = Avx.Multiply(acc0, alpha);
        Vector256<float> v1 = Avx.Multiply(acc1, alpha);
        float beta = epilogue.Beta;
        if (beta == 1f)
        {
            v0 = Avx.Add(v0, Avx.LoadVector256(c));
            v1 = Avx.Add(v1, Avx.LoadVector256(c + 8));
        }
        else if (beta != 0f)
        {
            Vector256<float> betaVector = Vector256.Create(beta);
            v0 = Fma.MultiplyAdd(Avx.LoadVector256(c), betaVector, v0);
            v1 = Fma.MultiplyAdd(Avx.LoadVector256(c + 8), betaVector, v1);
        }
        if (epilogue.Bias != null)
        {
            v0 = Avx.Add(v0, bias0);
            v1 = Avx.Add(v1, bias1);
        }
        if (y != null)
        {
            // The backward epilogue, as ActivationCpu.Backward computes it: ReLU keeps v where Y > 0, Tanh scales by 1 − Y².
            Vector256<float> y0 = Avx.LoadVector256(y), y1 = Avx.LoadVector256(y + 8);
            if (epilogue.Activation == Activation.Relu)
            {
                v0 = Avx.And(v0, Avx.CompareGreaterThan(y0, Vector256<float>.Zero));
                v1 = Avx.And(v1, Avx.CompareGreaterThan(y1, Vector256<float>.Zero));
            }
            else
            {
                v0 = Avx.Multiply(v0, Avx.Subtract(Vector256<float>.One, Avx.Multiply(y0, y0)));
                v1 = Avx.Multiply(v1, Avx.Subtract(Vector256<float>.One, Avx.Multiply(y1, y1)));
            }
            Avx.Store(c, v0);
            Avx.Store(c + 8, v1);
            return;
        }
        switch (epilogue.Activation)
        {
            case Activation.Relu:
                v0 = Vector256.Max(v0, Vector256<float>.Zero); // keeps NaN, as OpMath.Relu
                v1 = Vector256.Max(v1, Vector256<float>.Zero);
                break;
            case Activation.Tanh:
                v0 = SimdMath.Tanh(v0);
                v1 = SimdMath.Tanh(v1);
                break;
        }
        Avx.Store(c, v0);
        Avx.Store(c + 8, v1);
    }

    /// <summary>
    /// The 6×16 micro-kernel with Vector128 arithmetic (24 accumulators): the fallback for CPUs without
    /// AVX2/FMA. Writes the raw sums to <paramref name="tile"/> ([6, 16]).
    /// </summary>
    static void MicroKernelPortable(int kc, float* a, nint rowStride, nint columnStride, float* bPanel, float* tile)
    {
        for (int row = 0; row < TileRows; row += 2)
        {
            // Two rows at a time keeps 8 accumulators + 4 B vectors within 16 registers on SSE.
            Vector128<float> c00 = Vector128<float>.Zero, c01 = Vector128<float>.Zero, c02 = Vector128<float>.Zero, c03 = Vector128<float>.Zero;
            Vector128<float> c10 = Vector128<float>.Zero, c11 = Vector128<float>.Zero, c12 = Vector128<float>.Zero, c13 = Vector128<float>.Zero;
            float* a0 = a + row * rowStride, a1 = a0 + rowStride;
            float* bp = bPanel;
            nint offset = 0;
            for (int q = 0; q < kc; q++)
            {
                Vector128<float> b0 = Vector128.Load(bp), b1 = Vector128.Load(bp + 4), b2 = Vector128.Load(bp + 8), b3 = Vector128.Load(bp + 12);
                Vector128<float> x0 = Vector128.Create(a0[offset]);
                Vector128<float> x1 = Vector128.Create(a1[offset]);
                c00 = Vector128.MultiplyAddEstimate(x0, b0, c00); c01 = Vector128.MultiplyAddEstimate(x0, b1, c01);
                c02 = Vector128.MultiplyAddEstimate(x0, b2, c02); c03 = Vector128.MultiplyAddEstimate(x0, b3, c03);
                c10 = Vector128.MultiplyAddEstimate(x1, b0, c10); c11 = Vector128.MultiplyAddEstimate(x1, b1, c11);
                c12 = Vector128.MultiplyAddEstimate(x1, b2, c12); c13 = Vector128.MultiplyAddEstimate(x1, b3, c13);
                offset += columnStride;
                bp += TileColumns;
            }
            float* t0 = tile + row * TileColumns, t1 = t0 + TileColumns;
            c00.Store(t0); c01.Store(t0 + 4); c02.Store(t0 + 8); c03.Store(t0 + 12);
            c10.Store(t1); c11.Store(t1 + 4); c12.Store(t1 + 8); c13.Store(t1 + 12);
        }
    }

    /// <summary>Applies the epilogue to the raw sums in tile ([6, 16]) and stores the first rows × columns of them into C.</summary>
    static void StoreTile(float* tile, float* c, nint ldc, int rows, int columns, in Epilogue epilogue)
    {
        float alpha = epilogue.Alpha, beta = epilogue.Beta;
        float* bias = epilogue.Bias;
        Activation activation = epilogue.Activation;
        float* y = epilogue.ActivationOutput;
        for (int i = 0; i < rows; i++)
        {
            float* cRow = c + i * ldc;
            float* tRow = tile + i * TileColumns;
            for (int j = 0; j < columns; j++)
            {
                float value = alpha * tRow[j];
                if (beta != 0f) value += beta * cRow[j];
                if (bias != null) value += bias[j];
                cRow[j] = y == null ? OpMath.Activate(activation, value) : ApplyDerivative(activation, value, y[i * ldc + j]);
            }
        }
    }

    /// <summary>
    /// Stores a tile of Cᵀ: tile element (i, j) goes to c[j·ldc + i]; the bias is indexed by the tile row.
    /// </summary>
    static void StoreTileTransposed(float* tile, float* c, nint ldc, int rows, int columns, in Epilogue epilogue)
    {
        float alpha = epilogue.Alpha, beta = epilogue.Beta;
        float* bias = epilogue.Bias;
        Activation activation = epilogue.Activation;
        float* y = epilogue.ActivationOutput;
        for (int j = 0; j < columns; j++)
        {
            float* cRow = c + j * ldc;
            for (int i = 0; i < rows; i++)
            {
                float value = alpha * tile[i * TileColumns + j];
                if (beta != 0f) value += beta * cRow[i];
                if (bias != null) value += bias[i];
                cRow[i] = y == null ? OpMath.Activate(activation, value) : ApplyDerivative(activation, value, y[j * ldc + i]);
            }
        }
    }

    /// <summary>
    /// GEMMs with one output row or column are matrix–vector products y ← act(α·M·x + β·y + bias): for n = 1,
    /// M = op(A) and x = B; for m = 1, M = op(B)ᵀ and x = A. M(i, q) = mat[i·rowStride + q·columnStride].
    /// </summary>
    static void RunMatrixVector(bool transposeA, bool transposeB, int m, int n, int k, float alpha, float* a, float* b,
        float beta, float* c, float* bias, Activation activation)
    {
        if (n == 1)
        {
            // x = B (k values either way); the single bias value applies to every row.
            MatrixVector(m, k, a, transposeA ? 1 : k, transposeA ? m : 1, b, alpha, beta, c, 1, bias, 0, activation);
        }
        else
        {
            // Row vector times op(B): output j is column j of op(B) dotted with A's single row.
            MatrixVector(n, k, b, transposeB ? k : 1, transposeB ? 1 : n, a, alpha, beta, c, 1, bias, 1, activation);
        }
    }

    static void MatrixVector(int rows, int k, float* mat, nint rowStride, nint columnStride, float* x,
        float alpha, float beta, float* y, nint yStride, float* bias, nint biasStride, Activation activation)
    {
        if (columnStride == 1 || rows == 1)
        {
            // Rows of M are contiguous: one dot product per output.
            for (int i = 0; i < rows; i++)
            {
                float dot = Dot(mat + i * rowStride, x, k, columnStride);
                y[i * yStride] = FinishScalar(dot, alpha, beta, y[i * yStride], bias == null ? null : bias + i * biasStride, activation);
            }
            return;
        }

        // Columns of M are contiguous: accumulate y += M[:, q]·x[q] over 32 outputs at a time.
        float* sums = stackalloc float[32];
        int i0 = 0;
        for (; i0 + 32 <= rows; i0 += 32)
        {
            Vector256<float> s0 = Vector256<float>.Zero, s1 = Vector256<float>.Zero, s2 = Vector256<float>.Zero, s3 = Vector256<float>.Zero;
            float* column = mat + i0;
            for (int q = 0; q < k; q++)
            {
                Vector256<float> xq = Vector256.Create(x[q]);
                s0 = Fma.MultiplyAdd(Avx.LoadVector256(column), xq, s0);
                s1 = Fma.MultiplyAdd(Avx.LoadVector256(column + 8), xq, s1);
                s2 = Fma.MultiplyAdd(Avx.LoadVector256(column + 16), xq, s2);
                s3 = Fma.MultiplyAdd(Avx.LoadVector256(column + 24), xq, s3);
                column += columnStride;
            }
            Avx.Store(sums, s0); Avx.Store(sums + 8, s1); Avx.Store(sums + 16, s2); Avx.Store(sums + 24, s3);
            for (int i = 0; i < 32; i++)
                y[(i0 + i) * yStride] = FinishScalar(sums[i], alpha, beta, y[(i0 + i) * yStride], bias == null ? null : bias + (i0 + i) * biasStride, activation);
        }
        for (; i0 + 8 <= rows; i0 += 8)
        {
            Vector256<float> s = Vector256<float>.Zero;
            float* column = mat + i0;
            for (int q = 0; q < k; q++)
            {
                s = Fma.MultiplyAdd(Avx.LoadVector256(column), Vector256.Create(x[q]), s);
                column += columnStride;
            }
            for (int i = 0; i < 8; i++)
                y[(i0 + i) * yStride] = FinishScalar(s.GetElement(i), alpha, beta, y[(i0 + i) * yStride], bias == null ? null : bias + (i0 + i) * biasStride, activation);
        }
        for (; i0 < rows; i0++)
        {
            float sum = 0f;
            for (int q = 0; q < k; q++) sum = MathF.FusedMultiplyAdd(mat[i0 + q * columnStride], x[q], sum);
            y[i0 * yStride] = FinishScalar(sum, alpha, beta, y[i0 * yStride], bias == null ? null : bias + i0 * biasStride, activation);
        }
    }

    /// <summary>Σ_q row[q·stride]·x[q], vectorized when the row is contiguous.</summary>
    static float Dot(float* row, float* x, int k, nint stride)
    {
        if (stride != 1)
        {
            float strided = 0f;
            for (int q = 0; q < k; q++) strided = MathF.FusedMultiplyAdd(row[q * stride], x[q], strided);
            return strided;
        }
        Vector256<float> s0 = Vector256<float>.Zero, s1 = Vector256<float>.Zero, s2 = Vector256<float>.Zero, s3 = Vector256<float>.Zero;
        int q0 = 0;
        for (; q0 + 32 <= k; q0 += 32)
        {
            s0 = Fma.MultiplyAdd(Avx.LoadVector256(row + q0), Avx.LoadVector256(x + q0), s0);
            s1 = Fma.MultiplyAdd(Avx.LoadVector256(row + q0 + 8), Avx.LoadVector256(x + q0 + 8), s1);
            s2 = Fma.MultiplyAdd(Avx.LoadVector256(row + q0 + 16), Avx.LoadVector256(x + q0 + 16), s2);
            s3 = Fma.MultiplyAdd(Avx.LoadVector256(row + q0 + 24), Avx.LoadVector256(x + q0 + 24), s3);
        }
        for (; q0 + 8 <= k; q0 += 8)
            s0 = Fma.MultiplyAdd(Avx.LoadVector256(row + q0), Avx.LoadVector256(x + q0), s0);
        float sum = Vector256.Sum(Avx.Add(Avx.Add(s0, s1), Avx.Add(s2, s3)));
        for (; q0 < k; q0++) sum = MathF.FusedMultiplyAdd(row[q0], x[q0], sum);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float FinishScalar(float sum, float alpha, float beta, float old, float* bias, Activation activation)
    {
        float value = alpha * sum;
        if (beta != 0f) value += beta * old;
        if (bias != null) value += *bias;
        return OpMath.Activate(activation, value);
    }
}

/// <summary>
/// One GEMM's arguments, as <see cref="GemmCpu.Gemm"/> takes them: C ← act(α·op(A)·op(B) + β·C + bias), row-major,
/// A [m, k] ([k, m] when transposed), B [k, n] ([n, k] when transposed), C [m, n], bias [n] or null.
/// </summary>
public unsafe struct GemmCall
{
    /// <summary>Whether A is stored [k, m].</summary>
    public bool TransposeA;
    /// <summary>Whether B is stored [n, k].</summary>
    public bool TransposeB;
    /// <summary>Dimensions of C (m × n) and the inner length k.</summary>
    public int M, N, K;
    /// <summary>α and β.</summary>
    public float Alpha, Beta;
    /// <summary>The operands; <see cref="Bias"/> may be null.</summary>
    public float* A, B, C, Bias;
    /// <summary>The activation of the epilogue.</summary>
    public Activation Activation;
    /// <summary>When not null, the backward epilogue: C ← (α·op(A)·op(B) + β·C) ⊙ act′(Y), Y [m, n] (see <see cref="GemmCpu.Gemm"/>).</summary>
    public float* ActivationOutput;

    /// <summary>m·n·k multiply-adds.</summary>
    public readonly long Work => (long)M * N * K;

    internal readonly void Validate() => GemmCpu.ValidateCall(in this);
}