using BenchmarkDotNet.Attributes;
using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Benchmarks.Kernels;

/// <summary>
/// A 256³ GEMM through the CPU backend (one thread) whose A holds subnormal floats (|x| ≈ 1e-39, as a CQL critic's
/// logsumexp gradient does once softmax weights underflow), with flush-to-zero off (IEEE gradual underflow) and on
/// (<see cref="DenormalFlush"/>, what the backend sets), beside the same GEMM on normal values. Intel cores take a
/// microcode assist per subnormal operand; AMD Zen cores far less. Run in process so the benchmark thread is the one
/// whose float mode is set.
/// </summary>
public class SubnormalGemmBenchmarks
{
    const int Size = 256;
    CpuBackend backend = null!;
    Tensor a = null!, b = null!, c = null!;

    [Params("normal", "subnormal")]
    public string Values { get; set; } = "normal";

    [Params(false, true)]
    public bool FlushToZero { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend(1);
        var random = new Random(1);
        float scale = Values == "subnormal" ? 1e-39f : 1f;
        a = backend.FromArray([.. Enumerable.Range(0, Size * Size).Select(_ => (float)(random.NextDouble() - 0.5) * scale)], Size, Size);
        b = backend.FromArray([.. Enumerable.Range(0, Size * Size).Select(_ => (float)(random.NextDouble() - 0.5))], Size, Size);
        c = backend.Allocate(Size, Size);
    }

    [Benchmark]
    public void Gemm256()
    {
        // Set on every call (two libm calls, under 0.1 % of the GEMM), so the mode is the one measured whichever
        // thread BenchmarkDotNet runs the call on.
        DenormalFlush.SetOnThisThread(FlushToZero);
        backend.Gemm(a, false, b, false, c);
    }

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
