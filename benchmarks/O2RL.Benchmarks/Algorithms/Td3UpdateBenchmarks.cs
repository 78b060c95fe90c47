using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// One TD3 / TD3+BC update at the papers' sizes (2 × 256 actor and critics, batch 256) on the CPU backend, for
/// the Hopper shape (obs 11, act 3) and the libtorch-comparable shape (obs 17, act 6). Each invocation runs two
/// updates — a critic-only one and a delayed one with actor step and Polyak — so the reported time is the mean
/// per update over a policy-delay cycle. Allocations should be 0 B.
/// </summary>
[MemoryDiagnoser]
public class Td3UpdateBenchmarks
{
    Backend backend = null!;
    Td3Agent td3 = null!;
    Td3BcAgent td3Bc = null!;
    TransitionBatch batch = null!;
    long step;

    /// <summary>(obs_dim, act_dim): Hopper, or HalfCheetah/Walker2d (the libtorch comparison).</summary>
    [Params("11x3", "17x6")]
    public string Shape { get; set; } = "17x6";

    /// <summary>CPU threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var parts = Shape.Split('x');
        int obsDim = int.Parse(parts[0]), actionDim = int.Parse(parts[1]);
        backend = new CpuBackend(Threads);
        td3 = new Td3Agent(backend, obsDim, actionDim, new Td3Config(), seed: 1);
        td3Bc = new Td3BcAgent(backend, obsDim, actionDim, new Td3BcConfig(), seed: 1);
        batch = new TransitionBatch(backend, 256, obsDim, actionDim);
        var random = new DeviceRandom(9);
        random.Normal(batch.Observations);
        random.Uniform(batch.Actions, -1f, 1f);
        random.Normal(batch.Rewards);
        random.Normal(batch.NextObservations);
        // Warm both paths so every buffer exists before measuring.
        for (int i = 0; i < 2; i++) { td3.Update(batch, ++step, 0); td3Bc.Update(batch); }
    }

    /// <summary>Two TD3 updates (critic-only + delayed).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public void Td3Update()
    {
        td3.Update(batch, ++step, 0);
        td3.Update(batch, ++step, 0);
        backend.Synchronize();
    }

    /// <summary>Two TD3+BC updates (critic-only + delayed).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public void Td3BcUpdate()
    {
        td3Bc.Update(batch);
        td3Bc.Update(batch);
        backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
