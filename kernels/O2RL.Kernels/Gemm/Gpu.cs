using ILGPU;

namespace O2RL.Kernels;

/// <summary>Scalar arguments of a (batched) GEMM kernel: C[b] ← act(α·op(A[b])·op(B[b]) + β·C[b] + bias[b]).</summary>
internal struct GemmArguments
{
    public int M, N, K;
    /// <summary>Row lengths in memory of A ([M, K], or [K, M] when transposed) and B ([K, N], or [N, K]).</summary>
    public int Lda, Ldb;
    /// <summary>Element strides between batch entries; 0 shares an operand across the batch.</summary>
    public int StrideA, StrideB, StrideC, StrideBias;
    /// <summary>1 when the operand is stored transposed.</summary>
    public int TransposeA, TransposeB;
    /// <summary>1 when a bias vector is added.</summary>
    public int HasBias;
    /// <summary>
    /// 1 for the backward epilogue C ← (α·sum + β·C) ⊙ act′(Y): the bias view then holds Y, laid out like C (bias
    /// and Y never come together, so the kernels keep one signature).
    /// </summary>
    public int ActivationBackward;
    /// <summary>The <see cref="Activation"/> applied last, as its integer value.</summary>
    public int Activation;
    public float Alpha, Beta;
    /// <summary>
    /// Depth of k staged at once by the one-element-per-thread kernels (<see cref="GemmGpu.TiledTiny{TGeometry}"/>
    /// and the split-k ones): a multiple of T, at most <see cref="IGpuGeometry.MaxPanelDepth"/>. The 4×4 and 2×2
    /// unsplit kernels stage T at a time.
    /// </summary>
    public int PanelDepth;
    /// <summary>Batch entries, and the split of k (slices of KPerSlice each; 1 slice: unsplit): read by <see cref="GemmGpu.PairFused{TGeometry}"/> only.</summary>
    public int Batch, Slices, KPerSlice;
    /// <summary>Where this GEMM's partial sums and tile counters start in the pair kernel's shared workspace.</summary>
    public int PartialsOffset, ArrivalsOffset;
}

/// <summary>The column sum of <see cref="GemmGpu.PairFused{TGeometry}"/>: y[b, c] ← α·Σ_r x[b, r, c] + β·y[b, c] over <see cref="Blocks"/> blocks.</summary>
internal struct ColumnSumArguments
{
    public int Rows, Cols;
    public float Alpha, Beta;
    /// <summary>Blocks of the launch that compute it: ⌈Cols / columns per block⌉ per batch entry; 0 for no column sum.</summary>
    public int Blocks;
}

/// <summary>Everything of <see cref="GemmGpu.PairFused{TGeometry}"/> but its views, in one argument (a kernel takes at most 14).</summary>
internal struct PairArguments
{
    public GemmArguments First, Second;
    public ColumnSumArguments Sum;
}

/// <summary>
/// GEMM kernels for ILGPU: a naive one (one thread per element of C, for small shapes and as the plain check)
/// and three tiled ones staging panels of op(A) and op(B) through shared memory, whose T×T threads compute 4×4
/// blocks of a 4T×4T tile (<see cref="Tiled{TGeometry}"/>), 2×2 blocks of a 2T×2T tile
/// (<see cref="TiledSmall{TGeometry}"/>) or one element each of a T×T tile (<see cref="TiledTiny{TGeometry}"/>).
/// The smaller tiles give more thread blocks to the small products of an RL update: 256×256 makes 16 blocks of
/// 64×64, 64 of 32×32 and 256 of 16×16, on a GPU of 132 multiprocessors. All accumulate in float over k in
/// increasing order, so they are deterministic and agree bit for bit, and all apply the same epilogue: β = 0
/// never reads C (garbage or NaN there is ignored).
/// </summary>
internal static class GemmGpu
{
    /// <summary>op(A)[row, p] for batch entry b.</summary>
    static float LoadA(ArrayView<float> a, in GemmArguments g, int b, int row, int p) =>
        g.TransposeA != 0 ? a[b * g.StrideA + p * g.Lda + row] : a[b * g.StrideA + row * g.Lda + p];

