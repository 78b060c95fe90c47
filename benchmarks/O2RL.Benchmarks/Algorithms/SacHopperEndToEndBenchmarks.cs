using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Engine;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// SAC on Hopper-v2 end to end at one update per environment step, as <c>o2rl online --algo sac</c> runs it: policy
/// step, MuJoCo step, replay insert, minibatch sample and the update (batch 256, 2 × 256 networks). One operation is
/// one environment step of a 1,256-step run (256 random warm-up steps without updates, then 1,000 with one update
/// each, then one evaluation episode), so the time includes building the agent and the buffers once per run; steps
/// per second = 1 / (time per operation). Needs MuJoCo 2.2.2 (the setup fails with the loader's reason otherwise).
/// </summary>
[MemoryDiagnoser]
public class SacHopperEndToEndBenchmarks
{
    const int WarmupSteps = 256, UpdateSteps = 1000;

    Backend backend = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (O2RL.Envs.MuJoCo.MuJoCoLibrary.UnavailableReason is string reason) throw new InvalidOperationException($"Hopper-v2 needs MuJoCo 2.2.2: {reason}");
        backend = new CpuBackend(Threads);
    }

    [Benchmark(OperationsPerInvoke = WarmupSteps + UpdateSteps)]
    public double EnvironmentStep() => SacRun.Run(new RunContext
    {
        Backend = backend, EnvironmentId = "Hopper-v2", Seed = 1,
        Overrides = [$"total_steps={WarmupSteps + UpdateSteps}", $"warmup_steps={WarmupSteps}", "eval_every=0", "eval_episodes=1", "log_every=0"],
    }).FinalEvaluation!.MeanReturn;

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
