using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace O2RL.Kernels;

/// <summary>The machine's measured FMA throughput, the yardstick for GEMM efficiency.</summary>
/// <param name="SingleThreadGflops">GFLOP/s of one thread (an FMA counts as two flops).</param>
/// <param name="PoolGflops">GFLOP/s of all the pool's threads running at once.</param>
/// <param name="Threads">Threads used for <paramref name="PoolGflops"/>.</param>
/// <param name="VectorBits">Width of the FMA instructions measured (256 with AVX2+FMA, 128 otherwise).</param>
public readonly record struct FmaPeakResult(double SingleThreadGflops, double PoolGflops, int Threads, int VectorBits);

/// <summary>
/// Measures peak float32 FMA throughput: each thread runs 12 independent FMA dependency chains held in
/// registers (enough to cover FMA latency × issue width on current x64 cores), so nothing but the FMA units
/// limits it. The width matches what <see cref="GemmCpu"/> uses, so GEMM GFLOP/s ÷ this peak is the fraction
/// of the machine the GEMM gets.
/// </summary>
public static class FmaPeak
{
    static volatile float sink;

    /// <summary>
    /// Measures single-thread and whole-pool peak GFLOP/s: the best of <paramref name="windows"/> windows of
    /// about <paramref name="window"/> each. On a shared machine a window can lose its core to another process
    /// (and the pool's caller then runs the worker's share itself), so many short windows find the hardware's
    /// rate better than one long one.
    /// </summary>
    public static FmaPeakResult Measure(WorkerPool pool, TimeSpan window, int windows = 1)
    {
        ArgumentNullException.ThrowIfNull(pool);
        double single = MeasureSingleThreadGflops(window, windows);
        double all = MeasurePoolGflops(pool, window, windows);
        return new FmaPeakResult(single, all, pool.ThreadCount, VectorBits);
    }

    /// <summary>Width of the FMA vectors measured.</summary>
    public static int VectorBits => Fma.IsSupported ? 256 : 128;

    /// <summary>Peak GFLOP/s of the calling thread: the best of <paramref name="windows"/> windows of about <paramref name="window"/>.</summary>
    public static double MeasureSingleThreadGflops(TimeSpan window, int windows = 1)
    {
        long iterations = Calibrate(window, windows);
        double best = 0;
        for (int w = 0; w < windows; w++)
        {
            long start = Stopwatch.GetTimestamp();
            sink = RunChains(iterations);
            best = Math.Max(best, iterations * FlopsPerIteration / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// Peak GFLOP/s with every thread of <paramref name="pool"/> running FMA chains at once: the best of
    /// <paramref name="windows"/> windows of about <paramref name="window"/>.
    /// </summary>
    public static double MeasurePoolGflops(WorkerPool pool, TimeSpan window, int windows = 1)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var work = new ChainsWork { Iterations = Calibrate(window, windows) };
        pool.Run(work, pool.ThreadCount); // wake the workers up
        double best = 0;
        for (int w = 0; w < windows; w++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.Run(work, pool.ThreadCount);
            best = Math.Max(best, pool.ThreadCount * work.Iterations * FlopsPerIteration / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
        }
        return best;
    }

    sealed class ChainsWork : IParallelWork
    {
        public long Iterations;
        public void Execute(int part, int partCount) => sink = RunChains(Iterations);
    }

    const int Chains = 12;
    static double FlopsPerIteration => Chains * (VectorBits / 32) * 2.0;

    /// <summary>Validates the window and finds an iteration count that takes about that long (timing grows runs from short to ≥ 2 ms).</summary>
    static long Calibrate(TimeSpan window, int windows)
    {
        if (window <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(window), window, "the measuring window must be positive");
        if (windows < 1)
            throw new ArgumentOutOfRangeException(nameof(windows), windows, "at least one measuring window is needed");
        long iterations = 1 << 12;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            sink = RunChains(iterations);
            TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
            if (elapsed.TotalMilliseconds >= 2 || iterations > (1L << 40))
                return Math.Max(1, (long)(iterations * (window / elapsed)));
            iterations *= 4;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static float RunChains(long iterations) => Fma.IsSupported ? RunChains256(iterations) : RunChains128(iterations);

    // acc ← acc·0.99999 + 1e-6 converges towards 0.1 and never overflows or turns denormal. Fully optimized
    // from the first call, so the first window does not time unoptimized (tier-0) code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float RunChains256(long iterations)
    {
        Vector256<float> scale = Vector256.Create(0.99999f), shift = Vector256.Create(1e-6f);
        Vector256<float> c0 = Vector256.Create(0.1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        Vector256<float> c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Fma.MultiplyAdd(c0, scale, shift); c1 = Fma.MultiplyAdd(c1, scale, shift);
            c2 = Fma.MultiplyAdd(c2, scale, shift); c3 = Fma.MultiplyAdd(c3, scale, shift);
            c4 = Fma.MultiplyAdd(c4, scale, shift); c5 = Fma.MultiplyAdd(c5, scale, shift);
            c6 = Fma.MultiplyAdd(c6, scale, shift); c7 = Fma.MultiplyAdd(c7, scale, shift);
            c8 = Fma.MultiplyAdd(c8, scale, shift); c9 = Fma.MultiplyAdd(c9, scale, shift);
            c10 = Fma.MultiplyAdd(c10, scale, shift); c11 = Fma.MultiplyAdd(c11, scale, shift);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float RunChains128(long iterations)
    {
        Vector128<float> scale = Vector128.Create(0.99999f), shift = Vector128.Create(1e-6f);
        Vector128<float> c0 = Vector128.Create(0.1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        Vector128<float> c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector128.MultiplyAddEstimate(c0, scale, shift); c1 = Vector128.MultiplyAddEstimate(c1, scale, shift);
            c2 = Vector128.MultiplyAddEstimate(c2, scale, shift); c3 = Vector128.MultiplyAddEstimate(c3, scale, shift);
            c4 = Vector128.MultiplyAddEstimate(c4, scale, shift); c5 = Vector128.MultiplyAddEstimate(c5, scale, shift);
            c6 = Vector128.MultiplyAddEstimate(c6, scale, shift); c7 = Vector128.MultiplyAddEstimate(c7, scale, shift);
            c8 = Vector128.MultiplyAddEstimate(c8, scale, shift); c9 = Vector128.MultiplyAddEstimate(c9, scale, shift);
            c10 = Vector128.MultiplyAddEstimate(c10, scale, shift); c11 = Vector128.MultiplyAddEstimate(c11, scale, shift);
        }
        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}
