using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace O2RL.Engine;

/// <summary>
/// One captured CUDA graph of a step: the instantiated graph, the page-locked host words and the device words of its
/// dynamic scalars (the graph's first node copies the one to the other, so each replay reads the values the host
/// staged for it), the launch sites recorded at capture (a replay must make the same launches in the same order),
/// and an event recorded after each launch (the host may overwrite the staged words only once the previous launch
/// has finished).
/// </summary>
internal sealed class CudaGraph : IDisposable
{
    readonly Accelerator accelerator;
    readonly MemoryBuffer1D<ulong, Stride1D.Dense> deviceScalars;
    readonly IntPtr hostScalars;
    IntPtr graph, exec, finished;
    bool launched;

    public CudaGraph(Accelerator accelerator, int scalarWords)
    {
        this.accelerator = accelerator;
        ScalarWords = scalarWords;
        deviceScalars = accelerator.Allocate1D<ulong>(Math.Max(1, scalarWords));
        CudaDriver.Check(CudaDriver.cuMemAllocHost_v2(out hostScalars, (nuint)(Math.Max(1, scalarWords) * sizeof(ulong))), "cuMemAllocHost");
        CudaDriver.Check(CudaDriver.cuEventCreate(out finished, CudaDriver.EventDisableTiming), "cuEventCreate");
    }

    /// <summary>Capacity of the staging area in words (what the step's eager first run staged; copied whole each launch).</summary>
    public int ScalarWords { get; }

    /// <summary>Words the captured step staged (a replay must stage as many).</summary>
    public int UsedWords { get; set; }

    /// <summary>Launch sites (kernels, copies, fills) in capture order.</summary>
    public List<int> Sites { get; } = [];

    /// <summary>Kernel launches among <see cref="Sites"/>.</summary>
    public int KernelLaunches { get; set; }

    /// <summary>Nodes of the instantiated graph (the scalar copy included).</summary>
    public int Nodes { get; private set; }

    /// <summary>Device view of the staged words [start, start + count).</summary>
    public ArrayView<ulong> DeviceWords(int start, int count) => deviceScalars.View.SubView(start, count);

    /// <summary>Writes staged words for the next launch (host side).</summary>
    public unsafe void WriteWords(int start, ReadOnlySpan<ulong> words)
    {
        if (start + words.Length > ScalarWords)
            throw new InvalidOperationException($"a graphed step staged more than the {ScalarWords} scalar words of its first run; its launches must not change from step to step");
        words.CopyTo(new Span<ulong>((ulong*)hostScalars + start, words.Length));
    }

    /// <summary>Enqueues the copy of the staged words to the device (the first node of the captured graph).</summary>
    public void EnqueueScalarCopy(IntPtr stream)
    {
        if (ScalarWords == 0) return;
        CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2((ulong)deviceScalars.NativePtr, hostScalars, (nuint)(ScalarWords * sizeof(ulong)), stream), "cuMemcpyHtoDAsync");
    }

    /// <summary>Takes the captured graph and instantiates it.</summary>
    public void Instantiate(IntPtr capturedGraph)
    {
        graph = capturedGraph;
        CudaDriver.Check(CudaDriver.cuGraphInstantiateWithFlags(out exec, graph, 0), "cuGraphInstantiateWithFlags");
        nuint count = 0;
        CudaDriver.Check(CudaDriver.cuGraphGetNodes(graph, IntPtr.Zero, ref count), "cuGraphGetNodes");
        Nodes = (int)count;
    }

    /// <summary>Launches the graph on the stream and records the event behind it.</summary>
    public void Launch(IntPtr stream)
    {
        CudaDriver.Check(CudaDriver.cuGraphLaunch(exec, stream), "cuGraphLaunch");
        CudaDriver.Check(CudaDriver.cuEventRecord(finished, stream), "cuEventRecord");
        launched = true;
    }

    /// <summary>Waits until the last launch has finished, so the staged words may be rewritten.</summary>
    public void WaitForLastLaunch()
    {
        if (launched) CudaDriver.Check(CudaDriver.cuEventSynchronize(finished), "cuEventSynchronize");
    }

    public void Dispose()
    {
        if (accelerator.IsDisposed) return;
        accelerator.Bind();
        if (launched) CudaDriver.cuEventSynchronize(finished);
        if (exec != IntPtr.Zero) CudaDriver.cuGraphExecDestroy(exec);
        if (graph != IntPtr.Zero) CudaDriver.cuGraphDestroy(graph);
        if (finished != IntPtr.Zero) CudaDriver.cuEventDestroy_v2(finished);
        if (hostScalars != IntPtr.Zero) CudaDriver.cuMemFreeHost(hostScalars);
        deviceScalars.Dispose();
        exec = graph = finished = IntPtr.Zero;
    }
}

/// <summary>
/// The CUDA driver calls ILGPU 1.5 does not wrap: stream capture, graphs, events and page-locked host memory. The
/// library name is ILGPU's, so <see cref="DriverLibraries"/> finds the versioned driver library the same way.
/// </summary>
internal static class CudaDriver
{
    const string Library = "cuda";

    /// <summary>CU_STREAM_CAPTURE_MODE_RELAXED: other threads may still make calls that are unsafe during capture.</summary>
    public const int CaptureModeRelaxed = 2;

    /// <summary>CU_EVENT_DISABLE_TIMING: the cheapest event, for waiting only.</summary>
    public const uint EventDisableTiming = 2;

    [DllImport(Library)] public static extern int cuStreamBeginCapture_v2(IntPtr stream, int mode);
    [DllImport(Library)] public static extern int cuStreamEndCapture(IntPtr stream, out IntPtr graph);
    [DllImport(Library)] public static extern int cuGraphInstantiateWithFlags(out IntPtr exec, IntPtr graph, ulong flags);
    [DllImport(Library)] public static extern int cuGraphGetNodes(IntPtr graph, IntPtr nodes, ref nuint count);
    [DllImport(Library)] public static extern int cuGraphLaunch(IntPtr exec, IntPtr stream);
    [DllImport(Library)] public static extern int cuGraphExecDestroy(IntPtr exec);
    [DllImport(Library)] public static extern int cuGraphDestroy(IntPtr graph);
    [DllImport(Library)] public static extern int cuMemAllocHost_v2(out IntPtr pointer, nuint bytes);
    [DllImport(Library)] public static extern int cuMemFreeHost(IntPtr pointer);
    [DllImport(Library)] public static extern int cuMemcpyHtoDAsync_v2(ulong destination, IntPtr source, nuint bytes, IntPtr stream);
    [DllImport(Library)] public static extern int cuEventCreate(out IntPtr evt, uint flags);
    [DllImport(Library)] public static extern int cuEventRecord(IntPtr evt, IntPtr stream);
    [DllImport(Library)] public static extern int cuEventSynchronize(IntPtr evt);
    [DllImport(Library)] public static extern int cuEventDestroy_v2(IntPtr evt);
    [DllImport(Library)] static extern int cuGetErrorName(int error, out IntPtr name);

    /// <summary>Throws with the driver's name for a failed call's error.</summary>
    public static void Check(int result, string call)
    {
        if (result == 0) return;
        string name = cuGetErrorName(result, out var text) == 0 && text != IntPtr.Zero ? Marshal.PtrToStringAnsi(text) ?? "" : "";
        throw new InvalidOperationException($"CUDA {call} failed: {(name.Length > 0 ? name : "error")} ({result})");
    }
}
