using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Offline;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// One IQL update (V, twin Q, Polyak, actor) at the paper's sizes (2 × 256 everywhere), batch 256, on a fixed
/// random batch: Hopper's dimensions (obs 11, act 3) and the libtorch-comparable shape (obs 17, act 6).
/// </summary>
[MemoryDiagnoser]
public class IqlUpdateBenchmarks
{
    Backend backend = null!;
    IqlAgent agent = null!;
    TransitionBatch batch = null!;

    /// <summary>(obs, act) as "obs x act".</summary>
    [Params("11x3", "17x6")]
    public string Shape { get; set; } = "17x6";

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        backend = new CpuBackend();
        agent = new IqlAgent(backend, dims[0], dims[1], new IqlConfig(), seed: 1);
        batch = new TransitionBatch(backend, 256, dims[0], dims[1]);
        var random = new DeviceRandom(2);
        random.Normal(batch.Observations);
        random.Normal(batch.NextObservations);
        random.Uniform(batch.Actions, -1f, 1f);
        random.Normal(batch.Rewards);
        agent.Update(batch);
    }

    [Benchmark]
    public void IqlUpdate()
    {
        agent.Update(batch);
        backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
