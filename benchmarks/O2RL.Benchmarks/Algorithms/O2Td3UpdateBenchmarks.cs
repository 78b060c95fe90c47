using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.FineTuning.O2Td3;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// O2TD3's per-step costs at the paper's sizes (2 × 256 actor, 2 × 256 LayerNorm critics, batch 256) on the CPU
/// backend, obs 17 / act 6, beside the plain TD3 update of the same shape: the stage-A evaluation step, the
/// stage-B alignment step, and the stage-C update (two per invocation — critic-only and delayed — so the time
/// is the mean over a policy-delay cycle). Allocations should be 0 B.
/// </summary>
[MemoryDiagnoser]
public class O2Td3UpdateBenchmarks
{
    const int ObsDim = 17, ActionDim = 6;
    Backend backend = null!;
    O2Td3Agent agent = null!;
    Td3Agent td3 = null!;
    TransitionBatch batch = null!;
    long step;

    /// <summary>CPU threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend(Threads);
        var offlineActor = new DeterministicActor(backend, ObsDim, ActionDim, seed: 3, hiddenDims: [256, 256]);
        agent = new O2Td3Agent(backend, offlineActor, new O2Td3Config(), seed: 1);
        td3 = new Td3Agent(backend, ObsDim, ActionDim, new Td3Config { CriticLayerNorm = true }, seed: 1);
        batch = new TransitionBatch(backend, 256, ObsDim, ActionDim);
        var random = new DeviceRandom(9);
        random.Normal(batch.Observations);
        random.Uniform(batch.Actions, -1f, 1f);
        random.Normal(batch.Rewards);
        random.Normal(batch.NextObservations);
        // Warm every path so every buffer exists before measuring.
        for (int i = 0; i < 2; i++)
        {
            agent.EvaluationStep(batch);
            agent.AlignmentStep(batch);
            agent.Update(batch, ++step, 0);
            td3.Update(batch, step, 0);
        }
    }

    /// <summary>Stage A: one TD3 evaluation step of μ_off (critic step + critic-target Polyak).</summary>
    [Benchmark]
    public void StageAEvaluationStep()
    {
        agent.EvaluationStep(batch);
        backend.Synchronize();
    }

    /// <summary>Stage B: one alignment step (anchor targets, actor step, critic step on two action sets).</summary>
    [Benchmark]
    public void StageBAlignmentStep()
    {
        agent.AlignmentStep(batch);
        backend.Synchronize();
    }

    /// <summary>Stage C: two constrained updates (critic-only + delayed with λ, actor and Polyak).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public void StageCUpdate()
    {
        agent.Update(batch, ++step, 0);
        agent.Update(batch, ++step, 0);
        backend.Synchronize();
    }

    /// <summary>Plain TD3 with the same LayerNorm critics: two updates (critic-only + delayed).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = 2)]
    public void Td3Update()
    {
        td3.Update(batch, ++step, 0);
        td3.Update(batch, ++step, 0);
        backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
