using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using O2RL.Kernels;

namespace O2RL.Benchmarks.Kernels;

/// <summary>
/// CPU GEMM on the shapes of an MLP training step at batch 256, hidden 256, plus 256³ in every layout, on
/// 1 and 2 threads. Extra columns: GFLOP/s and its fraction of the FMA peak measured in the same process
/// just before each benchmark. Both use the fastest iteration (Min), because on our shared machines the mean
/// mostly measures the other processes; the ratio is the number to compare across machines.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GemmColumnsConfig))]
public unsafe class GemmBenchmarks
{
    /// <summary>Shape (m, n, k) of each benchmark, for the GFLOP/s column.</summary>
    internal static readonly Dictionary<string, (int M, int N, int K)> Shapes = new()
    {
        [nameof(LinearForward_256x17_xWt)] = (256, 256, 17),
        [nameof(LinearBackwardDx_256x256x17_NN)] = (256, 17, 256),
        [nameof(LinearBackwardDw_256x17x256_TN)] = (256, 17, 256),
        [nameof(Gemm256_NN)] = (256, 256, 256),
        [nameof(Gemm256_NT)] = (256, 256, 256),
        [nameof(Gemm256_TN_Accumulate)] = (256, 256, 256),
        [nameof(MatrixVector_256x256x1)] = (256, 1, 256),
    };

    /// <summary>FMA peak GFLOP/s per thread count, measured in GlobalSetup.</summary>
    internal static readonly ConcurrentDictionary<int, double> PeakGflops = new();

    const int MaxFloats = 257 * 257;

    [Params(1, 2)]
    public int Threads { get; set; }

    WorkerPool? pool;
    float* a, b, c, bias;

    [GlobalSetup]
    public void Setup()
    {
        pool = Threads == 1 ? null : new WorkerPool(Threads);
        a = Allocate(1);
        b = Allocate(2);
        c = Allocate(3);
        bias = Allocate(4);

        using var callerOnly = new WorkerPool(1);
        FmaPeakResult peak = FmaPeak.Measure(pool ?? callerOnly, TimeSpan.FromMilliseconds(5), windows: 40);
        double gflops = Threads == 1 ? peak.SingleThreadGflops : peak.PoolGflops;
        PeakGflops[Threads] = gflops;
        Console.WriteLine($"// FMA peak ({peak.VectorBits}-bit FMA, best of 40 windows): {gflops:F1} GFLOP/s on {Threads} thread(s)");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        pool?.Dispose();
        NativeMemory.AlignedFree(a);
        NativeMemory.AlignedFree(b);
        NativeMemory.AlignedFree(c);
        NativeMemory.AlignedFree(bias);
    }

    static float* Allocate(int seed)
    {
        float* p = (float*)NativeMemory.AlignedAlloc(MaxFloats * sizeof(float), 64);
        var random = new Random(seed);
        for (int i = 0; i < MaxFloats; i++) p[i] = (float)(random.NextDouble() - 0.5);
        return p;
    }

    /// <summary>Linear forward of the first layer: y[256, 256] = relu(x[256, 17]·W[256, 17]ᵀ + b).</summary>
    [Benchmark]
    public void LinearForward_256x17_xWt() =>
        GemmCpu.Gemm(false, true, 256, 256, 17, 1f, a, b, 0f, c, bias, Activation.Relu, pool);

    /// <summary>dX[256, 17] = dY[256, 256]·W[256, 17].</summary>
    [Benchmark]
    public void LinearBackwardDx_256x256x17_NN() =>
        GemmCpu.Gemm(false, false, 256, 17, 256, 1f, a, b, 0f, c, null, Activation.Identity, pool);

    /// <summary>dW[256, 17] += dY[256 batch, 256]ᵀ·X[256 batch, 17].</summary>
    [Benchmark]
    public void LinearBackwardDw_256x17x256_TN() =>
        GemmCpu.Gemm(true, false, 256, 17, 256, 1f, a, b, 1f, c, null, Activation.Identity, pool);

    [Benchmark]
    public void Gemm256_NN() => GemmCpu.Gemm(false, false, 256, 256, 256, 1f, a, b, 0f, c, null, Activation.Identity, pool);

    [Benchmark]
    public void Gemm256_NT() => GemmCpu.Gemm(false, true, 256, 256, 256, 1f, a, b, 0f, c, null, Activation.Identity, pool);

    /// <summary>The dW layout of a hidden layer: C[256, 256] += A[256, 256]ᵀ·B[256, 256].</summary>
    [Benchmark]
    public void Gemm256_TN_Accumulate() => GemmCpu.Gemm(true, false, 256, 256, 256, 1f, a, b, 1f, c, null, Activation.Identity, pool);

    /// <summary>A one-output head: [256, 256]·[256, 1].</summary>
    [Benchmark]
    public void MatrixVector_256x256x1() => GemmCpu.Gemm(false, false, 256, 1, 256, 1f, a, b, 0f, c, bias, Activation.Identity, pool);
}

/// <summary>Adds the GFLOP/s and fraction-of-FMA-peak columns.</summary>
public sealed class GemmColumnsConfig : ManualConfig
{
    public GemmColumnsConfig()
    {
        AddColumn(new GemmRateColumn(fractionOfPeak: false), new GemmRateColumn(fractionOfPeak: true));
    }
}

/// <summary>
/// GFLOP/s (2·m·n·k per call over the fastest iteration's time; for the MLP step its GEMMs' FLOPs), or that as a
/// fraction of the measured FMA peak.
/// </summary>
public sealed class GemmRateColumn(bool fractionOfPeak) : IColumn
{
    public string Id => fractionOfPeak ? "GemmPeakFraction" : "GemmGflops";
    public string ColumnName => fractionOfPeak ? "% FMA peak (min)" : "GFLOP/s (min)";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => fractionOfPeak ? 1 : 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => fractionOfPeak
        ? "GFLOP/s (min) as a percentage of the FMA peak measured in-process for the same thread count"
        : "Billions of floating-point operations per second (2·m·n·k per call) at the fastest iteration";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        string method = benchmarkCase.Descriptor.WorkloadMethod.Name;
        BenchmarkReport? report = summary[benchmarkCase];
        double? flops = GemmBenchmarks.Shapes.TryGetValue(method, out var shape) ? 2.0 * shape.M * shape.N * shape.K
            : method == nameof(Engine.MlpStepBenchmarks.MlpStep) ? Engine.MlpStepBenchmarks.FlopsPerStep : null;
        if (flops is null || report?.ResultStatistics is null) return "-";
        double gflops = flops.Value / report.ResultStatistics.Min;
        if (!fractionOfPeak) return gflops.ToString("F1");
        int threads = Convert.ToInt32(benchmarkCase.Parameters["Threads"]);
        // Out of process the setup ran elsewhere; then measure the peak here.
        double peak = GemmBenchmarks.PeakGflops.GetOrAdd(threads, t =>
        {
            using var pool = new WorkerPool(t);
            FmaPeakResult result = FmaPeak.Measure(pool, TimeSpan.FromMilliseconds(5), windows: 40);
            return t == 1 ? result.SingleThreadGflops : result.PoolGflops;
        });
        return (100 * gflops / peak).ToString("F1");
    }
}
