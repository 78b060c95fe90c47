using BenchmarkDotNet.Attributes;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Benchmarks.Data;

/// <summary>
/// Drawing one minibatch of 256 from a 1M-row device buffer (obs 17, action 6: the walker/halfcheetah shape):
/// uniform sampling over one buffer, and O2SAC's half/half mode (128 online + 128 offline).
/// </summary>
[MemoryDiagnoser]
public class ReplaySamplingBenchmarks
{
    const int Rows = 1_000_000, ObservationDim = 17, ActionDim = 6, BatchSize = 256;
    CpuBackend backend = null!;
    MixedReplaySampler uniform = null!;
    MixedReplaySampler half = null!;

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend();
        var transitions = RandomTransitions(Rows, seed: 1);
        uniform = new MixedReplaySampler(backend, OfflineMixing.None, null, ObservationDim, ActionDim, Rows, BatchSize, new DeviceRandom(7));
        uniform.Online.AddRange(transitions);
        half = new MixedReplaySampler(backend, OfflineMixing.Half, transitions, ObservationDim, ActionDim, Rows, BatchSize, new DeviceRandom(7));
        half.Online.AddRange(transitions, 0, 100_000);
    }

    internal static Transitions RandomTransitions(int rows, int seed)
    {
        var random = new Random(seed);
        float[] Fill(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)random.NextDouble(); return a; }
        var terminals = new float[rows];
        for (int i = 999; i < rows; i += 1000) terminals[i] = 1f;
        return new Transitions(ObservationDim, ActionDim, Fill(rows * ObservationDim), Fill(rows * ActionDim), Fill(rows),
            Fill(rows * ObservationDim), terminals);
    }

    [Benchmark(Baseline = true)]
    public TransitionBatch UniformBatch256() => uniform.Sample();

    [Benchmark]
    public TransitionBatch HalfOnlineHalfOfflineBatch256() => half.Sample();

    [GlobalCleanup]
    public void Cleanup()
    {
        uniform.Dispose();
        half.Dispose();
        backend.Dispose();
    }
}
