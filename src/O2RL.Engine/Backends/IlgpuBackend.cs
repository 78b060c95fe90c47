using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using O2RL.Kernels;

namespace O2RL.Engine;

/// <summary>
/// The GPU backend: the <c>Gpu.cs</c> kernels of O2RL.Kernels run through ILGPU on CUDA, on OpenCL, or on ILGPU's
/// CPU accelerator (a SIMT simulator, for testing the kernels without a GPU). Create one with
/// <see cref="Devices.Create"/>.
/// </summary>
/// <remarks>
/// <para>Storage is one <c>MemoryBuffer1D</c> per allocation; tensors are views (offset, length) into it. Every op
/// is enqueued in call order on one stream (on CUDA a non-blocking stream of our own, which <see cref="GraphedStep"/>
/// can capture; elsewhere the accelerator's default stream) and never copies to the host; only
/// <see cref="Backend.Download"/>, <see cref="Backend.DownloadIndices"/> and <see cref="Synchronize"/> wait. Uploads
/// wait until the host span has been read, so the caller may reuse it at once.</para>
/// <para>Kernels are compiled on first use and cached for the life of the backend (ILGPU compiles each in roughly
/// 60–170 ms; OpenCL drivers add their own compile on top).</para>
/// <para>Determinism: no op uses float atomics. Every sum runs in a fixed order (per-thread strided partial sums,
/// then a fixed tree or fixed slice order within a group, then, for large sums, the group totals in index order), so
/// repeated runs on the same device give identical bits. Results differ from the
/// double-accumulating <c>Reference.cs</c> kernels by float rounding only.</para>
/// <para>Random numbers: <see cref="Backend.RandomUniform"/> and <see cref="Backend.RandomIndices"/> use only integer
/// Philox rounds and the reference's float mapping, and are bit-identical to <see cref="RandomReference"/> on
/// every device (checked on the ILGPU CPU accelerator and on PoCL; on CUDA the kernel leaves the assembler no
/// multiply-add to fuse, so the same holds there). <see cref="Backend.RandomNormal"/> goes through
/// the device's log, sqrt and cos: a draw z agrees with the reference to within 4·10⁻⁶·(1 + |z|) absolute
/// (measured differences on PoCL are at most 2.4·10⁻⁷, about 2 ulps at |z| ≈ 1; the CPU accelerator is exact).</para>
/// <para>Index values are not checked on the device: <see cref="Backend.GatherRows"/> with an index outside the source
/// rows reads out of bounds (draw indices with <see cref="Backend.RandomIndices"/>, or validate them on the host).</para>
/// <para>Launches per op: one for every op (a split-k GEMM too: the last block of each tile adds the slices; on
/// OpenCL two, partial sums then their sum; a <see cref="Backend.GemmPair"/> of products on the one-element kernels
/// too, except on OpenCL) except <see cref="Backend.LayerNormBackward"/> (two: parameter gradients, then the input gradient) and, above
/// 64 × 256 elements (64 × 16 on the CPU accelerator), <see cref="Backend.Sum"/>
/// (two: per-group partial sums, then their sum) and <see cref="Backend.ClipGradientNorm"/> (three: partial sums of
/// g², the norm, the scaling). Smaller sums, and the losses, run as a single thread group in one launch.</para>
/// </remarks>
public sealed class IlgpuBackend : Backend
{
    readonly Context context;
    readonly Accelerator accelerator;
    readonly AcceleratorStream stream;
    readonly bool simulatorGeometry;
    readonly int tileThreads, reduceThreads, columnThreads, rowSlices, maxPanelDepth;
    /// <summary>
    /// <see cref="GemmPanelDepth"/> on a GPU. (On the CPU accelerator it is 2T, so that the tests' products take
    /// several panels per slice, the last one partial.) With <see cref="DefaultSplitKBlocksPerMultiprocessor"/>, the
    /// fastest graphed SAC update of a sweep on an H100 (depth 16, 32, 64, 128 × 1, 2, 4, 8 blocks per SM):
    /// 0.424 ms against 0.466 for the earlier 16 and 4, in one run; fewer slices mean fewer partial sums to write,
    /// count and add, and the deeper panels keep the unsplit products' loads in flight together.
    /// </summary>
    const int DefaultDevicePanelDepth = 64;
    const int DefaultSplitKBlocksPerMultiprocessor = 1;
    /// <summary>A one-element buffer passed where a kernel parameter has no tensor (no bias, an empty input): ILGPU views must not be empty.</summary>
    readonly MemoryBuffer1D<float, Stride1D.Dense> placeholder;
    readonly MemoryBuffer1D<float, Stride1D.Dense> partials;

    /// <summary>Most groups in the first stage of a two-stage sum (the size of the partial-sum buffer).</summary>
    const int MaxPartialGroups = 1024;
    long kernelLaunches;

