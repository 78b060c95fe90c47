using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Online;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// One SAC update (actor, temperature and twin-critic losses, backward passes, three Adam steps, Polyak) at batch 256:
/// Hopper dimensions (obs 11, act 3) and the libtorch-comparable shape (obs 17, act 6), 2 × 256 networks.
/// </summary>
[MemoryDiagnoser]
public class SacUpdateBenchmarks
{
    Backend backend = null!;
    SacAgent agent = null!;
    TransitionBatch batch = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params("11x3", "17x6")]
    public string Shape { get; set; } = "17x6";

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend(Threads);
        var (obsDim, actionDim) = AlgorithmBenchmarkData.ParseShape(Shape);
        agent = new SacAgent(backend, obsDim, actionDim, new SacConfig(), seed: 1);
        batch = AlgorithmBenchmarkData.RandomBatch(backend, 256, obsDim, actionDim);
        agent.Update(batch, 1, 0);
    }

    [Benchmark]
    public void SacUpdate() => agent.Update(batch, 1, 0);

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}

/// <summary>Shared set-up of the algorithm update benchmarks.</summary>
static class AlgorithmBenchmarkData
{
    /// <summary>"17x6" → (17, 6).</summary>
    public static (int ObsDim, int ActionDim) ParseShape(string shape)
    {
        var parts = shape.Split('x');
        return (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>A batch of random transitions (rewards N(0, 1), 1% terminals).</summary>
    public static TransitionBatch RandomBatch(Backend backend, int size, int obsDim, int actionDim)
    {
        var batch = new TransitionBatch(backend, size, obsDim, actionDim);
        var random = new HostRandom(7);
        var packed = new float[size * batch.Layout.Width];
        for (int i = 0; i < packed.Length; i++) packed[i] = random.Normal();
        for (int r = 0; r < size; r++)
        {
            var row = packed.AsSpan(r * batch.Layout.Width, batch.Layout.Width);
            for (int j = 0; j < actionDim; j++) row[batch.Layout.ActionColumn + j] = Math.Clamp(row[batch.Layout.ActionColumn + j] * 0.5f, -0.99f, 0.99f);
            row[batch.Layout.TerminalColumn] = r % 100 == 0 ? 1f : 0f;
        }
        backend.Upload(packed, batch.Packed);
        batch.Unpack();
        return batch;
    }
}