    /// <summary>op(B)[p, col] for batch entry b.</summary>
    static float LoadB(ArrayView<float> bMatrix, in GemmArguments g, int b, int p, int col) =>
        g.TransposeB != 0 ? bMatrix[b * g.StrideB + col * g.Ldb + p] : bMatrix[b * g.StrideB + p * g.Ldb + col];

    /// <summary>
    /// The shared epilogue: act(α·sum + β·C + bias), or (α·sum + β·C) ⊙ act′(Y) with Y in the bias view when
    /// <see cref="GemmArguments.ActivationBackward"/> is set; C is read only when β ≠ 0.
    /// </summary>
    static void Store(ArrayView<float> c, ArrayView<float> bias, in GemmArguments g, int b, int row, int col, float sum)
    {
        int at = b * g.StrideC + row * g.N + col;
        float value = g.Alpha * sum;
        if (g.Beta != 0f) value += g.Beta * c[at];
        if (g.ActivationBackward != 0)
        {
            c[at] = value * GpuMath.ActivationDerivativeFromOutput(g.Activation, bias[at]);
            return;
        }
        if (g.HasBias != 0) value += bias[b * g.StrideBias + col];
        c[at] = GpuMath.Activate(g.Activation, value);
    }

    /// <summary>
    /// Fills the shared panels for the k-step starting at k0: aPanel[p·pitch + r] = op(A)[row0 + r, k0 + p] and
    /// bPanel[p·pitch + q] = op(B)[k0 + p, col0 + q] for p &lt; depth, r, q &lt; tile, zero outside the matrix or
    /// past kEnd. The group's t² threads each load tile·depth / t² elements of each panel, walking the operand in
    /// memory order so that neighbouring threads read neighbouring addresses. A deep panel puts all of a thread's
    /// loads for it in flight at once: one wait for global memory per panel instead of one per T of k.
    /// </summary>
    static void StagePanels(ArrayView<float> aPanel, ArrayView<float> bPanel, ArrayView<float> a, ArrayView<float> bMatrix, in GemmArguments g,
        int b, int row0, int col0, int k0, int kEnd, int t, int tile, int depth, int pitch)
    {
        int thread = Group.IdxY * t + Group.IdxX;
        int loadsPerThread = tile * depth / (t * t);
        for (int l = 0; l < loadsPerThread; l++)
        {
            int e = thread + l * t * t;
            int r, p;
            if (g.TransposeA != 0) { p = e / tile; r = e % tile; } else { r = e / depth; p = e % depth; }
            aPanel[p * pitch + r] = row0 + r < g.M && k0 + p < kEnd ? LoadA(a, g, b, row0 + r, k0 + p) : 0f;
            int q;
            if (g.TransposeB != 0) { q = e / depth; p = e % depth; } else { p = e / tile; q = e % tile; }
            bPanel[p * pitch + q] = col0 + q < g.N && k0 + p < kEnd ? LoadB(bMatrix, g, b, k0 + p, col0 + q) : 0f;
        }
    }

    /// <summary>One thread per element: index (col, row, batch).</summary>
    public static void Naive(Index3D index, ArrayView<float> a, ArrayView<float> bMatrix, ArrayView<float> c, ArrayView<float> bias, GemmArguments g)
    {
        int col = index.X, row = index.Y, b = index.Z;
        float sum = 0f;
        for (int p = 0; p < g.K; p++) sum += LoadA(a, g, b, row, p) * LoadB(bMatrix, g, b, p, col);
        Store(c, bias, g, b, row, col, sum);
    }

