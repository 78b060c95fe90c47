using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Offline;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// One CQL update at the paper's sizes (3 × 256 actor and critics, n = 10 sampled actions per state, so the critics
/// also run on 3 × 2,560 rows) at batch 256, Hopper (11, 3) and (17, 6) dimensions.
/// </summary>
[MemoryDiagnoser]
public class CqlUpdateBenchmarks
{
    Backend backend = null!;
    CqlAgent agent = null!;
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
        agent = new CqlAgent(backend, obsDim, actionDim, new CqlConfig(), seed: 1);
        batch = AlgorithmBenchmarkData.RandomBatch(backend, 256, obsDim, actionDim);
        agent.Update(batch);
    }

    [Benchmark]
    public void CqlUpdate() => agent.Update(batch);

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
