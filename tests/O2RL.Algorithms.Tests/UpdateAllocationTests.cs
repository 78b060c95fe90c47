using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Data.Replay;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// Every learner's update allocates nothing once its buffers exist (the algorithms issue's "zero bytes allocated per
/// update"), on one thread and through the worker pool: SAC, TD3 over its policy-delay cycle, CQL, IQL, TD3+BC and a
/// PPO minibatch step. Small networks keep it quick; the code paths are the full-size ones.
/// </summary>
public sealed class UpdateAllocationTests
{
    const int ObsDim = 5, ActionDim = 2, Batch = 32;
    static readonly int[] Hidden = [16, 16];

    static TransitionBatch RandomBatch(Backend backend)
    {
        var batch = new TransitionBatch(backend, Batch, ObsDim, ActionDim);
        var random = new DeviceRandom(3);
        random.Normal(batch.Observations);
        random.Uniform(batch.Actions, -1f, 1f);
        random.Normal(batch.Rewards);
        random.Normal(batch.NextObservations);
        backend.Upload([.. Enumerable.Range(0, Batch).Select(row => row % 7 == 0 ? 1f : 0f)], batch.Terminals);
        return batch;
    }

    static void AssertSteadyStateAllocatesNothing(string learner, Action update)
    {
        // The first calls size the per-batch buffers; from then on an update reuses them.
        for (int warmup = 0; warmup < 3; warmup++) update();
        long bytes = O2RL.Tests.AllocationMeter.BytesAllocated(() => { for (int i = 0; i < 8; i++) update(); });
        Assert.True(bytes == 0, $"{learner}: 8 updates allocated {bytes} bytes");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void EveryLearnersUpdateAllocatesNothingAfterTheFirst(int threads)
    {
        using var backend = new CpuBackend(threads);
        var batch = RandomBatch(backend);

        var sac = new SacAgent(backend, ObsDim, ActionDim, new SacConfig { BatchSize = Batch, ActorHidden = Hidden, CriticHidden = Hidden }, seed: 1);
        long sacStep = 0;
        AssertSteadyStateAllocatesNothing("SAC", () => sac.Update(batch, ++sacStep, 0));

        var td3 = new Td3Agent(backend, ObsDim, ActionDim, new Td3Config { BatchSize = Batch, ActorHidden = Hidden, CriticHidden = Hidden }, seed: 1);
        long td3Step = 0;
        AssertSteadyStateAllocatesNothing("TD3", () => { td3.Update(batch, ++td3Step, 0); td3.Update(batch, ++td3Step, 0); });

        var cql = new CqlAgent(backend, ObsDim, ActionDim, new CqlConfig { BatchSize = Batch, ActorHidden = Hidden, CriticHidden = Hidden, NActions = 4 }, seed: 1);
        AssertSteadyStateAllocatesNothing("CQL", () => cql.Update(batch));
        var cqlLagrange = new CqlAgent(backend, ObsDim, ActionDim,
            new CqlConfig { BatchSize = Batch, ActorHidden = Hidden, CriticHidden = Hidden, NActions = 4, Lagrange = true, MaxTargetBackup = true }, seed: 1);
        AssertSteadyStateAllocatesNothing("CQL (Lagrange, max backup)", () => cqlLagrange.Update(batch));

        var iql = new IqlAgent(backend, ObsDim, ActionDim, new IqlConfig { BatchSize = Batch, ActorHidden = Hidden, CriticHidden = Hidden, ValueHidden = Hidden }, seed: 1);
        AssertSteadyStateAllocatesNothing("IQL", () => iql.Update(batch));

        var td3Bc = new Td3BcAgent(backend, ObsDim, ActionDim, new Td3BcConfig { BatchSize = Batch, ActorHidden = Hidden, CriticHidden = Hidden }, seed: 1);
        AssertSteadyStateAllocatesNothing("TD3+BC", () => { td3Bc.Update(batch); td3Bc.Update(batch); });

        var ppo = new PpoAgent(backend, ObsDim, ActionDim, new PpoConfig { ActorHidden = Hidden, CriticHidden = Hidden }, seed: 1);
        var random = new DeviceRandom(5);
        Tensor Filled(int columns, float mean)
        {
            var tensor = backend.Allocate(Batch, columns);
            random.Normal(tensor, mean, 0.5f);
            return tensor;
        }
        Tensor observations = Filled(ObsDim, 0f), actions = Filled(ActionDim, 0f), oldLogProbs = Filled(ActionDim, -1f),
            advantages = Filled(1, 0f), valueTargets = Filled(1, 0f);
        AssertSteadyStateAllocatesNothing("PPO minibatch", () =>
        {
            ppo.ActorStep(observations, actions, oldLogProbs, advantages);
            ppo.CriticStep(observations, valueTargets);
        });
    }
}
