using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// O2SAC updates at batch 256, obs 17, act 6, a 2 × 256 tanh-Gaussian actor and the paper's 3 × 256 LayerNorm twin
/// critics: the stage-C constrained update (k = 0, with the λ step), the stage-B alignment step, the stage-A
/// re-evaluation step, and a plain SAC update with the same networks for comparison.
/// </summary>
[MemoryDiagnoser]
public class O2SacUpdateBenchmarks
{
    Backend backend = null!;
    O2SacLearner learner = null!;
    SoftActorCritic plain = null!;
    TransitionBatch batch = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend(Threads);
        const int obsDim = 17, actionDim = 6;
        var config = new O2SacConfig();
        var actor = new TanhGaussianActor(backend, obsDim, actionDim, seed: 1, hiddenDims: [256, 256]);
        learner = new O2SacLearner(backend, actor, config, seed: 1);
        plain = new SacAgent(backend, obsDim, actionDim, new SacConfig { ActorHidden = [256, 256], CriticHidden = config.CriticHidden, CriticLayerNorm = true }, seed: 1).Learner;
        batch = AlgorithmBenchmarkData.RandomBatch(backend, 256, obsDim, actionDim);
        // First calls allocate the per-batch buffers.
        StageC(); StageB(); StageA(); PlainSac();
    }

    [Benchmark]
    public void StageC() => learner.ConstrainedUpdate(batch, 5_000, 0);

    [Benchmark]
    public void StageB() => learner.ValueAlignmentStep(batch.Observations);

    [Benchmark]
    public void StageA() => learner.PolicyEvaluationStep(batch);

    [Benchmark(Baseline = true)]
    public void PlainSac()
    {
        plain.RefreshAlpha();
        plain.ActorLossBackward(batch.Observations, temperatureGradient: true);
        var (nextQ, _, nextLogProb) = plain.NextStateSample(batch.NextObservations);
        var (_, gradient, _) = plain.TdLoss(batch, nextQ, nextLogProb);
        plain.CriticBackward(gradient);
        plain.Step();
    }

    [GlobalCleanup]
    public void Cleanup() => backend.Dispose();
}
