using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Online;
using O2RL.Engine;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// One PPO minibatch step (actor step, then critic step) at the paper's sizes (actor 2 × 256 ReLU, value net
/// 3 × 256 tanh). The O2PPO minibatch is 128; 256 is measured too, to compare with the off-policy updates.
/// Dimensions: Hopper (obs 11, act 3) and the libtorch-comparable shape (obs 17, act 6).
/// </summary>
[MemoryDiagnoser]
public class PpoUpdateBenchmarks
{
    Backend backend = null!;
    PpoAgent agent = null!;
    Tensor observations = null!, actions = null!, oldLogProbs = null!, advantages = null!, valueTargets = null!;

    /// <summary>(obs, act) as "obs x act".</summary>
    [Params("11x3", "17x6")]
    public string Shape { get; set; } = "17x6";

    /// <summary>Minibatch size.</summary>
    [Params(128, 256)]
    public int Minibatch { get; set; } = 128;

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        backend = new CpuBackend();
        agent = new PpoAgent(backend, dims[0], dims[1], new PpoConfig(), seed: 1);
        var random = new DeviceRandom(2);
        observations = backend.Allocate(Minibatch, dims[0]);
        actions = backend.Allocate(Minibatch, dims[1]);
        oldLogProbs = backend.Allocate(Minibatch, dims[1]);
        advantages = backend.Allocate(Minibatch, 1);
        valueTargets = backend.Allocate(Minibatch, 1);
        random.Normal(observations);
        random.Uniform(actions, -1f, 1f);
        random.Normal(oldLogProbs, -1f, 0.1f);
        random.Normal(advantages);
        random.Normal(valueTargets);
        MinibatchStep();
    }

    [Benchmark]
    public void MinibatchStep()
    {
        agent.ActorStep(observations, actions, oldLogProbs, advantages);
        agent.CriticStep(observations, valueTargets);
        backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
