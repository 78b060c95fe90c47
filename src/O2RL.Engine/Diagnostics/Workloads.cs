namespace O2RL.Engine.Diagnostics;

/// <summary>
/// The MLP training step every speed claim is anchored to: an MLP (default 17-256-256-1, ReLU) on a batch
/// (default 256), forward, MSE loss, backward, one Adam step. Shared by <c>o2rl bench</c> and the
/// BenchmarkDotNet suite so both time the same work. Allocation-free after construction.
/// </summary>
public sealed class MlpTrainingStep
{
    readonly Backend backend;
    readonly Mlp network;
    readonly Adam optimizer;
    readonly Tensor input, target, outputGradient, loss;

    /// <summary>Builds the network and a fixed random batch.</summary>
    public MlpTrainingStep(Backend backend, int inDim = 17, int hiddenDim = 256, int hiddenLayers = 2, int outDim = 1, int batchSize = 256, bool layerNorm = false)
    {
        this.backend = backend;
        network = new Mlp(backend, new MlpSpec(inDim, Enumerable.Repeat(hiddenDim, hiddenLayers).ToArray(), outDim) { LayerNorm = layerNorm }, seed: 1);
        optimizer = new Adam(network.Parameters, 3e-4f);
        input = backend.Allocate(batchSize, inDim);
        target = backend.Allocate(batchSize, outDim);
        outputGradient = backend.Allocate(batchSize, outDim);
        loss = backend.Allocate(1);
        var random = new DeviceRandom(2);
        random.Normal(input);
        random.Normal(target);
        FlopsPerStep = 3.0 * 2.0 * batchSize * (inDim * (double)hiddenDim + (hiddenLayers - 1) * (double)hiddenDim * hiddenDim + hiddenDim * (double)outDim);
    }

    /// <summary>Multiply-add FLOPs of the three GEMMs per layer (forward, input gradient, weight gradient).</summary>
    public double FlopsPerStep { get; }

    /// <summary>One forward + backward + Adam step.</summary>
    public void Run()
    {
        var prediction = network.Forward(input);
        backend.MseLoss(prediction, target, outputGradient, loss);
        network.ZeroGradients();
        network.Backward(outputGradient);
        optimizer.Step();
    }

    /// <summary>Waits for the device (GPU backends enqueue asynchronously).</summary>
    public void Synchronize() => backend.Synchronize();
}

/// <summary>Wall-clock timing helpers for quick, repeatable measurements (BenchmarkDotNet does the careful ones).</summary>
public static class QuickTimer
{
    /// <summary>
    /// Shortest warm-up before the first timed round. The JIT compiles a method's first calls without full
    /// optimisation and promotes it only after 30 calls and a 100 ms pause in new compilations, on a background
    /// thread; a count of warm-up calls alone timed the first workload of a run partly in unoptimised code
    /// (measured: GEMM 256³ NN on 2 threads 0.33–0.50 ms when timed first, 0.20–0.23 ms when timed again).
    /// </summary>
    public static readonly TimeSpan MinimumWarmup = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Best and median seconds per call over rounds (the best round is the one least disturbed by other processes),
    /// after at least <paramref name="warmupCalls"/> calls and <see cref="MinimumWarmup"/> of warm-up.
    /// </summary>
    public static (double Best, double Median) SecondsPerCall(Action run, Action synchronize, int callsPerRound, int rounds = 7, int warmupCalls = 20)
    {
        long warmupStart = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < warmupCalls || System.Diagnostics.Stopwatch.GetElapsedTime(warmupStart) < MinimumWarmup; i++) run();
        synchronize();
        var samples = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            for (int i = 0; i < callsPerRound; i++) run();
            synchronize();
            samples[r] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds / callsPerRound;
        }
        Array.Sort(samples);
        return (samples[0], samples[rounds / 2]);
    }
}