    /// <summary>
    /// Tiled GEMM. Grid (⌈N/4T⌉, ⌈M/4T⌉, batch), groups of T×T threads with T = TGeometry.TileThreads.
    /// Thread (tx, ty) owns rows ty + T·i and columns tx + T·j (i, j &lt; 4) of the block's tile, so stores to C
    /// and reads of the shared panels are contiguous across neighbouring threads.
    /// </summary>
    public static void Tiled<TGeometry>(ArrayView<float> a, ArrayView<float> bMatrix, ArrayView<float> c, ArrayView<float> bias, GemmArguments g)
        where TGeometry : struct, IGpuGeometry
    {
        int t = default(TGeometry).TileThreads;
        int tile = 4 * t;
        // Panels: aPanel[p, r] = op(A)[row0 + r, k0 + p] and bPanel[p, q] = op(B)[k0 + p, col0 + q], p < T.
        var aPanel = SharedMemory.Allocate<float>(4 * default(TGeometry).TileThreads * default(TGeometry).TileThreads);
        var bPanel = SharedMemory.Allocate<float>(4 * default(TGeometry).TileThreads * default(TGeometry).TileThreads);

        int tx = Group.IdxX, ty = Group.IdxY;
        int col0 = Grid.IdxX * tile, row0 = Grid.IdxY * tile, b = Grid.IdxZ;

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

        for (int k0 = 0; k0 < g.K; k0 += t)
        {
            StagePanels(aPanel, bPanel, a, bMatrix, g, b, row0, col0, k0, g.K, t, tile, depth: t, pitch: tile);
            Group.Barrier();

            int depth = g.K - k0 < t ? g.K - k0 : t;
            for (int p = 0; p < depth; p++)
            {
                int ar = p * tile + ty, bq = p * tile + tx;
                float a0 = aPanel[ar], a1 = aPanel[ar + t], a2 = aPanel[ar + 2 * t], a3 = aPanel[ar + 3 * t];
                float b0 = bPanel[bq], b1 = bPanel[bq + t], b2 = bPanel[bq + 2 * t], b3 = bPanel[bq + 3 * t];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        StoreRow(c, bias, g, b, row0 + ty, col0 + tx, t, c00, c01, c02, c03);
        StoreRow(c, bias, g, b, row0 + ty + t, col0 + tx, t, c10, c11, c12, c13);
        StoreRow(c, bias, g, b, row0 + ty + 2 * t, col0 + tx, t, c20, c21, c22, c23);
        StoreRow(c, bias, g, b, row0 + ty + 3 * t, col0 + tx, t, c30, c31, c32, c33);
    }

    /// <summary>
    /// Tiled GEMM with 2×2 blocks per thread. Grid (⌈N/2T⌉, ⌈M/2T⌉, batch), groups of T×T threads. Thread (tx, ty)
    /// owns rows ty, ty + T and columns tx, tx + T of the block's 2T×2T tile. The panels are T deep and padded to
    /// 2T + 1 floats a row, so that filling them from a row-major operand does not hit one shared-memory bank
    /// with every thread of a warp.
    /// </summary>
    public static void TiledSmall<TGeometry>(ArrayView<float> a, ArrayView<float> bMatrix, ArrayView<float> c, ArrayView<float> bias, GemmArguments g)
        where TGeometry : struct, IGpuGeometry
    {
        int t = default(TGeometry).TileThreads;
        int tile = 2 * t, pitch = 2 * t + 1;
        // aPanel[p, r] = op(A)[row0 + r, k0 + p] and bPanel[p, q] = op(B)[k0 + p, col0 + q], p < T, at p·pitch + r.
        var aPanel = SharedMemory.Allocate<float>(default(TGeometry).TileThreads * (2 * default(TGeometry).TileThreads + 1));
        var bPanel = SharedMemory.Allocate<float>(default(TGeometry).TileThreads * (2 * default(TGeometry).TileThreads + 1));

        int tx = Group.IdxX, ty = Group.IdxY;
        int col0 = Grid.IdxX * tile, row0 = Grid.IdxY * tile, b = Grid.IdxZ;
        float c00 = 0f, c01 = 0f, c10 = 0f, c11 = 0f;

        for (int k0 = 0; k0 < g.K; k0 += t)
        {
            StagePanels(aPanel, bPanel, a, bMatrix, g, b, row0, col0, k0, g.K, t, tile, depth: t, pitch);
            Group.Barrier();

            int depth = g.K - k0 < t ? g.K - k0 : t;
            for (int p = 0; p < depth; p++)
            {
                int row = p * pitch;
                float a0 = aPanel[row + ty], a1 = aPanel[row + ty + t];
                float b0 = bPanel[row + tx], b1 = bPanel[row + tx + t];
                c00 += a0 * b0; c01 += a0 * b1;
                c10 += a1 * b0; c11 += a1 * b1;
            }
            Group.Barrier();
        }

        StorePair(c, bias, g, b, row0 + ty, col0 + tx, t, c00, c01);
        StorePair(c, bias, g, b, row0 + ty + t, col0 + tx, t, c10, c11);
    }

    /// <summary>
    /// Tiled GEMM with one element of C per thread: grid (⌈N/T⌉, ⌈M/T⌉, batch), groups of T×T threads,
    /// <see cref="GemmArguments.PanelDepth"/>-deep panels padded to T + 1 floats a row. The most thread blocks of the three tiled kernels (256 for a
    /// 256×256 product at T = 16), at two shared-memory reads per multiply-add.
    /// </summary>
    public static void TiledTiny<TGeometry>(ArrayView<float> a, ArrayView<float> bMatrix, ArrayView<float> c, ArrayView<float> bias, GemmArguments g)
        where TGeometry : struct, IGpuGeometry
    {
        var aPanel = SharedMemory.Allocate<float>(default(TGeometry).MaxPanelDepth * (default(TGeometry).TileThreads + 1));
        var bPanel = SharedMemory.Allocate<float>(default(TGeometry).MaxPanelDepth * (default(TGeometry).TileThreads + 1));
        int t = default(TGeometry).TileThreads;
        int row = Grid.IdxY * t + Group.IdxY, col = Grid.IdxX * t + Group.IdxX, b = Grid.IdxZ;
        float sum = TinyTileSum(aPanel, bPanel, a, bMatrix, g, t, b, Grid.IdxY * t, Grid.IdxX * t, 0, g.K);
        if (row < g.M && col < g.N) Store(c, bias, g, b, row, col, sum);
    }

    /// <summary>
    /// First half of a split-k GEMM: <see cref="TiledTiny{TGeometry}"/> over one of <paramref name="slices"/> ranges
    /// of k, writing its raw partial sum (no α, β, bias or activation) to partials[b, slice, row, col]. Grid
    /// (⌈N/T⌉, ⌈M/T⌉, batch · slices); slice s covers k in [s·kPerSlice, (s + 1)·kPerSlice) ∩ [0, K), kPerSlice a
    /// multiple of T. The products of an RL update have M·N too small to fill a GPU one thread per element of C;
    /// splitting k multiplies the threads at work by the slice count.
    /// </summary>
    public static void TiledTinyPartial<TGeometry>(ArrayView<float> a, ArrayView<float> bMatrix, ArrayView<float> partials, GemmArguments g,
        int slices, int kPerSlice)
        where TGeometry : struct, IGpuGeometry
    {
        var aPanel = SharedMemory.Allocate<float>(default(TGeometry).MaxPanelDepth * (default(TGeometry).TileThreads + 1));
        var bPanel = SharedMemory.Allocate<float>(default(TGeometry).MaxPanelDepth * (default(TGeometry).TileThreads + 1));
        int t = default(TGeometry).TileThreads;
        int row = Grid.IdxY * t + Group.IdxY, col = Grid.IdxX * t + Group.IdxX;
        int b = Grid.IdxZ / slices, slice = Grid.IdxZ - b * slices;
        int kBegin = slice * kPerSlice;
        int kEnd = kBegin + kPerSlice < g.K ? kBegin + kPerSlice : g.K;
        float sum = TinyTileSum(aPanel, bPanel, a, bMatrix, g, t, b, Grid.IdxY * t, Grid.IdxX * t, kBegin, kEnd);
        WritePartial(partials, g, b, slices, slice, row, col, sum);
    }

    /// <summary>
    /// A split-k GEMM in one launch. The products of an RL update have M·N too small to fill a GPU one thread per
    /// element of C; splitting k multiplies the threads at work by the slice count. Grid (⌈N/T⌉, ⌈M/T⌉, batch ·
    /// slices): each block computes <see cref="TiledTiny{TGeometry}"/>'s sum over its slice of k, s·kPerSlice up to
    /// (s + 1)·kPerSlice (a multiple of T), and writes it raw to partials[b, slice, row, col]; the last of a tile's
    /// <paramref name="slices"/> blocks to finish adds the slices in slice order, from 0, and applies the epilogue, so
    /// the result does not depend on which block finishes last. tileArrivals[tile] counts the blocks done; it must be
    /// 0 before the launch and is left at 0 after it, so one counter array serves every GEMM on a stream. The sum and
    /// the epilogue are <see cref="SplitKFinish"/>'s, so this kernel and the two-launch path
    /// (<see cref="TiledTinyPartial{TGeometry}"/> then <see cref="SplitKFinish"/>, kept for OpenCL) agree bit for bit.
    /// </summary>
    /// <remarks>
    /// Each block publishes its partials with a device-level fence before it is counted, and the last block reads
    /// them back through integer atomics on their bits (or-ing 0, which leaves the value and is performed at L2, and
    /// which every device supports, unlike float atomics), because a plain load may
    /// hit a stale L1 line: a 128-byte line spans two 16-wide tiles, and the SM may have cached it for a neighbour.
    /// </remarks>
    public static void SplitKFused<TGeometry>(ArrayView<float> a, ArrayView<float> bMatrix, ArrayView<float> partials, ArrayView<float> c,
        ArrayView<float> bias, ArrayView<int> tileArrivals, GemmArguments g, int slices, int kPerSlice)
        where TGeometry : struct, IGpuGeometry
    {
        var aPanel = SharedMemory.Allocate<float>(default(TGeometry).MaxPanelDepth * (default(TGeometry).TileThreads + 1));
        var bPanel = SharedMemory.Allocate<float>(default(TGeometry).MaxPanelDepth * (default(TGeometry).TileThreads + 1));
        var lastBlock = SharedMemory.Allocate<int>(1);
        int t = default(TGeometry).TileThreads;
        int row = Grid.IdxY * t + Group.IdxY, col = Grid.IdxX * t + Group.IdxX;
        int b = Grid.IdxZ / slices, slice = Grid.IdxZ - b * slices;
        int kBegin = slice * kPerSlice;
        int kEnd = kBegin + kPerSlice < g.K ? kBegin + kPerSlice : g.K;
        float sum = TinyTileSum(aPanel, bPanel, a, bMatrix, g, t, b, Grid.IdxY * t, Grid.IdxX * t, kBegin, kEnd);
        WritePartial(partials, g, b, slices, slice, row, col, sum);
        if (!ArriveLast(lastBlock, tileArrivals, (b * Grid.DimY + Grid.IdxY) * Grid.DimX + Grid.IdxX, slices)) return;
        AddSlicesAndStore(partials.Cast<int>(), c, bias, g, b, slices, row, col);
    }

    /// <summary>
    /// Up to two independent GEMMs and a column sum in one launch (<c>Backend.GemmPair</c> and
    /// <c>Backend.GemmPairAndColumnSum</c>: a layer's weight gradient δzᵀ·x, input gradient δz·W and bias gradient
    /// Σ_batch δz), each GEMM on <see cref="TiledTiny{TGeometry}"/>'s T×T tiles, split over k when its
    /// <see cref="GemmArguments.Slices"/> &gt; 1 as in <see cref="SplitKFused{TGeometry}"/>. A one-dimensional grid
    /// of T×T groups: the first blocks compute the first GEMM, the next the second (none when its M is 0), the
    /// last the column sum (<see cref="ColumnSumArguments.Blocks"/>, 0 for none), so the three share the device
    /// instead of running one after the other, and none pays for another's empty tiles. Each element's sum and
    /// epilogue are those of the single kernels (the GEMMs with the same slices, <see cref="ReduceGpu.ColumnSum{TGeometry}"/>
    /// with its row slices), so the launch gives the same bits as its parts run alone.
    /// </summary>
    public static void PairFused<TGeometry>(ArrayView<float> a0, ArrayView<float> b0, ArrayView<float> c0, ArrayView<float> bias0,
        ArrayView<float> a1, ArrayView<float> b1, ArrayView<float> c1, ArrayView<float> bias1,
        ArrayView<float> partials, ArrayView<int> tileArrivals, ArrayView<float> sumX, ArrayView<float> sumY, PairArguments p)
        where TGeometry : struct, IGpuGeometry
    {
        var aPanel = SharedMemory.Allocate<float>(default(TGeometry).MaxPanelDepth * (default(TGeometry).TileThreads + 1));
        var bPanel = SharedMemory.Allocate<float>(default(TGeometry).MaxPanelDepth * (default(TGeometry).TileThreads + 1));
        var lastBlock = SharedMemory.Allocate<int>(1);
        int t = default(TGeometry).TileThreads;
        int block = Grid.IdxX;
        int firstBlocks = PairBlocks(p.First, t), secondBlocks = PairBlocks(p.Second, t);
        if (block < firstBlocks) PairMember(aPanel, bPanel, lastBlock, a0, b0, c0, bias0, partials, tileArrivals, p.First, t, block);
        else if (block < firstBlocks + secondBlocks) PairMember(aPanel, bPanel, lastBlock, a1, b1, c1, bias1, partials, tileArrivals, p.Second, t, block - firstBlocks);
        else
        {
            // T² threads as columns × RowSlices slices, the arrangement of ReduceGpu.ColumnSum's groups; the panel's
            // shared memory (at least T² floats) holds the slices' totals.
            int slices = default(TGeometry).RowSlices, columns = t * t / slices;
            int thread = Group.IdxY * t + Group.IdxX;
            int blocksPerEntry = (p.Sum.Cols + columns - 1) / columns, sumBlock = block - firstBlocks - secondBlocks;
            int column = sumBlock % blocksPerEntry * columns + thread % columns;
            ReduceGpu.ColumnSumOf(aPanel, sumX, sumY, p.Sum.Rows, p.Sum.Cols, p.Sum.Alpha, p.Sum.Beta,
                sumBlock / blocksPerEntry, column, thread % columns, thread / columns, slices, columns);
        }
    }

    /// <summary>Blocks of one GEMM of <see cref="PairFused{TGeometry}"/>: tiles × batch entries × slices (0 when M or N is 0).</summary>
    static int PairBlocks(in GemmArguments g, int t) => (g.N + t - 1) / t * ((g.M + t - 1) / t) * g.Batch * g.Slices;

    /// <summary>Block <paramref name="block"/> of one GEMM of <see cref="PairFused{TGeometry}"/>: tile column fastest, then tile row, batch entry and slice.</summary>
    static void PairMember(ArrayView<float> aPanel, ArrayView<float> bPanel, ArrayView<int> lastBlock, ArrayView<float> a, ArrayView<float> bMatrix,
        ArrayView<float> c, ArrayView<float> bias, ArrayView<float> partials, ArrayView<int> tileArrivals, in GemmArguments g, int t, int block)
    {
        int tilesX = (g.N + t - 1) / t, tilesY = (g.M + t - 1) / t;
        int tileX = block % tilesX;
        int rest = block / tilesX;
        int tileY = rest % tilesY;
        rest /= tilesY;
        int slice = rest % g.Slices, b = rest / g.Slices;
        int row = tileY * t + Group.IdxY, col = tileX * t + Group.IdxX;
        int kBegin = slice * g.KPerSlice;
        int kEnd = kBegin + g.KPerSlice < g.K ? kBegin + g.KPerSlice : g.K;
        float sum = TinyTileSum(aPanel, bPanel, a, bMatrix, g, t, b, tileY * t, tileX * t, kBegin, kEnd);
        if (g.Slices == 1)
        {
            if (row < g.M && col < g.N) Store(c, bias, g, b, row, col, sum);
            return;
        }
        var ownPartials = partials.SubView(g.PartialsOffset, partials.Length - g.PartialsOffset);
        WritePartial(ownPartials, g, b, g.Slices, slice, row, col, sum);
        if (!ArriveLast(lastBlock, tileArrivals, g.ArrivalsOffset + (b * tilesY + tileY) * tilesX + tileX, g.Slices)) return;
        AddSlicesAndStore(ownPartials.Cast<int>(), c, bias, g, b, g.Slices, row, col);
    }

    /// <summary>
    /// This thread's Σ_k op(A)[row, k]·op(B)[k, col] over k in [kBegin, kEnd), in increasing k, through
    /// <see cref="GemmArguments.PanelDepth"/>-deep panels (the depth changes when loads wait, not the sum's order).
    /// </summary>
    static float TinyTileSum(ArrayView<float> aPanel, ArrayView<float> bPanel, ArrayView<float> a, ArrayView<float> bMatrix, in GemmArguments g,
        int t, int b, int row0, int col0, int kBegin, int kEnd)
    {
        int pitch = t + 1, depth = g.PanelDepth;
        int tx = Group.IdxX, ty = Group.IdxY;
        float sum = 0f;
        for (int k0 = kBegin; k0 < kEnd; k0 += depth)
        {
            StagePanels(aPanel, bPanel, a, bMatrix, g, b, row0, col0, k0, kEnd, t, t, depth, pitch);
            Group.Barrier();
            int steps = kEnd - k0 < depth ? kEnd - k0 : depth;
            for (int k = 0; k < steps; k++) sum += aPanel[k * pitch + ty] * bPanel[k * pitch + tx];
            Group.Barrier();
        }
        return sum;
    }

    static void WritePartial(ArrayView<float> partials, in GemmArguments g, int b, int slices, int slice, int row, int col, float sum)
    {
        if (row < g.M && col < g.N) partials[((b * slices + slice) * g.M + row) * g.N + col] = sum;
    }

    /// <summary>
    /// Publishes this block's partials (device fence) and counts it on its tile's arrival counter; true in every
    /// thread of the block that arrived last, which also resets the counter to 0 for the next launch.
    /// </summary>
    static bool ArriveLast(ArrayView<int> lastBlock, ArrayView<int> tileArrivals, int tile, int slices)
    {
        MemoryFence.DeviceLevel();
        Group.Barrier();
        if (Group.IdxX == 0 && Group.IdxY == 0)
        {
            int arrived = Atomic.Add(ref tileArrivals[tile], 1);
            bool last = arrived == slices - 1;
            if (last) tileArrivals[tile] = 0;
            lastBlock[0] = last ? 1 : 0;
        }
        Group.Barrier();
        if (lastBlock[0] == 0) return false;
        MemoryFence.DeviceLevel();
        return true;
    }

    /// <summary>The slices' partials of (row, col) added in slice order, read through integer atomics (see <see cref="SplitKFused{TGeometry}"/>), then the epilogue.</summary>
    static void AddSlicesAndStore(ArrayView<int> partialBits, ArrayView<float> c, ArrayView<float> bias, in GemmArguments g, int b, int slices, int row, int col)
    {
        if (row >= g.M || col >= g.N) return;
        float total = 0f;
        for (int s = 0; s < slices; s++) total += Interop.IntAsFloat((uint)Atomic.Or(ref partialBits[((b * slices + s) * g.M + row) * g.N + col], 0));
        Store(c, bias, g, b, row, col, total);
    }

    /// <summary>
    /// Second half of a split-k GEMM, one thread per element of C (index (col, row, batch)): adds the slices'
    /// partial sums in slice order (deterministic) and applies the epilogue.
    /// </summary>
    public static void SplitKFinish(Index3D index, ArrayView<float> partials, ArrayView<float> c, ArrayView<float> bias, GemmArguments g, int slices)
    {
        int col = index.X, row = index.Y, b = index.Z;
        float sum = 0f;
        for (int slice = 0; slice < slices; slice++) sum += partials[((b * slices + slice) * g.M + row) * g.N + col];
        Store(c, bias, g, b, row, col, sum);
    }

    static void StorePair(ArrayView<float> c, ArrayView<float> bias, in GemmArguments g, int b, int row, int col, int step, float s0, float s1)
    {
        if (row >= g.M) return;
        if (col < g.N) Store(c, bias, g, b, row, col, s0);
        if (col + step < g.N) Store(c, bias, g, b, row, col + step, s1);
    }

    static void StoreRow(ArrayView<float> c, ArrayView<float> bias, in GemmArguments g, int b, int row, int col, int step,
        float s0, float s1, float s2, float s3)
    {
        if (row >= g.M) return;
        if (col < g.N) Store(c, bias, g, b, row, col, s0);
        if (col + step < g.N) Store(c, bias, g, b, row, col + step, s1);
        if (col + 2 * step < g.N) Store(c, bias, g, b, row, col + 2 * step, s2);
        if (col + 3 * step < g.N) Store(c, bias, g, b, row, col + 3 * step, s3);
    }
}
