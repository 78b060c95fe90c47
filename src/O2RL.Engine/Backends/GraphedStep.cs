namespace O2RL.Engine;

/// <summary>
/// A step (an update, an optimiser step) run from a CUDA graph: on CUDA, the first <see cref="Run"/> is eager (it
/// compiles the kernels, allocates lazily made buffers and counts the step's dynamic scalars), the next two
/// capture a graph each, and every later call replays one of the two in turn, so each update costs one graph
/// launch instead of one driver call per kernel. On every other device <see cref="Run"/> simply runs the step.
/// </summary>
/// <remarks>
/// <para>What changes between replays: Adam's step size and bias correction, the seed, counter and range of each
/// random draw, and the value of each <see cref="Backend.Fill"/> (so a host value that changes per step, such as a
/// scheduled threshold, enters a graphed step as a fill of a one-element tensor), which the step's ops stage as
/// scalars the graph copies to the device before its first kernel. On
/// replay the step still runs on the host (validating shapes and advancing its host state: Adam step counts,
/// random counters) but enqueues nothing; its launches are checked against the captured ones, and a difference
/// fails with a message instead of running a different step.</para>
/// <para>What must not change: every other argument is replayed as captured. Tensors (which buffers, which shapes),
/// the scalar arguments of other ops (τ, a loss weight, a clamp bound), and the sequence of ops must be the same
/// every step; the step may not
/// allocate, copy to or from the host, or wait for the device. A step whose ops repeat with a period (TD3's actor
/// update every second call) takes that period as <c>phases</c>: call i uses the graphs of phase i mod phases.</para>
/// <para>Two graphs alternate so the host can stage the next step while the device still runs the previous one; the
/// staged words of a graph are rewritten only after its previous launch has finished. Results are bit-identical
/// to running the step eagerly: the same kernels do the same arithmetic, only their scalars come from memory.</para>
/// </remarks>
public sealed class GraphedStep : IDisposable
{
    readonly IlgpuBackend? graphBackend;
    readonly Action step;
    readonly int phases;
    // Per phase: two graphs used in turn, and the scalar words one step of the phase stages.
    readonly CudaGraph?[] first, second;
    readonly int[] scalarWords;
    long runs;

    /// <summary>
    /// Wraps <paramref name="step"/>; <paramref name="useGraphs"/> false runs it eagerly on every device.
    /// <paramref name="phases"/>: the period of a step whose launches repeat every that many calls (1: every call alike).
    /// </summary>
    public GraphedStep(Backend backend, Action step, bool useGraphs = true, int phases = 1)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentOutOfRangeException.ThrowIfLessThan(phases, 1);
        this.step = step ?? throw new ArgumentNullException(nameof(step));
        this.phases = phases;
        first = new CudaGraph?[phases];
        second = new CudaGraph?[phases];
        scalarWords = new int[phases];
        graphBackend = useGraphs && !DisabledByEnvironment && backend is IlgpuBackend { SupportsGraphs: true } ilgpu ? ilgpu : null;
    }

    /// <summary>Environment variable: 0, false or off runs every graphed step eagerly (for comparisons and diagnosis).</summary>
    public const string EnvironmentVariable = "O2RL_CUDA_GRAPHS";

    static bool DisabledByEnvironment => Environment.GetEnvironmentVariable(EnvironmentVariable)?.Trim().ToLowerInvariant() is "0" or "false" or "off";

    /// <summary>Whether this device runs the step from graphs (CUDA) rather than eagerly.</summary>
    public bool UsesGraphs => graphBackend is not null;

    /// <summary>Nodes of the captured graphs of one period (kernels, copies and fills, plus a scalar copy per phase); 0 before capture.</summary>
    public int GraphNodes => first.Sum(graph => graph?.Nodes ?? 0);

    /// <summary>Kernels one period of steps launches (counted at capture); 0 before capture.</summary>
    public int KernelsPerStep => first.Sum(graph => graph?.KernelLaunches ?? 0);

    /// <summary>Runs one step.</summary>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(runs < 0, this);
        if (graphBackend is null)
        {
            step();
            return;
        }
        int phase = (int)(runs % phases);
        long round = runs / phases;
        switch (round)
        {
            case 0: scalarWords[phase] = graphBackend.RunCountingScalars(step); break;
            case 1: first[phase] = graphBackend.Capture(step, scalarWords[phase]); break;
            case 2: second[phase] = graphBackend.Capture(step, scalarWords[phase]); break;
            default: graphBackend.Replay(round % 2 == 1 ? first[phase]! : second[phase]!, step); break;
        }
        runs++;
    }

    /// <summary>Releases the graphs (after the device has finished with them).</summary>
    public void Dispose()
    {
        for (int phase = 0; phase < phases; phase++)
        {
            first[phase]?.Dispose();
            second[phase]?.Dispose();
            first[phase] = second[phase] = null;
        }
        runs = -1;
    }
}