    internal IlgpuBackend(Context context, Device device, DeviceKind kind)
    {
        if (kind == DeviceKind.Cpu) throw new ArgumentException("the ILGPU backend runs on CUDA, OpenCL or the ILGPU CPU accelerator, not on DeviceKind.Cpu", nameof(kind));
        this.context = context;
        Kind = kind;
        accelerator = device.CreateAccelerator(context);
        // ILGPU's default CUDA stream is the legacy NULL stream, which CUDA cannot capture into a graph; our own
        // non-blocking stream can be, and every op of this backend goes to it.
        stream = accelerator is CudaAccelerator cuda ? cuda.CreateStream(StreamFlags.CU_STREAM_NON_BLOCKING) : accelerator.DefaultStream;
        // A real device takes 16×16-thread GEMM blocks, 256-thread row reductions and 32×8 column reductions; the CPU
        // accelerator's default device (and any device with groups under 256 threads) gets the 16-thread geometry.
        simulatorGeometry = accelerator.MaxNumThreadsPerGroup < 256;
        tileThreads = simulatorGeometry ? default(SimulatorGeometry).TileThreads : default(DeviceGeometry).TileThreads;
        reduceThreads = simulatorGeometry ? default(SimulatorGeometry).ReduceThreads : default(DeviceGeometry).ReduceThreads;
        columnThreads = simulatorGeometry ? default(SimulatorGeometry).ColumnThreads : default(DeviceGeometry).ColumnThreads;
        rowSlices = simulatorGeometry ? default(SimulatorGeometry).RowSlices : default(DeviceGeometry).RowSlices;
        fusedSplitK = accelerator.AcceleratorType != AcceleratorType.OpenCL;
        maxPanelDepth = simulatorGeometry ? default(SimulatorGeometry).MaxPanelDepth : default(DeviceGeometry).MaxPanelDepth;
        GemmPanelDepth = IntFromEnvironment(GemmPanelDepthVariable) ?? (simulatorGeometry ? 2 * tileThreads : DefaultDevicePanelDepth);
        SplitKBlocksPerMultiprocessor = IntFromEnvironment(SplitKBlocksVariable) ?? DefaultSplitKBlocksPerMultiprocessor;
        placeholder = accelerator.Allocate1D<float>(1);
        partials = accelerator.Allocate1D<float>(MaxPartialGroups);
        Name = kind switch
        {
            DeviceKind.Cuda => $"cuda ({accelerator.Name})",
            DeviceKind.OpenCL => $"opencl ({accelerator.Name})",
            _ => $"ilgpu-cpu ({accelerator.Name})",
        };
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    public override DeviceKind Kind { get; }

    /// <summary>Number of kernels launched so far (copies and fills by the driver not counted). For launch budgets in tests and benchmarks.</summary>
    public long KernelLaunchCount => Interlocked.Read(ref kernelLaunches);

    /// <summary>
    /// GEMMs with M·N·K at least this large use a tiled shared-memory kernel; smaller ones the naive kernel.
    /// </summary>
    internal long TiledGemmMinimumWork { get; set; } = 32L * 32 * 32;

    /// <summary>Threads along each side of a GEMM thread block (T): 16 on a GPU, 4 on the CPU accelerator.</summary>
    internal int GemmTileThreads => tileThreads;

    /// <summary>Multiprocessors (CUDA SMs, OpenCL compute units) of the device.</summary>
    internal int MultiprocessorCount => accelerator.NumMultiprocessors;

    /// <summary>The GEMM kernels: chosen by shape (<see cref="Auto"/>), or one of them for every shape.</summary>
    public enum GemmKernel { Auto, Naive, Tiled, TiledSmall, TiledTiny, SplitK }

    /// <summary>Environment variable that forces one GEMM kernel on ILGPU devices (for kernel benchmarks).</summary>
    public const string GemmKernelVariable = "O2RL_GEMM_KERNEL";

    /// <summary>
    /// Forces one GEMM kernel for every shape; <see cref="GemmKernel.Auto"/> (the default) chooses by shape. Starts
    /// from the environment variable <c>O2RL_GEMM_KERNEL</c> (auto, naive, tiled, tiled-small, tiled-tiny, split-k), so that
    /// each kernel can be timed on a device with <c>o2rl bench</c>; tests set it to check each kernel on its own.
    /// </summary>
    internal GemmKernel ForcedGemmKernel { get; set; } = ParseGemmKernel(Environment.GetEnvironmentVariable(GemmKernelVariable));

    internal static GemmKernel ParseGemmKernel(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => GemmKernel.Auto,
        "naive" => GemmKernel.Naive,
        "tiled" => GemmKernel.Tiled,
        "tiled-small" => GemmKernel.TiledSmall,
        "tiled-tiny" => GemmKernel.TiledTiny,
        "split-k" => GemmKernel.SplitK,
        _ => throw new ArgumentException($"{GemmKernelVariable}='{value}' is not a GEMM kernel; choose auto, naive, tiled, tiled-small, tiled-tiny or split-k"),
    };

    /// <summary>Environment variable that sets <see cref="GemmPanelDepth"/> (for kernel benchmarks).</summary>
    public const string GemmPanelDepthVariable = "O2RL_GEMM_PANEL_DEPTH";

    /// <summary>Environment variable that sets <see cref="SplitKBlocksPerMultiprocessor"/> (for kernel benchmarks).</summary>
    public const string SplitKBlocksVariable = "O2RL_SPLITK_BLOCKS_PER_SM";

    /// <summary>
    /// Depth of k that the one-element-per-thread GEMM kernels (T×T tiles, split-k, pairs) stage in shared memory at once (a multiple
    /// of T, at most the geometry's <see cref="IGpuGeometry.MaxPanelDepth"/>). Deeper panels wait for global memory
    /// fewer times per slice of k. Starts from <c>O2RL_GEMM_PANEL_DEPTH</c> where set.
    /// </summary>
    internal int GemmPanelDepth
    {
        get => panelDepth;
        set
        {
            if (value < tileThreads || value > maxPanelDepth || value % tileThreads != 0)
                throw new ArgumentException($"a GEMM panel depth must be a multiple of {tileThreads} from {tileThreads} to {maxPanelDepth}, not {value}");
            panelDepth = value;
        }
    }
    int panelDepth;

    /// <summary>
    /// Thread blocks per multiprocessor that <see cref="SplitKSlices"/> aims at when it splits k. Starts from
    /// <c>O2RL_SPLITK_BLOCKS_PER_SM</c> where set.
    /// </summary>
    internal int SplitKBlocksPerMultiprocessor
    {
        get => splitKBlocksPerMultiprocessor;
        set
        {
            if (value < 1 || value > 64) throw new ArgumentException($"split-k blocks per multiprocessor must be from 1 to 64, not {value}");
            splitKBlocksPerMultiprocessor = value;
        }
    }
    int splitKBlocksPerMultiprocessor;

    /// <summary>
    /// The GEMM settings in force, for benchmark records: the forced kernel (or auto), the panel depth, the split-k
    /// aim in blocks per multiprocessor, and whether backward pairs run in one launch.
    /// </summary>
    public string GemmSettings =>
        $"kernel={ForcedGemmKernel.ToString().ToLowerInvariant()} panel_depth={panelDepth} splitk_blocks_per_sm={splitKBlocksPerMultiprocessor} " +
        $"pair_one_launch={(PairGemmsInOneLaunch && fusedSplitK ? 1 : 0)} step_ops_fused={(FuseStepOps ? 1 : 0)}";

    /// <summary>
    /// Whether <see cref="Backend.AdamThenPolyak"/>, the noise-drawing tanh-Gaussian sample and <see cref="Backend.NoisyAction"/> run as one launch each
    /// (else as their two parts, with the same bits). Starts from <c>O2RL_FUSE_STEP_OPS</c> (0 turns it off), so a
    /// benchmark can time what the fusion is worth in the same run.
    /// </summary>
    internal bool FuseStepOps { get; set; } = Environment.GetEnvironmentVariable(FuseStepOpsVariable)?.Trim() != "0";

    /// <summary>Environment variable that turns off <see cref="FuseStepOps"/> with 0 (for kernel benchmarks).</summary>
    public const string FuseStepOpsVariable = "O2RL_FUSE_STEP_OPS";

    static int? IntFromEnvironment(string variable)
    {
        string? text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!int.TryParse(text.Trim(), out int value)) throw new ArgumentException($"{variable}='{text}' is not a whole number");
        return value;
    }

    /// <summary>
    /// The kernel for a shape: naive below <see cref="TiledGemmMinimumWork"/>; otherwise the tiled kernel with the
    /// largest tile (4T, 2T, T) whose thread blocks still outnumber the multiprocessors; when even T×T tiles do
    /// not, k is split (<see cref="SplitKSlices"/>), and the T×T kernel runs only where k is too short to split.
    /// The 256-row products of an RL update are too small to fill a GPU with large tiles.
    /// </summary>
    internal GemmKernel ChooseGemmKernel(in GemmShape shape)
    {
        if (ForcedGemmKernel != GemmKernel.Auto) return ForcedGemmKernel;
        if ((long)shape.M * shape.N * shape.K < TiledGemmMinimumWork) return GemmKernel.Naive;
        int multiprocessors = accelerator.NumMultiprocessors;
        if (GemmBlocks(shape, 4 * tileThreads) >= multiprocessors) return GemmKernel.Tiled;
        if (GemmBlocks(shape, 2 * tileThreads) >= multiprocessors) return GemmKernel.TiledSmall;
        return SplitKSlices(shape) > 1 ? GemmKernel.SplitK : GemmKernel.TiledTiny;
    }

    static long GemmBlocks(in GemmShape shape, int tile) =>
        (long)((shape.M + tile - 1) / tile) * ((shape.N + tile - 1) / tile) * shape.Batch;

    /// <summary>
    /// Slices of k for a split-k GEMM over T×T blocks: enough for about <see cref="SplitKBlocksPerMultiprocessor"/>
    /// blocks per multiprocessor, each slice at least one T-deep panel, at most 16.
    /// </summary>
    internal int SplitKSlices(in GemmShape shape)
    {
        long blocks = GemmBlocks(shape, tileThreads);
        long wanted = ((long)splitKBlocksPerMultiprocessor * accelerator.NumMultiprocessors + blocks - 1) / blocks;
        long panels = (shape.K + tileThreads - 1) / tileThreads;
        return (int)Math.Max(1, Math.Min(Math.Min(wanted, panels), 16));
    }

    // ───────────────────────────── memory ─────────────────────────────

    sealed class FloatStorage(MemoryBuffer1D<float, Stride1D.Dense> buffer, int length) : DeviceStorage
    {
        public readonly MemoryBuffer1D<float, Stride1D.Dense> Buffer = buffer;
        public override int Length => length;
        public override void Dispose() => Buffer.Dispose();
    }

    sealed class IndexStorage(MemoryBuffer1D<int, Stride1D.Dense> buffer, int length) : DeviceStorage
    {
        public readonly MemoryBuffer1D<int, Stride1D.Dense> Buffer = buffer;
        public override int Length => length;
        public override void Dispose() => Buffer.Dispose();
    }

    static ArrayView1D<float, Stride1D.Dense> View(Tensor t) => ((FloatStorage)t.Storage).Buffer.View.SubView(t.Offset, t.Length);

    static ArrayView1D<int, Stride1D.Dense> View(IndexTensor t) => ((IndexStorage)t.Storage).Buffer.View.SubView(0, t.Length);

    protected override DeviceStorage AllocateStorage(int length)
    {
        ThrowIfGraphed("allocating a tensor");
        // ILGPU buffers cannot be empty; an empty tensor still owns one (unused) element.
        var buffer = accelerator.Allocate1D<float>(Math.Max(1, length));
        buffer.View.MemSetToZero(stream);
        return new FloatStorage(buffer, length);
    }

    protected override DeviceStorage AllocateIndexStorage(int length)
    {
        ThrowIfGraphed("allocating a tensor");
        var buffer = accelerator.Allocate1D<int>(Math.Max(1, length));
        buffer.View.MemSetToZero(stream);
        return new IndexStorage(buffer, length);
    }

    protected override void UploadCore(ReadOnlySpan<float> source, Tensor destination)
    {
        ThrowIfGraphed("copying to the device");
        if (source.IsEmpty) return;
        View(destination).CopyFromCPU(stream, source);
        stream.Synchronize();
    }

    protected override void DownloadCore(Tensor source, Span<float> destination)
    {
        ThrowIfGraphed("copying to the host");
        if (destination.IsEmpty) return;
        View(source).CopyToCPU(stream, destination);
        stream.Synchronize();
    }

    protected override void UploadIndicesCore(ReadOnlySpan<int> source, IndexTensor destination)
    {
        ThrowIfGraphed("copying to the device");
        if (source.IsEmpty) return;
        View(destination).CopyFromCPU(stream, source);
        stream.Synchronize();
    }

