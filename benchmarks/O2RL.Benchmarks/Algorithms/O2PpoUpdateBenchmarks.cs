using BenchmarkDotNet.Attributes;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.FineTuning.O2Ppo;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Distributions;

namespace O2RL.Benchmarks.Algorithms;

/// <summary>
/// One whole update on a full rollout of 2,048 steps (GAE, then K = 10 epochs of 16 minibatches of 128, actor then
/// critic): O2PPO with the auxiliary reference advantage in the release's 2,048 × 2,048 matrix form and in the
/// per-sample form, beside plain PPO's update. Paper sizes (actor 2 × 256 ReLU, value net 3 × 256 tanh) at the
/// libtorch-comparable shape (obs 17, act 6). Also the advantage mixing alone (matrix form).
/// </summary>
[MemoryDiagnoser]
public class O2PpoUpdateBenchmarks
{
    const int ObsDim = 17, ActionDim = 6, Rollout = 2_048;
    Backend backend = null!;
    O2PpoAgent o2 = null!;
    PpoAgent ppo = null!;
    RolloutBuffer rollout = null!;
    Tensor referenceLogProb = null!, referenceEntropy = null!;

    /// <summary>"matrix" (faithful), "per-sample", or "ppo" (plain PPO update).</summary>
    [Params("matrix", "per-sample", "ppo")]
    public string Form { get; set; } = "matrix";

    [GlobalSetup]
    public void Setup()
    {
        backend = new CpuBackend();
        var config = new O2PpoConfig { AuxAdvantagePerSample = Form == "per-sample" };
        var actor = new GaussianActor(backend, ObsDim, ActionDim, 1, Gaussian.PpoMinLogStd);
        if (Form == "ppo") ppo = new PpoAgent(backend, ObsDim, ActionDim, config.ToPpoConfig([256, 256]), 1, actor);
        else o2 = new O2PpoAgent(backend, config, actor, 1, [256, 256]);
        rollout = new RolloutBuffer(backend, Rollout, ObsDim, ActionDim, config.MinibatchSize);
        var random = new HostRandom(2);
        var s = new float[ObsDim];
        var next = new float[ObsDim];
        var a = new float[ActionDim];
        var lp = new float[ActionDim];
        for (int t = 0; t < Rollout; t++)
        {
            for (int j = 0; j < ObsDim; j++) { s[j] = random.Normal(); next[j] = random.Normal(); }
            if (o2 is not null) o2.Act(s, a, lp); else ppo.Act(s, a, lp);
            rollout.Add(s, a, lp, random.Normal(), next, dw: false, done: t % 1000 == 999);
        }
        referenceLogProb = backend.Allocate(Rollout);
        referenceEntropy = backend.Allocate(1);
        new DeviceRandom(3).Normal(referenceLogProb, -6f, 2f);
        Update();
    }

    /// <summary>One update at t = 2,048 (w_t ≈ 0.99).</summary>
    [Benchmark]
    public void Update()
    {
        if (o2 is not null) o2.Update(rollout, Rollout);
        else ppo.Update(rollout, Rollout);
        backend.Synchronize();
    }

    /// <summary>The mixing and normalisation of the advantage alone (nothing for plain PPO).</summary>
    [Benchmark]
    public void AdvantageMixing()
    {
        if (o2 is null) return;
        o2.Advantage.Compute(rollout.Advantages, referenceLogProb, referenceEntropy, 0.99f);
        backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        rollout.Dispose();
        backend.Dispose();
    }
}
