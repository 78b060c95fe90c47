using System.Runtime.InteropServices;

namespace O2RL.Kernels;

/// <summary>
/// Flush-to-zero and denormals-are-zero for the threads that run CPU kernels. On Intel cores an operation that reads
/// or writes a subnormal float (|x| &lt; 1.18e-38) takes a microcode assist: measured on a Xeon with AVX-512, a 256³ GEMM
/// with subnormal operands ran 200 times slower (0.48 → 97 ms) and an Adam-like pass 30 times slower. Training makes
/// such values as a matter of course (a softmax weight e^−90 times a loss coefficient in CQL's logsumexp gradient, a
/// saturated tanh's derivative), and a CQL run slowed from 0.27 to about 1.5 s per update within its first thousand.
/// With FTZ and DAZ set in MXCSR, subnormal results become zero and subnormal inputs count as zero, as GPUs and
/// libtorch's CPU kernels commonly run. The mode is per thread: <see cref="WorkerPool"/> sets it on its workers and on
/// each caller, and the CPU backend on the thread of every op, so every part of a split op computes alike and results
/// stay the same for any thread count. The calling thread keeps the mode after the op (and threads it creates later
/// inherit it, as POSIX threads inherit the float environment): other float code on it, an environment's physics
/// included, then also reads subnormals as zero. <see cref="SetOnThisThread"/>(false) restores gradual underflow there.
/// <para>
/// Set through glibc's fegetenv/fesetenv on Linux x86-64 (fenv_t holds MXCSR at byte 28; the value read back is checked
/// before anything is written). Elsewhere it is not set, and <see cref="IsSupported"/> is false: results are IEEE
/// gradual underflow, the same as before, and slower wherever subnormals occur.
/// </para>
/// </summary>
public static unsafe class DenormalFlush
{
    // MXCSR bits: FTZ (15) and DAZ (6); the default value with all exceptions masked is 0x1F80.
    const uint FlushToZero = 1u << 15, DenormalsAreZero = 1u << 6;
    const int EnvironmentBytes = 32, MxcsrOffset = 28;

    [ThreadStatic] static bool setOnThisThread;

    static readonly bool supported = Probe();

    /// <summary>Whether this platform lets the mode be set (Linux x86-64 with glibc).</summary>
    public static bool IsSupported => supported;

    /// <summary>Sets FTZ and DAZ on the calling thread once (a thread-local flag makes later calls a test and a branch).</summary>
    public static void EnsureOnThisThread()
    {
        if (setOnThisThread) return;
        setOnThisThread = true;
        if (supported) WriteMode(flush: true);
    }

    /// <summary>Whether the calling thread currently flushes subnormals (reads MXCSR; false where unsupported).</summary>
    public static bool IsFlushingOnThisThread() => supported && TryReadMxcsr(out uint mxcsr) && (mxcsr & (FlushToZero | DenormalsAreZero)) == (FlushToZero | DenormalsAreZero);

    /// <summary>
    /// Sets (or clears) the mode on the calling thread whatever it was: for measurements that compare both modes in
    /// one process. Training code uses <see cref="EnsureOnThisThread"/>.
    /// </summary>
    public static void SetOnThisThread(bool flush)
    {
        setOnThisThread = true;
        if (supported) WriteMode(flush);
    }

    static bool Probe()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return false;
        try
        {
            // The layout check: MXCSR's control bits (exception masks, rounding, FTZ, DAZ) read back where glibc keeps them.
            return TryReadMxcsr(out uint mxcsr) && (mxcsr & 0xFFC0u & ~(FlushToZero | DenormalsAreZero)) == 0x1F80u;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    static bool TryReadMxcsr(out uint mxcsr)
    {
        byte* environment = stackalloc byte[EnvironmentBytes];
        mxcsr = 0;
        if (fegetenv(environment) != 0) return false;
        mxcsr = *(uint*)(environment + MxcsrOffset);
        return true;
    }

    static void WriteMode(bool flush)
    {
        byte* environment = stackalloc byte[EnvironmentBytes];
        if (fegetenv(environment) != 0) return;
        uint* mxcsr = (uint*)(environment + MxcsrOffset);
        *mxcsr = flush ? *mxcsr | FlushToZero | DenormalsAreZero : *mxcsr & ~(FlushToZero | DenormalsAreZero);
        fesetenv(environment);
    }

    [DllImport("libm.so.6")] static extern int fegetenv(byte* environment);
    [DllImport("libm.so.6")] static extern int fesetenv(byte* environment);
}