    protected override void DownloadIndicesCore(IndexTensor source, Span<int> destination)
    {
        ThrowIfGraphed("copying to the host");
        if (destination.IsEmpty) return;
        View(source).CopyToCPU(stream, destination);
        stream.Synchronize();
    }

    protected override void CopyCore(Tensor source, Tensor destination)
    {
        int length = source.Length;
        if (length == 0) return;
        int shift = destination.Offset - source.Offset;
        bool sameStorage = ReferenceEquals(source.Storage, destination.Storage);
        if (sameStorage && shift == 0) return;
        if (!sameStorage || Math.Abs(shift) >= length)
        {
            if (Enqueue(kernel: false))
                View(source).CopyTo(stream, View(destination));
            return;
        }
        // Overlapping ranges of one buffer (memmove semantics): copy in chunks no longer than the shift, starting
        // from the end that is not overwritten before it is read.
        int chunk = Math.Abs(shift);
        var buffer = ((FloatStorage)source.Storage).Buffer.View;
        for (int done = 0; done < length; done += chunk)
        {
            int size = Math.Min(chunk, length - done);
            int at = shift > 0 ? length - done - size : done;
            if (Enqueue(kernel: false))
                buffer.SubView(source.Offset + at, size).CopyTo(stream, buffer.SubView(destination.Offset + at, size));
        }
    }

    protected override void FillCore(Tensor tensor, float value)
    {
        if (tensor.Length == 0) return;
        // In a graph every fill reads its value from the staged scalars (a zero fill too, so that a value that is
        // sometimes 0 does not switch between a memset and a kernel from one replay to the next).
        if (TryStage([DeviceScalars.FromFloat(value)], out var scalars))
        {
            if (Enqueue())
                fillGraphed!(stream, tensor.Length, View(tensor), scalars);
            return;
        }
        if (BitConverter.SingleToInt32Bits(value) == 0)
        {
            if (Enqueue(kernel: false))
                View(tensor).MemSetToZero(stream);
            return;
        }
        if (Enqueue())
            (fill ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, float>(ElementwiseGpu.Fill))(stream, tensor.Length, View(tensor), value);
    }

    /// <inheritdoc/>
    public override void Synchronize()
    {
        ThrowIfGraphed("waiting for the device");
        stream.Synchronize();
    }

    // ───────────────────────────── kernels (compiled on first use) ─────────────────────────────

    Action<AcceleratorStream, Index1D, ArrayView<float>, float>? fill;
    Action<AcceleratorStream, Index3D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments>? gemmNaive;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments>? gemmTiled;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments>? gemmTiledSmall;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments>? gemmTiledTiny;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, GemmArguments, int, int>? gemmSplitK;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int, int>? gemmPartial;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, PairArguments>? gemmPair;
    Action<AcceleratorStream, Index3D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int>? gemmFinish;
    /// <summary>
    /// Split-k in one launch (the last block of a tile adds the slices) on CUDA and the CPU accelerator; two launches
    /// on OpenCL, whose C 1.2 atomics need <c>__global</c> pointers that ILGPU's code for devices without a generic
    /// address space (PoCL) does not give them.
    /// </summary>
    internal bool FusedSplitK { get => fusedSplitK; set => fusedSplitK = value && accelerator.AcceleratorType != AcceleratorType.OpenCL; }
    bool fusedSplitK;
    /// <summary>Per-tile arrival counters of the fused split-k GEMM (all 0 between launches).</summary>
    MemoryBuffer1D<int, Stride1D.Dense>? splitKArrivals;
    /// <summary>Partial sums of split-k GEMMs (grown on demand; one stream, so one workspace serves every call).</summary>
    MemoryBuffer1D<float, Stride1D.Dense>? splitKWorkspace;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int>? activationForward;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>? activationBackward;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>? layerNormForward;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>? layerNormBackwardInput;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>? layerNormBackwardParameters;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, float, float>? unary;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, BinaryArguments>? binary;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? select;
    Action<AcceleratorStream, Index2D, ArrayView<float>, ArrayView<float>, CopyColumnsArguments>? copyColumns;
    Action<AcceleratorStream, Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>? concatColumns;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, float, float>? rowSum;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, float, float>? columnSum;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, float>? sum;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>? ensembleMin;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>? ensembleMinBackward;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>? mse;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>? expectile;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, SacActorLossArguments>? sacActorLoss;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SacTdLossArguments>? sacTdLoss;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments>? tanhGaussianSample;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments>? tanhGaussianSampleBackward;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments>? tanhGaussianLogProb;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, TanhGaussianArguments>? tanhGaussianLogProbBackward;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArguments>? adam;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, float>? polyak;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, float>? clip;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int>? partialSums;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, ArrayView<float>, float>? finishSum;
    Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, ArrayView<float>>? finishNorm;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, float>? scale;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>? gather;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ulong, ulong, float, float>? uniform;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ulong, ulong, float, float>? normal;
    Action<AcceleratorStream, Index1D, ArrayView<int>, ulong, ulong, int, int>? indices;

    /// <summary>Loads an explicitly grouped kernel specialised for this device's geometry.</summary>
    TDelegate LoadGrouped<TDelegate>(Func<Accelerator, TDelegate> device, Func<Accelerator, TDelegate> simulator) =>
        simulatorGeometry ? simulator(accelerator) : device(accelerator);


    /// <summary>One group of the reduction size.</summary>
    KernelConfig SingleGroup => new(new Index1D(1), new Index1D(reduceThreads));

    /// <summary>
    /// Sums of at most this many elements run as one group (one launch); larger ones in two stages, since a single
    /// group is bound by memory latency on a GPU once each thread walks thousands of elements.
    /// </summary>
    int SingleGroupSumLimit => 64 * reduceThreads;

    /// <summary>
    /// First stage of a two-stage sum of x (or of x² when <paramref name="square"/>) into the partial-sum buffer;
    /// returns the number of partials. The group count is a function of the length alone, so results repeat.
    /// </summary>
    int LaunchPartialSums(ArrayView<float> x, int length, bool square)
    {
        partialSums ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, int, int>(ReduceGpu.PartialSums<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, int, int>(ReduceGpu.PartialSums<SimulatorGeometry>));
        // About 16 elements per thread, at most MaxPartialGroups groups.
        int groups = (int)Math.Clamp((length + 16L * reduceThreads - 1) / (16L * reduceThreads), 1, MaxPartialGroups);
        if (Enqueue())
            partialSums(stream, new KernelConfig(new Index1D(groups), new Index1D(reduceThreads)), x, partials.View, length, square ? 1 : 0);
        return groups;
    }

    /// <summary>One reduction-size group per row.</summary>
    KernelConfig GroupPerRow(int rows) => new(new Index1D(rows), new Index1D(reduceThreads));

    /// <summary>Column-reduction groups covering <paramref name="cols"/> columns, for each of <paramref name="blocks"/> row blocks.</summary>
    KernelConfig ColumnGroups(int cols, int blocks) =>
        new(new Index2D((cols + columnThreads - 1) / columnThreads, blocks), new Index2D(columnThreads, rowSlices));

    // ───────────────────────────── GEMM ─────────────────────────────

    GemmArguments ArgumentsOf(in GemmShape shape, in GemmRequest g) => new()
    {
        M = shape.M, N = shape.N, K = shape.K, Lda = shape.Lda, Ldb = shape.Ldb,
        StrideA = shape.StrideA, StrideB = shape.StrideB, StrideC = shape.StrideC, StrideBias = shape.StrideBias,
        TransposeA = shape.TransposeA ? 1 : 0, TransposeB = shape.TransposeB ? 1 : 0, HasBias = g.Bias is null ? 0 : 1,
        ActivationBackward = g.ActivationOutput is null ? 0 : 1,
        Activation = (int)g.Activation, Alpha = g.Alpha, Beta = g.Beta, PanelDepth = panelDepth,
        Batch = shape.Batch, Slices = 1, KPerSlice = Math.Max(1, shape.K),
    };

    /// <summary>
    /// Slices of k and k per slice of a split-k GEMM over T×T blocks: at least two slices where k allows,
    /// each a whole number of T-deep panels.
    /// </summary>
    (int Slices, int KPerSlice) SplitKPlan(in GemmShape shape)
    {
        int slices = Math.Max(2, SplitKSlices(shape));
        int kPerSlice = Math.Max(tileThreads, ((shape.K + slices - 1) / slices + tileThreads - 1) / tileThreads * tileThreads);
        return (Math.Max(1, (shape.K + kPerSlice - 1) / kPerSlice), kPerSlice);
    }

    /// <summary>The view of A, B or the bias/Y slot for a kernel: ILGPU views must not be empty.</summary>
    ArrayView<float> ViewOrPlaceholder(Tensor? t) => t is null || t.Length == 0 ? placeholder.View : View(t);

    /// <summary>The split-k workspace, grown to at least <paramref name="needed"/> floats (never inside a graph).</summary>
    ArrayView<float> SplitKWorkspace(long needed)
    {
        if (needed > int.MaxValue) throw new ArgumentException($"split-k GEMM workspace of {needed} floats is too large");
        if (splitKWorkspace is null || splitKWorkspace.Length < needed)
        {
            // A graph keeps the pointers it was captured with, so the workspace must not move under one.
            ThrowIfGraphed("growing the split-k GEMM workspace");
            splitKWorkspace?.Dispose();
            splitKWorkspace = accelerator.Allocate1D<float>(Math.Max(1, needed));
        }
        return splitKWorkspace.View.SubView(0, Math.Max(1, needed));
    }

    /// <summary>The split-k tile counters, grown to at least <paramref name="tiles"/> (all 0 between launches).</summary>
    ArrayView<int> SplitKArrivals(long tiles)
    {
        if (splitKArrivals is null || splitKArrivals.Length < tiles)
        {
            ThrowIfGraphed("growing the split-k GEMM tile counters");
            splitKArrivals?.Dispose();
            splitKArrivals = accelerator.Allocate1D<int>(Math.Max(1, tiles));
            // The fused kernels leave every counter at 0, so they are zeroed once, here.
            splitKArrivals.View.MemSetToZero(stream);
        }
        return splitKArrivals.View.SubView(0, Math.Max(1, tiles));
    }

    /// <summary>
    /// Launch both GEMMs of a <see cref="Backend.GemmPair"/> as one kernel where each would run on the one-element
    /// kernels (naive, T×T tiles or split-k over them) and split-k runs in one launch (not on OpenCL). Starts from
    /// <c>O2RL_GEMM_PAIR</c> (0 turns it off).
    /// </summary>
    internal bool PairGemmsInOneLaunch { get; set; } = Environment.GetEnvironmentVariable(GemmPairVariable)?.Trim() != "0";

    /// <summary>Environment variable that turns off <see cref="PairGemmsInOneLaunch"/> with 0 (for kernel benchmarks).</summary>
    public const string GemmPairVariable = "O2RL_GEMM_PAIR";

    protected override void GemmPairCore(in GemmShape firstShape, in GemmRequest first, in GemmShape secondShape, in GemmRequest second)
    {
        if (!TryLaunchPair(firstShape, first, secondShape, second, null, 0)) base.GemmPairCore(firstShape, first, secondShape, second);
    }

    protected override void GemmPairAndColumnSumCore(in GemmShape firstShape, in GemmRequest first, GemmShape? secondShape, GemmRequest? second,
        in ColumnSumRequest sum, int sumBatch)
    {
        if (!TryLaunchPair(firstShape, first, secondShape, second, sum, sumBatch))
            base.GemmPairAndColumnSumCore(firstShape, first, secondShape, second, sum, sumBatch);
    }

    /// <summary>
    /// One launch of <see cref="GemmGpu.PairFused{TGeometry}"/> for a GEMM, an optional second GEMM and an optional
    /// column sum, where <see cref="PairGemmsInOneLaunch"/> is on, split-k runs in one launch (not on OpenCL) and each
    /// GEMM would run on the one-element kernels (naive, T×T tiles or split-k over them); false, launching nothing,
    /// otherwise.
    /// </summary>
    bool TryLaunchPair(in GemmShape firstShape, in GemmRequest first, GemmShape? secondShape, GemmRequest? second, ColumnSumRequest? sum, int sumBatch)
    {
        static bool OneElement(GemmKernel kernel) => kernel is GemmKernel.Naive or GemmKernel.TiledTiny or GemmKernel.SplitK;
        static bool Empty(in GemmShape shape) => shape.M == 0 || shape.N == 0 || shape.Batch == 0;
        if (!PairGemmsInOneLaunch || !fusedSplitK || Empty(firstShape)) return false;
        var firstKernel = ChooseGemmKernel(firstShape);
        if (!OneElement(firstKernel)) return false;
        GemmKernel? secondKernel = null;
        if (secondShape is { } s2)
        {
            if (Empty(s2)) return false;
            secondKernel = ChooseGemmKernel(s2);
            if (!OneElement(secondKernel.Value)) return false;
        }
        var arguments = new PairArguments { First = ArgumentsOf(firstShape, first) };
        long blocks = 0, partialsNeeded = 0, tilesNeeded = 0;
        void Plan(ref GemmArguments g, in GemmShape shape, GemmKernel kernel)
        {
            if (kernel == GemmKernel.SplitK) (g.Slices, g.KPerSlice) = SplitKPlan(shape);
            long tiles = GemmBlocks(shape, tileThreads);
            blocks += tiles * g.Slices;
            if (g.Slices > 1)
            {
                g.PartialsOffset = (int)partialsNeeded;
                g.ArrivalsOffset = (int)tilesNeeded;
                partialsNeeded += (long)g.Slices * shape.Batch * shape.M * shape.N;
                tilesNeeded += tiles;
            }
        }
        Plan(ref arguments.First, firstShape, firstKernel);
        if (secondShape is { } shape2)
        {
            arguments.Second = ArgumentsOf(shape2, second!.Value);
            Plan(ref arguments.Second, shape2, secondKernel!.Value);
        }
        // else Second stays all zero: M = 0 gives it no blocks.
        if (sum is { } columnSum && columnSum.Y.Length > 0)
        {
            // The kernel's column-sum blocks are T² threads: T² / RowSlices columns × RowSlices row slices.
            int columnsPerBlock = tileThreads * tileThreads / rowSlices;
            int cols = columnSum.X.Cols;
            arguments.Sum = new ColumnSumArguments
            {
                Rows = columnSum.X.Length / Math.Max(1, sumBatch * cols), Cols = cols, Alpha = columnSum.Alpha, Beta = columnSum.Beta,
                Blocks = (cols + columnsPerBlock - 1) / columnsPerBlock * sumBatch,
            };
            blocks += arguments.Sum.Blocks;
        }
        if (blocks > int.MaxValue || partialsNeeded > int.MaxValue) return false;
        var workspace = SplitKWorkspace(partialsNeeded);
        var arrivals = SplitKArrivals(tilesNeeded);
        gemmPair ??= LoadGrouped(
            x => x.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, PairArguments>(GemmGpu.PairFused<DeviceGeometry>),
            x => x.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, PairArguments>(GemmGpu.PairFused<SimulatorGeometry>));
        if (Enqueue())
            gemmPair(stream, new KernelConfig(new Index3D((int)blocks, 1, 1), new Index3D(tileThreads, tileThreads, 1)),
                ViewOrPlaceholder(first.A), ViewOrPlaceholder(first.B), View(first.C), ViewOrPlaceholder(first.ActivationOutput ?? first.Bias),
                ViewOrPlaceholder(second?.A), ViewOrPlaceholder(second?.B), ViewOrPlaceholder(second?.C), ViewOrPlaceholder(second?.ActivationOutput ?? second?.Bias),
                workspace, arrivals, ViewOrPlaceholder(sum?.X), ViewOrPlaceholder(sum?.Y), arguments);
        return true;
    }

    protected override void GemmCore(in GemmShape shape, in GemmRequest g)
    {
        Tensor a = g.A, b = g.B, c = g.C;
        Tensor? bias = g.ActivationOutput ?? g.Bias;
        if (shape.M == 0 || shape.N == 0 || shape.Batch == 0) return;
        var arguments = ArgumentsOf(shape, g);
        // K = 0 leaves nothing to read in A or B; give the kernels a valid one-element view instead of an empty one.
        // The bias view carries Y for the backward epilogue (see GemmArguments.ActivationBackward).
        var aView = ViewOrPlaceholder(a);
        var bView = ViewOrPlaceholder(b);
        var biasView = ViewOrPlaceholder(bias);
        var kernel = ChooseGemmKernel(shape);
        switch (kernel)
        {
            case GemmKernel.Tiled:
                LaunchTiled(ref gemmTiled, GemmGpu.Tiled<DeviceGeometry>, GemmGpu.Tiled<SimulatorGeometry>, 4 * tileThreads, shape, aView, bView, View(c), biasView, arguments);
                break;
            case GemmKernel.TiledSmall:
                LaunchTiled(ref gemmTiledSmall, GemmGpu.TiledSmall<DeviceGeometry>, GemmGpu.TiledSmall<SimulatorGeometry>, 2 * tileThreads, shape, aView, bView, View(c), biasView, arguments);
                break;
            case GemmKernel.TiledTiny:
                LaunchTiled(ref gemmTiledTiny, GemmGpu.TiledTiny<DeviceGeometry>, GemmGpu.TiledTiny<SimulatorGeometry>, tileThreads, shape, aView, bView, View(c), biasView, arguments);
                break;
            case GemmKernel.SplitK:
            {
                var (slices, kPerSlice) = SplitKPlan(shape);
                var workspace = SplitKWorkspace((long)slices * shape.Batch * shape.M * shape.N);
                var grid = new Index3D((shape.N + tileThreads - 1) / tileThreads, (shape.M + tileThreads - 1) / tileThreads, shape.Batch * slices);
                var blocks = new KernelConfig(grid, new Index3D(tileThreads, tileThreads, 1));
                if (!fusedSplitK)
                {
                    gemmPartial ??= LoadGrouped(
                        x => x.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int, int>(GemmGpu.TiledTinyPartial<DeviceGeometry>),
                        x => x.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int, int>(GemmGpu.TiledTinyPartial<SimulatorGeometry>));
                    gemmFinish ??= accelerator.LoadAutoGroupedKernel<Index3D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int>(GemmGpu.SplitKFinish);
                    if (Enqueue())
                        gemmPartial(stream, blocks, aView, bView, workspace, arguments, slices, kPerSlice);
                    if (Enqueue())
                        gemmFinish(stream, new Index3D(shape.N, shape.M, shape.Batch), workspace, View(c), biasView, arguments, slices);
                    break;
                }
                long tiles = (long)grid.X * grid.Y * shape.Batch;
                var arrivals = SplitKArrivals(tiles);
                gemmSplitK ??= LoadGrouped(
                    x => x.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, GemmArguments, int, int>(GemmGpu.SplitKFused<DeviceGeometry>),
                    x => x.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, GemmArguments, int, int>(GemmGpu.SplitKFused<SimulatorGeometry>));
                if (Enqueue())
                    gemmSplitK(stream, blocks, aView, bView, workspace, View(c), biasView, arrivals, arguments, slices, kPerSlice);
                break;
            }
            default:
                gemmNaive ??= accelerator.LoadAutoGroupedKernel<Index3D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments>(GemmGpu.Naive);
                if (Enqueue())
                    gemmNaive(stream, new Index3D(shape.N, shape.M, shape.Batch), aView, bView, View(c), biasView, arguments);
                break;
        }
    }

    /// <summary>Launches one of the tiled GEMM kernels (compiled on first use) over tile×tile blocks of C, T×T threads each.</summary>
    void LaunchTiled(ref Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments>? kernel,
        Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments> deviceKernel,
        Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments> simulatorKernel,
        int tile, in GemmShape shape, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmArguments arguments,
        [CallerLineNumber] int site = 0)
    {
        kernel ??= LoadGrouped(x => x.LoadKernel(deviceKernel), x => x.LoadKernel(simulatorKernel));
        var grid = new Index3D((shape.N + tile - 1) / tile, (shape.M + tile - 1) / tile, shape.Batch);
        if (Enqueue(site))
            kernel(stream, new KernelConfig(grid, new Index3D(tileThreads, tileThreads, 1)), a, b, c, bias, arguments);
    }

    // ───────────────────────────── activations and LayerNorm ─────────────────────────────

    protected override void ActivationForwardCore(Activation activation, Tensor x, Tensor y)
    {
        if (x.Length == 0) return;
        if (Enqueue())
            (activationForward ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(ActivationGpu.Forward))(
                stream, x.Length, View(x), View(y), (int)activation);
    }

    protected override void ActivationBackwardCore(Activation activation, Tensor y, Tensor dy, Tensor dx)
    {
        if (y.Length == 0) return;
        if (Enqueue())
            (activationBackward ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ActivationGpu.Backward))(
                stream, y.Length, View(y), View(dy), View(dx), (int)activation);
    }

    protected override void LayerNormForwardCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor rstd, float epsilon, int groups,
        Activation activation)
    {
        if (x.Rows == 0) return;
        var arguments = new LayerNormArguments { Rows = x.Rows, Cols = x.Cols, RowsPerGroup = x.Rows / groups, Epsilon = epsilon, Activation = (int)activation };
        layerNormForward ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>(LayerNormGpu.Forward<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>(LayerNormGpu.Forward<SimulatorGeometry>));
        if (Enqueue())
            layerNormForward(stream, GroupPerRow(x.Rows), View(x), View(gamma), View(beta), View(y), View(mean), View(rstd), arguments);
    }

    protected override void LayerNormBackwardCore(Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, Tensor dgamma, Tensor dbeta, int groups)
    {
        if (x.Rows == 0) return;
        var arguments = new LayerNormArguments { Rows = x.Rows, Cols = x.Cols, RowsPerGroup = x.Rows / groups, Epsilon = 0f };
        // Parameter gradients first: they read dy and x, which dx may alias.
        layerNormBackwardParameters ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>(LayerNormGpu.BackwardParameters<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>(LayerNormGpu.BackwardParameters<SimulatorGeometry>));
        layerNormBackwardInput ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>(LayerNormGpu.BackwardInput<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LayerNormArguments>(LayerNormGpu.BackwardInput<SimulatorGeometry>));
        if (Enqueue())
            layerNormBackwardParameters(stream, ColumnGroups(x.Cols, groups), View(x), View(dy), View(mean), View(rstd), View(dgamma), View(dbeta), arguments);
        if (Enqueue())
            layerNormBackwardInput(stream, GroupPerRow(x.Rows), View(x), View(dy), View(gamma), View(mean), View(rstd), View(dx), arguments);
    }

    // ───────────────────────────── elementwise ─────────────────────────────

    protected override void UnaryCore(UnaryOp op, Tensor x, Tensor y, float a, float b)
    {
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        if (x.Length == 0) return;
        if (Enqueue())
            (unary ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int, float, float>(ElementwiseGpu.Unary))(
                stream, x.Length, View(x), View(y), (int)op, a, b);
    }

    protected override void BinaryCore(BinaryOp op, Tensor x, Tensor y, Tensor z, float alpha, float beta, Broadcast broadcast)
    {
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        if (x.Length == 0) return;
        var arguments = new BinaryArguments { Op = (int)op, Broadcast = (int)broadcast, Cols = x.Cols, Alpha = alpha, Beta = beta };
        if (Enqueue())
            (binary ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, BinaryArguments>(ElementwiseGpu.Binary))(
                stream, x.Length, View(x), View(y), View(z), arguments);
    }

    protected override void SelectCore(Tensor condition, Tensor x, Tensor y, Tensor z)
    {
        if (x.Length == 0) return;
        if (Enqueue())
            (select ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementwiseGpu.Select))(
                stream, x.Length, View(condition), View(x), View(y), View(z));
    }

    protected override void CopyColumnsCore(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int columnCount)
    {
        if (columnCount == 0 || source.Rows == 0) return;
        var arguments = new CopyColumnsArguments { SourceCols = source.Cols, SourceColumn = sourceColumn, DestinationCols = destination.Cols, DestinationColumn = destinationColumn };
        if (Enqueue())
            (copyColumns ??= accelerator.LoadAutoGroupedKernel<Index2D, ArrayView<float>, ArrayView<float>, CopyColumnsArguments>(ElementwiseGpu.CopyColumns))(
                stream, new Index2D(columnCount, source.Rows), View(source), View(destination), arguments);
    }

    protected override void ConcatColumnsCore(Tensor left, Tensor right, Tensor destination)
    {
        if (destination.Length == 0) return;
        // An empty block still needs a valid view for the kernel (it is never read).
        var leftView = left.Length == 0 ? placeholder.View : View(left);
        var rightView = right.Length == 0 ? placeholder.View : View(right);
        if (Enqueue())
            (concatColumns ??= accelerator.LoadAutoGroupedKernel<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(ElementwiseGpu.ConcatColumns))(
                stream, new Index2D(destination.Cols, destination.Rows), leftView, rightView, View(destination), left.Cols, right.Cols);
    }

    // ───────────────────────────── reductions ─────────────────────────────

    protected override void RowSumCore(Tensor x, Tensor y, float alpha, float beta)
    {
        if (x.Rows == 0) return;
        rowSum ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, int, float, float>(ReduceGpu.RowSum<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, int, float, float>(ReduceGpu.RowSum<SimulatorGeometry>));
        if (Enqueue())
            rowSum(stream, GroupPerRow(x.Rows), View(x), View(y), x.Cols, alpha, beta);
    }

    protected override void ColumnSumCore(Tensor x, Tensor y, float alpha, float beta, int batch)
    {
        if (y.Length == 0) return;
        int rows = x.Length / Math.Max(1, batch * x.Cols);
        columnSum ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, float, float>(ReduceGpu.ColumnSum<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, float, float>(ReduceGpu.ColumnSum<SimulatorGeometry>));
        if (Enqueue())
            columnSum(stream, ColumnGroups(x.Cols, batch), x.Length == 0 ? placeholder.View : View(x), View(y), rows, x.Cols, alpha, beta);
    }

    protected override void SumCore(Tensor x, Tensor y, float alpha)
    {
        if (x.Length > SingleGroupSumLimit)
        {
            int count = LaunchPartialSums(View(x), x.Length, square: false);
            finishSum ??= LoadGrouped(
                d => d.LoadKernel<ArrayView<float>, int, ArrayView<float>, float>(ReduceGpu.FinishSum<DeviceGeometry>),
                s => s.LoadKernel<ArrayView<float>, int, ArrayView<float>, float>(ReduceGpu.FinishSum<SimulatorGeometry>));
            if (Enqueue())
                finishSum(stream, SingleGroup, partials.View, count, View(y), alpha);
            return;
        }
        sum ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, int, float>(ReduceGpu.Sum<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, int, float>(ReduceGpu.Sum<SimulatorGeometry>));
        if (Enqueue())
            sum(stream, SingleGroup, x.Length == 0 ? placeholder.View : View(x), View(y), x.Length, alpha);
    }

    protected override void EnsembleMinCore(Tensor x, Tensor y, Tensor argMin, int members)
    {
        if (y.Length == 0) return;
        if (Enqueue())
            (ensembleMin ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(ReduceGpu.EnsembleMin))(
                stream, y.Length, View(x), View(y), View(argMin), y.Length, members);
    }

    protected override void EnsembleMinBackwardCore(Tensor argMin, Tensor dy, Tensor dx, int members)
    {
        if (dx.Length == 0) return;
        if (Enqueue())
            (ensembleMinBackward ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReduceGpu.EnsembleMinBackward))(
                stream, dx.Length, View(argMin), View(dy), View(dx), dy.Length);
    }

    // ───────────────────────────── losses ─────────────────────────────

    protected override void MseLossCore(Tensor prediction, Tensor target, Tensor gradient, Tensor loss, float scale)
    {
        mse ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(LossGpu.Mse<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(LossGpu.Mse<SimulatorGeometry>));
        bool empty = prediction.Length == 0;
        if (Enqueue())
            mse(stream, SingleGroup, empty ? placeholder.View : View(prediction), empty ? placeholder.View : View(target), empty ? placeholder.View : View(gradient),
                View(loss), prediction.Length, scale);
    }

    protected override void ExpectileLossCore(Tensor prediction, Tensor target, float tau, Tensor gradient, Tensor loss)
    {
        expectile ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(LossGpu.Expectile<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(LossGpu.Expectile<SimulatorGeometry>));
        bool empty = prediction.Length == 0;
        if (Enqueue())
            expectile(stream, SingleGroup, empty ? placeholder.View : View(prediction), empty ? placeholder.View : View(target), empty ? placeholder.View : View(gradient),
                View(loss), prediction.Length, tau);
    }

    // ───────────────────────────── SAC losses ─────────────────────────────

    protected override void SoftActorLossCore(Tensor q, Tensor logProb, Tensor alpha, Tensor qGradient, Tensor logProbGradient, Tensor loss, int critics,
        Tensor? logAlpha, float targetEntropy, Tensor? logAlphaGradient, Tensor? alphaLoss)
    {
        sacActorLoss ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SacActorLossArguments>(SacLossGpu.ActorLoss<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SacActorLossArguments>(SacLossGpu.ActorLoss<SimulatorGeometry>));
        var arguments = new SacActorLossArguments
        {
            Critics = critics, Batch = logProb.Length, HasTemperature = logAlpha is null ? 0 : 1, TargetEntropy = targetEntropy,
        };
        if (Enqueue())
            sacActorLoss(stream, SingleGroup, View(q), View(logProb), View(alpha), View(qGradient), View(logProbGradient), View(loss),
                ViewOrPlaceholder(logAlpha), ViewOrPlaceholder(logAlphaGradient), ViewOrPlaceholder(alphaLoss), arguments);
    }

    protected override void SoftTdLossCore(Tensor q, Tensor nextQ, Tensor? nextLogProb, Tensor alpha, Tensor? nextCost, Tensor rewards, Tensor terminals,
        float gamma, Tensor gradient, Tensor loss, Tensor meanQ, Tensor? target, int critics, int nextCritics)
    {
        sacTdLoss ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SacTdLossArguments>(SacLossGpu.TdLoss<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SacTdLossArguments>(SacLossGpu.TdLoss<SimulatorGeometry>));
        var arguments = new SacTdLossArguments
        {
            Critics = critics, NextCritics = nextCritics, Batch = rewards.Length, Gamma = gamma,
            HasLogProb = nextLogProb is null ? 0 : 1, HasCost = nextCost is null ? 0 : 1, HasTarget = target is null ? 0 : 1,
        };
        if (Enqueue())
            sacTdLoss(stream, SingleGroup, View(q), View(nextQ), ViewOrPlaceholder(nextLogProb), View(alpha), ViewOrPlaceholder(nextCost), View(rewards),
                View(terminals), View(gradient), ViewOrPlaceholder(target), View(loss), View(meanQ), arguments);
    }

    // ───────────────────────────── distributions ─────────────────────────────

    protected override void TanhGaussianSampleCore(Tensor head, Tensor noise, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, Tensor action, Tensor stdNoise, Tensor logProb)
    {
        var arguments = new TanhGaussianArguments
        {
            Rows = action.Rows, ActionDim = action.Cols, MinLogStd = minLogStd, MaxLogStd = maxLogStd,
            LogProbConstant = TanhGaussianReference.LogProbConstant(action.Cols),
        };
        if (Enqueue())
            (tanhGaussianSample ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments>(TanhGaussianGpu.Sample))(
                stream, action.Rows, View(head), View(noise), View(logStdMultiplier), View(logStdOffset), View(action), View(stdNoise), View(logProb), arguments);
    }

    protected override void TanhGaussianSampleDrawingCore(Tensor head, Tensor noise, PhiloxDraw draw, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, Tensor action, Tensor stdNoise, Tensor logProb)
    {
        if (!FuseStepOps)
        {
            base.TanhGaussianSampleDrawingCore(head, noise, draw, logStdMultiplier, logStdOffset, minLogStd, maxLogStd, action, stdNoise, logProb);
            return;
        }
        var arguments = new TanhGaussianArguments
        {
            Rows = action.Rows, ActionDim = action.Cols, MinLogStd = minLogStd, MaxLogStd = maxLogStd,
            LogProbConstant = TanhGaussianReference.LogProbConstant(action.Cols), DrawMean = 0f, DrawStd = 1f,
        };
        // The seed and counter change every step: a graph re-reads them, as RandomNormal's (same staged layout).
        if (TryStage([draw.Seed, draw.Counter, DeviceScalars.FromFloat(0f), DeviceScalars.FromFloat(1f)], out var scalars))
        {
            if (Enqueue())
                (tanhGaussianSampleDrawingGraphed ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments, ArrayView<ulong>>(TanhGaussianGpu.SampleDrawingNoiseWithDeviceScalars))(
                    stream, action.Rows, View(head), View(noise), View(logStdMultiplier), View(logStdOffset), View(action), View(stdNoise), View(logProb), arguments, scalars);
            return;
        }
        if (Enqueue())
            (tanhGaussianSampleDrawing ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments, ulong, ulong>(TanhGaussianGpu.SampleDrawingNoise))(
                stream, action.Rows, View(head), View(noise), View(logStdMultiplier), View(logStdOffset), View(action), View(stdNoise), View(logProb), arguments, draw.Seed, draw.Counter);
    }

    protected override void NoisyActionCore(Tensor mean, Tensor noise, PhiloxDraw draw, float noiseStd, float noiseClip, float actionLimit,
        Tensor clippedNoise, Tensor preClamp, Tensor action)
    {
        if (!FuseStepOps)
        {
            base.NoisyActionCore(mean, noise, draw, noiseStd, noiseClip, actionLimit, clippedNoise, preClamp, action);
            return;
        }
        var arguments = new NoisyActionArguments
        {
            NoiseStd = noiseStd, ClipNoise = float.IsFinite(noiseClip) ? 1 : 0, NoiseClip = float.IsFinite(noiseClip) ? noiseClip : 0f,
            ClampAction = float.IsFinite(actionLimit) ? 1 : 0, ActionLimit = float.IsFinite(actionLimit) ? actionLimit : 0f,
            NoiseOffset = 0f, MeanWeight = 1f, NoiseWeight = 1f, DrawMean = 0f, DrawStd = 1f,
        };
        if (TryStage([draw.Seed, draw.Counter, DeviceScalars.FromFloat(0f), DeviceScalars.FromFloat(1f)], out var scalars))
        {
            if (Enqueue())
                (noisyActionGraphed ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NoisyActionArguments, ArrayView<ulong>>(NoisyActionGpu.ApplyWithDeviceScalars))(
                    stream, mean.Length, View(mean), View(noise), View(clippedNoise), View(preClamp), View(action), arguments, scalars);
            return;
        }
        if (Enqueue())
            (noisyAction ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NoisyActionArguments, ulong, ulong>(NoisyActionGpu.Apply))(
                stream, mean.Length, View(mean), View(noise), View(clippedNoise), View(preClamp), View(action), arguments, draw.Seed, draw.Counter);
    }

    protected override void TanhGaussianSampleBackwardCore(Tensor head, Tensor logStdMultiplier, Tensor logStdOffset, float minLogStd, float maxLogStd,
        Tensor action, Tensor stdNoise, Tensor? actionGradient, Tensor? logProbGradient, Tensor? preImageGradient,
        Tensor headGradient, Tensor logStdMultiplierGradient, Tensor logStdOffsetGradient)
    {
        var arguments = new TanhGaussianArguments
        {
            Rows = action.Rows, ActionDim = action.Cols, MinLogStd = minLogStd, MaxLogStd = maxLogStd,
            HasActionGradient = actionGradient is null ? 0 : 1, HasLogProbGradient = logProbGradient is null ? 0 : 1,
            HasPreImageGradient = preImageGradient is null ? 0 : 1,
        };
        tanhGaussianSampleBackward ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments>(TanhGaussianGpu.SampleBackward<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments>(TanhGaussianGpu.SampleBackward<SimulatorGeometry>));
        if (Enqueue())
            tanhGaussianSampleBackward(stream, SingleGroup, View(head), View(logStdMultiplier), View(logStdOffset), View(action), View(stdNoise),
                actionGradient is null ? placeholder.View : View(actionGradient), logProbGradient is null ? placeholder.View : View(logProbGradient),
                preImageGradient is null ? placeholder.View : View(preImageGradient),
                View(headGradient), View(logStdMultiplierGradient), View(logStdOffsetGradient), arguments);
    }

    protected override void TanhGaussianLogProbCore(Tensor head, Tensor action, Tensor logStdMultiplier, Tensor logStdOffset,
        float minLogStd, float maxLogStd, float actionBound, Tensor logProb, Tensor saved, bool givenIsPreImage)
    {
        var arguments = new TanhGaussianArguments
        {
            Rows = action.Rows, ActionDim = action.Cols, MinLogStd = minLogStd, MaxLogStd = maxLogStd,
            LogProbConstant = TanhGaussianReference.LogProbConstant(action.Cols), ActionBound = actionBound,
            GivenIsPreImage = givenIsPreImage ? 1 : 0,
        };
        if (Enqueue())
            (tanhGaussianLogProb ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments>(TanhGaussianGpu.LogProb))(
                stream, action.Rows, View(head), View(action), View(logStdMultiplier), View(logStdOffset), View(logProb), View(saved), arguments);
    }

    protected override void TanhGaussianLogProbBackwardCore(Tensor head, Tensor logStdMultiplier, Tensor logStdOffset, float minLogStd, float maxLogStd,
        Tensor saved, Tensor logProbGradient, Tensor actionGradient, Tensor? headGradient, Tensor? logStdMultiplierGradient, Tensor? logStdOffsetGradient)
    {
        var arguments = new TanhGaussianArguments
        {
            Rows = actionGradient.Rows, ActionDim = actionGradient.Cols, MinLogStd = minLogStd, MaxLogStd = maxLogStd,
            HasHeadGradient = headGradient is null ? 0 : 1,
        };
        tanhGaussianLogProbBackward ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, TanhGaussianArguments>(TanhGaussianGpu.LogProbBackward<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, TanhGaussianArguments>(TanhGaussianGpu.LogProbBackward<SimulatorGeometry>));
        if (Enqueue())
            tanhGaussianLogProbBackward(stream, SingleGroup, View(head), View(logStdMultiplier), View(logStdOffset), View(saved), View(logProbGradient),
                View(actionGradient), headGradient is null ? placeholder.View : View(headGradient),
                logStdMultiplierGradient is null ? placeholder.View : View(logStdMultiplierGradient),
                logStdOffsetGradient is null ? placeholder.View : View(logStdOffsetGradient), arguments);
    }

    // ───────────────────────────── optimisation ─────────────────────────────

    protected override void AdamCore(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2)
    {
        if (parameters.Length == 0) return;
        if (TryStage([DeviceScalars.FromFloat(stepSize), DeviceScalars.FromFloat(beta1), DeviceScalars.FromFloat(beta2),
                DeviceScalars.FromFloat(epsilon), DeviceScalars.FromFloat(rootBiasCorrection2)], out var scalars))
        {
            if (Enqueue())
                adamGraphed!(stream, parameters.Length, View(parameters), View(gradients), View(firstMoment), View(secondMoment), scalars);
            return;
        }
        var arguments = new AdamArguments { StepSize = stepSize, Beta1 = beta1, Beta2 = beta2, Epsilon = epsilon, RootBiasCorrection2 = rootBiasCorrection2 };
        if (Enqueue())
            (adam ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArguments>(AdamGpu.Step))(
                stream, parameters.Length, View(parameters), View(gradients), View(firstMoment), View(secondMoment), arguments);
    }

    protected override void AdamThenPolyakCore(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float stepSize, float beta1, float beta2, float epsilon, float rootBiasCorrection2, Tensor target, float tau)
    {
        if (!FuseStepOps)
        {
            base.AdamThenPolyakCore(parameters, gradients, firstMoment, secondMoment, stepSize, beta1, beta2, epsilon, rootBiasCorrection2, target, tau);
            return;
        }
        if (parameters.Length == 0) return;
        if (TryStage([DeviceScalars.FromFloat(stepSize), DeviceScalars.FromFloat(beta1), DeviceScalars.FromFloat(beta2),
                DeviceScalars.FromFloat(epsilon), DeviceScalars.FromFloat(rootBiasCorrection2)], out var scalars))
        {
            if (Enqueue())
                (adamThenPolyakGraphed ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<ulong>>(AdamGpu.StepThenPolyakWithDeviceScalars))(
                    stream, parameters.Length, View(parameters), View(gradients), View(firstMoment), View(secondMoment), View(target), tau, scalars);
            return;
        }
        var arguments = new AdamArguments { StepSize = stepSize, Beta1 = beta1, Beta2 = beta2, Epsilon = epsilon, RootBiasCorrection2 = rootBiasCorrection2 };
        if (Enqueue())
            (adamThenPolyak ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, AdamArguments>(AdamGpu.StepThenPolyak))(
                stream, parameters.Length, View(parameters), View(gradients), View(firstMoment), View(secondMoment), View(target), tau, arguments);
    }

    protected override void PolyakCore(Tensor target, Tensor source, float tau)
    {
        if (target.Length == 0) return;
        if (Enqueue())
            (polyak ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(PolyakGpu.Update))(
                stream, target.Length, View(target), View(source), tau);
    }

    protected override void ClipGradientNormCore(Tensor gradients, float maxNorm, Tensor norm)
    {
        if (gradients.Length > SingleGroupSumLimit)
        {
            int count = LaunchPartialSums(View(gradients), gradients.Length, square: true);
            finishNorm ??= LoadGrouped(
                d => d.LoadKernel<ArrayView<float>, int, ArrayView<float>>(GradNormGpu.FinishNorm<DeviceGeometry>),
                s => s.LoadKernel<ArrayView<float>, int, ArrayView<float>>(GradNormGpu.FinishNorm<SimulatorGeometry>));
            if (Enqueue())
                finishNorm(stream, SingleGroup, partials.View, count, View(norm));
            if (Enqueue())
                (scale ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(GradNormGpu.Scale))(
                    stream, gradients.Length, View(gradients), View(norm), maxNorm);
            return;
        }
        clip ??= LoadGrouped(
            d => d.LoadKernel<ArrayView<float>, ArrayView<float>, int, float>(GradNormGpu.Clip<DeviceGeometry>),
            s => s.LoadKernel<ArrayView<float>, ArrayView<float>, int, float>(GradNormGpu.Clip<SimulatorGeometry>));
        if (Enqueue())
            clip(stream, SingleGroup, gradients.Length == 0 ? placeholder.View : View(gradients), View(norm), gradients.Length, maxNorm);
    }

    // ───────────────────────────── sampling ─────────────────────────────

    protected override void GatherRowsCore(Tensor source, IndexTensor indices, Tensor destination)
    {
        if (destination.Length == 0) return;
        if (Enqueue())
            (gather ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>(GatherGpu.Rows))(
                stream, destination.Length, View(source), View(indices), View(destination), destination.Cols);
    }

    protected override void RandomUniformCore(Tensor x, ulong seed, ulong counter, float low, float high)
    {
        if (x.Length == 0) return;
        if (TryStage([seed, counter, DeviceScalars.FromFloat(low), DeviceScalars.FromFloat(high)], out var scalars))
        {
            if (Enqueue())
                uniformGraphed!(stream, x.Length, View(x), scalars);
            return;
        }
        if (Enqueue())
            (uniform ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ulong, ulong, float, float>(RandomGpu.Uniform))(
                stream, x.Length, View(x), seed, counter, low, high);
    }

    protected override void RandomNormalCore(Tensor x, ulong seed, ulong counter, float mean, float std)
    {
        if (x.Length == 0) return;
        if (TryStage([seed, counter, DeviceScalars.FromFloat(mean), DeviceScalars.FromFloat(std)], out var scalars))
        {
            if (Enqueue())
                normalGraphed!(stream, x.Length, View(x), scalars);
            return;
        }
        if (Enqueue())
            (normal ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ulong, ulong, float, float>(RandomGpu.Normal))(
                stream, x.Length, View(x), seed, counter, mean, std);
    }

    protected override void RandomIndicesCore(IndexTensor indices, ulong seed, ulong counter, int count, int offset)
    {
        if (indices.Length == 0) return;
        if (TryStage([seed, counter, (ulong)(uint)count, (ulong)(uint)offset], out var scalars))
        {
            if (Enqueue())
                indicesGraphed!(stream, indices.Length, View(indices), scalars);
            return;
        }
        if (Enqueue())
            (this.indices ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<int>, ulong, ulong, int, int>(RandomGpu.Indices))(
                stream, indices.Length, View(indices), seed, counter, count, offset);
    }

    // ───────────────────────────── CUDA graphs ─────────────────────────────

    enum GraphMode { Eager, Capturing, Replaying }

    GraphMode graphMode;
    /// <summary>The graph being captured or replayed.</summary>
    CudaGraph? activeGraph;
    int replayPosition, scalarCursor;
    /// <summary>Words of dynamic scalars (Adam's step scalars, random streams' state) asked for by eager ops so far.</summary>
    long eagerScalarWords;
    long graphLaunches;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ulong>>? adamGraphed;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NoisyActionArguments, ArrayView<ulong>>? noisyActionGraphed;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NoisyActionArguments, ulong, ulong>? noisyAction;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments, ArrayView<ulong>>? tanhGaussianSampleDrawingGraphed;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TanhGaussianArguments, ulong, ulong>? tanhGaussianSampleDrawing;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<ulong>>? adamThenPolyakGraphed;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, AdamArguments>? adamThenPolyak;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>>? uniformGraphed;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>>? fillGraphed;
    Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<ulong>>? normalGraphed;
    Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<ulong>>? indicesGraphed;

    /// <summary>True on CUDA, the one device whose launches can be captured into a graph.</summary>
    internal bool SupportsGraphs => accelerator is CudaAccelerator;

    /// <summary>Graph launches so far (each replaces the launches of one step).</summary>
    public long GraphLaunchCount => Interlocked.Read(ref graphLaunches);

    IntPtr StreamHandle => ((CudaStream)stream).StreamPtr;

    /// <summary>
    /// Called before every enqueued kernel, copy or fill: eagerly it says "enqueue now"; while capturing it records
    /// the call site, so a replay can check that the step makes the same launches in the same order; while
    /// replaying it checks the site and says "skip", since the graph already holds the launch.
    /// </summary>
    bool Enqueue([CallerLineNumber] int site = 0, bool kernel = true)
    {
        switch (graphMode)
        {
            case GraphMode.Eager:
                if (kernel) Interlocked.Increment(ref kernelLaunches);
                return true;
            case GraphMode.Capturing:
                if (kernel) { Interlocked.Increment(ref kernelLaunches); activeGraph!.KernelLaunches++; }
                activeGraph!.Sites.Add(site);
                return true;
            default:
                var sites = activeGraph!.Sites;
                int at = replayPosition++;
                if (at >= sites.Count || sites[at] != site)
                    throw new InvalidOperationException(
                        $"a graphed step made a different launch from the one captured (launch {at + 1}: backend line {site}, captured {(at < sites.Count ? $"line {sites[at]}" : "nothing")}); " +
                        "a step replayed from a CUDA graph must make the same launches every time (the host state of this step has advanced without the device work)");
                return false;
        }
    }

    /// <summary>
    /// For an op whose scalars may change between replays: while capturing or replaying, stages
    /// <paramref name="words"/> for the graph and returns true with their device view (launch the device-scalar
    /// kernel); eagerly, counts them (to size a graph's staging area) and returns false (launch the usual kernel).
    /// </summary>
    bool TryStage(ReadOnlySpan<ulong> words, out ArrayView<ulong> view)
    {
        if (graphMode == GraphMode.Eager)
        {
            eagerScalarWords += words.Length;
            view = default;
            return false;
        }
        activeGraph!.WriteWords(scalarCursor, words);
        view = activeGraph.DeviceWords(scalarCursor, words.Length);
        scalarCursor += words.Length;
        return true;
    }

    void ThrowIfGraphed(string what)
    {
        if (graphMode != GraphMode.Eager)
            throw new InvalidOperationException($"{what} inside a graphed step: a CUDA graph replays device work only, so the step must not allocate, copy to or from the host, or wait; do that outside the step");
    }

    /// <summary>
    /// Runs <paramref name="step"/> eagerly and returns the words of dynamic scalars it would stage (an upper bound for
    /// the graphs' staging area: a first run may also fill buffers it makes, which later runs do not).
    /// </summary>
    internal int RunCountingScalars(Action step)
    {
        long before = eagerScalarWords;
        step();
        return checked((int)(eagerScalarWords - before));
    }

    /// <summary>
    /// Captures <paramref name="step"/> into a CUDA graph and launches it, so the step runs exactly once. Every kernel
    /// the step uses must have been compiled by an eager run before (compiling is not a stream operation).
    /// </summary>
    internal CudaGraph Capture(Action step, int scalarWords)
    {
        if (!SupportsGraphs) throw new NotSupportedException($"graph capture needs CUDA; {Name} runs steps eagerly");
        if (graphMode != GraphMode.Eager) throw new InvalidOperationException("a graphed step cannot capture or replay another graph");
        adamGraphed ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ulong>>(AdamGpu.StepWithDeviceScalars);
        uniformGraphed ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<ulong>>(RandomGpu.UniformWithDeviceScalars);
        fillGraphed ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<ulong>>(ElementwiseGpu.FillWithDeviceScalars);
        normalGraphed ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<ulong>>(RandomGpu.NormalWithDeviceScalars);
        indicesGraphed ??= accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<int>, ArrayView<ulong>>(RandomGpu.IndicesWithDeviceScalars);
        // Driver calls of our own act on the calling thread's current context (ILGPU binds its own calls).
        accelerator.Bind();
        var graph = new CudaGraph(accelerator, scalarWords);
        try
        {
            CudaDriver.Check(CudaDriver.cuStreamBeginCapture_v2(StreamHandle, CudaDriver.CaptureModeRelaxed), "cuStreamBeginCapture");
        }
        catch
        {
            graph.Dispose();
            throw;
        }
        graphMode = GraphMode.Capturing;
        activeGraph = graph;
        scalarCursor = 0;
        try
        {
            graph.EnqueueScalarCopy(StreamHandle);
            step();
            // The eager first run may stage more (one-time fills of buffers it made); the capture sets the count.
            graph.UsedWords = scalarCursor;
        }
        catch
        {
            graphMode = GraphMode.Eager;
            activeGraph = null;
            if (CudaDriver.cuStreamEndCapture(StreamHandle, out var broken) == 0 && broken != IntPtr.Zero) CudaDriver.cuGraphDestroy(broken);
            graph.Dispose();
            throw;
        }
        graphMode = GraphMode.Eager;
        activeGraph = null;
        try
        {
            CudaDriver.Check(CudaDriver.cuStreamEndCapture(StreamHandle, out var captured), "cuStreamEndCapture");
            graph.Instantiate(captured);
            graph.Launch(StreamHandle);
        }
        catch
        {
            graph.Dispose();
            throw;
        }
        Interlocked.Increment(ref graphLaunches);
        return graph;
    }

    /// <summary>
    /// Runs <paramref name="step"/> on the host only (its ops stage their dynamic scalars and check that they make the
    /// captured launches), then launches <paramref name="graph"/>, which does the step's device work.
    /// </summary>
    internal void Replay(CudaGraph graph, Action step)
    {
        if (graphMode != GraphMode.Eager) throw new InvalidOperationException("a graphed step cannot capture or replay another graph");
        accelerator.Bind();
        graph.WaitForLastLaunch();
        graphMode = GraphMode.Replaying;
        activeGraph = graph;
        replayPosition = 0;
        scalarCursor = 0;
        try
        {
            step();
            if (replayPosition != graph.Sites.Count || scalarCursor != graph.UsedWords)
                throw new InvalidOperationException($"a graphed step made {replayPosition} launches staging {scalarCursor} scalar words where {graph.Sites.Count} launches and {graph.UsedWords} words were captured; a step replayed from a CUDA graph must make the same launches every time");
        }
        finally
        {
            graphMode = GraphMode.Eager;
            activeGraph = null;
        }
        graph.Launch(StreamHandle);
        Interlocked.Increment(ref graphLaunches);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (IsDisposed) return;
        placeholder.Dispose();
        partials.Dispose();
        splitKWorkspace?.Dispose();
        splitKArrivals?.Dispose();
        if (!ReferenceEquals(stream, accelerator.DefaultStream))
        {
            stream.Synchronize();
            stream.Dispose();
        }
        accelerator.Dispose();
        context.Dispose();
        base.Dispose();
    }
}
