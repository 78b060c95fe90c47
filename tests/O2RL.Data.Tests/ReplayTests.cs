using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using Xunit;

namespace O2RL.Data.Tests;

/// <summary>
/// Replay and rollout buffers on one backend; one concrete subclass per backend (CPU, and the GPU kernels on
/// ILGPU's CPU accelerator, which must draw the same indices).
/// </summary>
public abstract class ReplayBufferTests : IDisposable
{
    Backend? backend;

    protected abstract Backend CreateBackend();

    /// <summary>False when the backend is shared by the whole class (ILGPU accelerators take seconds to open).</summary>
    protected virtual bool OwnsBackend => true;

    protected Backend Device => backend ??= CreateBackend();

    /// <summary>Whether this backend's ops allocate nothing on the managed heap (ILGPU kernel launches may).</summary>
    protected virtual bool OpsAllocateNothing => true;

    public void Dispose()
    {
        if (OwnsBackend) backend?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Transitions whose observation row k is (id + k, 2(id + k)) and reward is <paramref name="reward"/> (a source marker).</summary>
    protected static Transitions Marked(int count, float firstId, float reward, int[]? terminalAt = null)
    {
        var obs = new float[count * 2];
        var next = new float[count * 2];
        var act = new float[count];
        var rew = new float[count];
        var term = new float[count];
        for (int k = 0; k < count; k++)
        {
            float id = firstId + k;
            obs[2 * k] = id; obs[2 * k + 1] = 2 * id;
            next[2 * k] = id + 1; next[2 * k + 1] = 2 * (id + 1);
            act[k] = id;
            rew[k] = reward;
        }
        foreach (int t in terminalAt ?? []) term[t] = 1f;
        return new Transitions(2, 1, obs, act, rew, next, term);
    }

    /// <summary>Every field of every sampled row must come from the same stored transition.</summary>
    protected static void AssertRowsConsistent(TransitionBatch batch)
    {
        float[] obs = batch.Observations.ToArray(), act = batch.Actions.ToArray(), next = batch.NextObservations.ToArray();
        for (int i = 0; i < batch.Size; i++)
        {
            Assert.Equal(act[i], obs[2 * i]);
            Assert.Equal(2 * act[i], obs[2 * i + 1]);
            Assert.Equal(act[i] + 1, next[2 * i]);
        }
    }

    [Fact]
    public void ABatchOfAnotherLayoutWithTheSameWidthIsRefused()
    {
        // (obs 3, act 2) and (obs 2, act 4) both pack to 10 columns; filling one from the other would read rewards
        // out of next-observation columns.
        using var buffer = new DeviceReplayBuffer(Device, 4, 3, 2);
        buffer.Add([1, 2, 3], [0.1f, 0.2f], 99f, [4, 5, 6], false);
        var batch = new TransitionBatch(Device, 2, 2, 4);
        var error = Assert.Throws<ArgumentException>(() => buffer.SampleInto(Device.AllocateIndices(2), batch, new DeviceRandom(0)));
        Assert.Contains("batch layout (obs 2, action 4) differs from the buffer's (obs 3, action 2)", error.Message);
    }

    [Fact]
    public void AnOverflowingAddRangeIsRefusedAndLeavesTheBufferAsItWas()
    {
        using var buffer = new DeviceReplayBuffer(Device, 4, 2, 1);
        buffer.AddRange(Marked(2, 0f, 1f));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AddRange(Marked(6, 10f, 2f), 1, int.MaxValue));
        Assert.Contains("range [1, 2147483648) is outside 6 transitions", error.Message);
        Assert.Equal((2, 2, 2L), (buffer.Count, buffer.WritePosition, buffer.TotalAdded));
    }

    [Fact]
    public void RingBufferWrapsAndKeepsTheNewestRows()
    {
        var backend = Device;
        using var buffer = new DeviceReplayBuffer(backend, 5, 2, 1);
        buffer.AddRange(Marked(3, 0, 0));
        Assert.Equal((3, 3), (buffer.Count, buffer.WritePosition));
        buffer.AddRange(Marked(4, 3, 0));
        Assert.Equal((5, 2), (buffer.Count, buffer.WritePosition));
        Assert.Equal(new float[] { 5, 6, 2, 3, 4 }, buffer.DownloadColumns(buffer.Layout.ActionColumn, 1));
        buffer.Add([7f, 14f], [7f], 1f, [8f, 16f], terminal: true);
        Assert.Equal(new float[] { 5, 6, 7, 3, 4 }, buffer.DownloadColumns(buffer.Layout.ActionColumn, 1));
        Assert.Equal(new float[] { 0, 0, 1, 0, 0 }, buffer.DownloadColumns(buffer.Layout.TerminalColumn, 1));
        // More rows than the capacity: only the newest five survive, in ring order.
        buffer.AddRange(Marked(12, 100, 0));
        Assert.Equal(20L, buffer.TotalAdded);
        var kept = buffer.DownloadColumns(buffer.Layout.ActionColumn, 1).OrderBy(v => v).ToArray();
        Assert.Equal(new float[] { 107, 108, 109, 110, 111 }, kept);
        Assert.Throws<ArgumentException>(() => buffer.Add([1f], [1f], 0f, [1f, 2f], false));
    }

    [Fact]
    public void UniformSamplingDrawsEveryHeldRowAndOnlyThose()
    {
        var backend = Device;
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.None, null, 2, 1, onlineCapacity: 100, batchSize: 64, new DeviceRandom(11));
        Assert.Throws<InvalidOperationException>(() => sampler.Sample());
        sampler.Online.AddRange(Marked(10, 0, 0));
        var seen = new int[10];
        for (int draw = 0; draw < 50; draw++)
        {
            var batch = sampler.Sample();
            AssertRowsConsistent(batch);
            foreach (float a in batch.Actions.ToArray()) seen[(int)a]++;
        }
        Assert.Equal(50UL * 64, sampler.Random.Counter);
        // 3,200 draws over 10 rows: each expected 320 with std ≈ 17; ±6σ.
        Assert.All(seen, c => Assert.InRange(c, 220, 420));
    }

    [Fact]
    public void SamplingIsReproducibleFromSeedAndCounter()
    {
        var backend = Device;
        using var a = new MixedReplaySampler(backend, OfflineMixing.None, null, 2, 1, 50, 16, new DeviceRandom(5));
        using var b = new MixedReplaySampler(backend, OfflineMixing.None, null, 2, 1, 50, 16, new DeviceRandom(5));
        a.Online.AddRange(Marked(50, 0, 0));
        b.Online.AddRange(Marked(50, 0, 0));
        var first = a.Sample().Actions.ToArray();
        Assert.NotEqual(first, a.Sample().Actions.ToArray());
        Assert.Equal(first, b.Sample().Actions.ToArray());
        b.Random.Counter = 0;
        Assert.Equal(first, b.Sample().Actions.ToArray());
    }

    [Fact]
    public void HalfModeFillsTheFirstHalfFromOnlineAndTheSecondFromOffline()
    {
        var backend = Device;
        var offline = Marked(1000, 0, -1f);
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.Half, offline, 2, 1, onlineCapacity: 100, batchSize: 256, new DeviceRandom(3));
        Assert.Equal(1000, sampler.Size); // both buffers count toward "size > B"
        var ex = Assert.Throws<InvalidOperationException>(() => sampler.Sample());
        Assert.Contains("online buffer", ex.Message);
        sampler.Online.AddRange(Marked(20, 5000, 1f));
        for (int draw = 0; draw < 5; draw++)
        {
            var batch = sampler.Sample();
            AssertRowsConsistent(batch);
            float[] r = batch.Rewards.ToArray();
            Assert.All(r.AsSpan(0, 128).ToArray(), v => Assert.Equal(1f, v));
            Assert.All(r.AsSpan(128).ToArray(), v => Assert.Equal(-1f, v));
        }
        Assert.Equal(0, sampler.Online.Count - 20);
        Assert.NotNull(sampler.Offline);
        Assert.Equal(1000, sampler.Offline.Count);
    }

    [Fact]
    public void HalfModeWithAnOddBatchGivesTheExtraRowToOffline()
    {
        var backend = Device;
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.Half, Marked(10, 0, -1f), 2, 1, 10, batchSize: 5, new DeviceRandom(3));
        sampler.Add([0f, 0f], [0f], 1f, [1f, 2f], false);
        float[] r = sampler.Sample().Rewards.ToArray();
        Assert.Equal(new float[] { 1, 1, -1, -1, -1 }, r);
    }

    [Fact]
    public void AllModeSamplesTheUnionInProportion()
    {
        var backend = Device;
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.All, Marked(300, 0, -1f), 2, 1, onlineCapacity: 1000, batchSize: 256, new DeviceRandom(9));
        Assert.Equal(300, sampler.Online.Count);
        sampler.Online.AddRange(Marked(100, 5000, 1f));
        int online = 0, total = 0;
        for (int draw = 0; draw < 40; draw++)
        {
            float[] r = sampler.Sample().Rewards.ToArray();
            online += r.Count(v => v > 0);
            total += r.Length;
        }
        // p = 100/400 = 0.25 over 10,240 draws: std ≈ 0.0043; allow ±5σ.
        Assert.InRange(online / (double)total, 0.25 - 0.0215, 0.25 + 0.0215);
        Assert.Throws<ArgumentException>(() => new MixedReplaySampler(backend, OfflineMixing.All, Marked(300, 0, 0), 2, 1, 299, 8, new DeviceRandom(1)));
    }

    [Fact]
    public void PartModeCopiesTheBestTrajectories()
    {
        var backend = Device;
        // Four trajectories of 5: rewards 1, 4, 2, 3 per step. The first ends at a terminal; the others end where the
        // stored next state stops matching the following state (ids jump by 100).
        var parts = new[] { Marked(5, 0, 1f, [4]), Marked(5, 100, 4f), Marked(5, 200, 2f), Marked(5, 300, 3f) };
        var offline = Concat(parts);
        var split = OfflineTrajectories.Split(offline);
        Assert.Equal([(0, 5, 5.0), (5, 5, 20.0), (10, 5, 10.0), (15, 5, 15.0)], split.Select(t => (t.Start, t.Length, t.Return)));
        using var sampler = new MixedReplaySampler(backend, OfflineMixing.Part, offline, 2, 1, onlineCapacity: 100, batchSize: 64, new DeviceRandom(1), partTopTrajectories: 2);
        Assert.Equal([5, 15], sampler.CopiedTrajectories.Select(t => t.Start));
        Assert.Equal(10, sampler.Online.Count);
        var held = sampler.Online.DownloadColumns(sampler.Online.Layout.RewardColumn, 1).Take(10).ToArray();
        Assert.Equal(new float[] { 4, 4, 4, 4, 4, 3, 3, 3, 3, 3 }, held);
        var batch = sampler.Sample();
        AssertRowsConsistent(batch);
        Assert.All(batch.Rewards.ToArray(), v => Assert.True(v is 3f or 4f));
    }

    static Transitions Concat(Transitions[] parts)
    {
        float[] Join(Func<Transitions, float[]> f) => parts.SelectMany(f).ToArray();
        return new Transitions(2, 1, Join(p => p.Observations), Join(p => p.Actions), Join(p => p.Rewards), Join(p => p.NextObservations), Join(p => p.Terminals));
    }

    [Fact]
    public void OfflineUniformSamplerCoversTheDatasetAndKeepsItsCounter()
    {
        var backend = Device;
        using var sampler = UniformReplaySampler.OverTransitions(backend, Marked(8, 0, 0), batchSize: 32, new DeviceRandom(21));
        Assert.Equal(8, sampler.Buffer.Capacity);
        var seen = new HashSet<float>();
        for (int i = 0; i < 10; i++)
        {
            var batch = sampler.Sample();
            AssertRowsConsistent(batch);
            seen.UnionWith(batch.Actions.ToArray());
        }
        Assert.Equal(320UL, sampler.Random.Counter);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (float)i), seen.OrderBy(v => v));
        if (!OpsAllocateNothing) return;
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(() => sampler.Sample()));
    }

    [Fact]
    public void RejectsMismatchedDimensions()
    {
        var backend = Device;
        var ex = Assert.Throws<ArgumentException>(() => new MixedReplaySampler(backend, OfflineMixing.Half, Marked(10, 0, 0), 3, 1, 10, 8, new DeviceRandom(1)));
        Assert.Contains("obs 2 / action 1", ex.Message);
        Assert.Throws<ArgumentNullException>(() => new MixedReplaySampler(backend, OfflineMixing.All, null, 2, 1, 10, 8, new DeviceRandom(1)));
    }

    [Fact]
    public void RolloutBufferUploadsRunsGaeAndGathersPermutedMinibatches()
    {
        var backend = Device;
        using var rollout = new RolloutBuffer(backend, capacity: 8, observationDim: 2, actionDim: 1, minibatchSize: 4);
        for (int t = 0; t < 8; t++)
        {
            Assert.False(rollout.IsFull);
            rollout.Add([t, -t], [t / 10f], [-t], reward: 1f, [t + 1, -t - 1], dw: t == 3, done: t == 3 || t == 6);
        }
        Assert.True(rollout.IsFull);
        Assert.Throws<InvalidOperationException>(() => rollout.Add([0f, 0f], [0f], [0f], 0f, [0f, 0f], false, false));
        Assert.Equal(new float[] { 0, 0, 0, 1, 0, 0, 0, 0 }, rollout.Dw.ToArray());
        var values = backend.FromArray(new float[8], 8, 1);
        var nextValues = backend.FromArray(Enumerable.Repeat(2f, 8).ToArray(), 8, 1);
        rollout.ComputeAdvantages(values, nextValues, gamma: 0.5, lambda: 1.0);
        var expectedA = new float[8];
        var expectedTarget = new float[8];
        Gae.Compute(Enumerable.Repeat(1f, 8).ToArray(), new float[8], Enumerable.Repeat(2f, 8).ToArray(),
            [0, 0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1, 0], 0.5, 1.0, expectedA, expectedTarget);
        Assert.Equal(expectedA, rollout.Advantages.ToArray());
        Assert.Equal(expectedA, rollout.HostAdvantages.ToArray());
        // By hand: step 3 is a true terminal (δ = 1, no bootstrap, recursion cut); steps 6 and 7 bootstrap (δ = 1 + 0.5·2)
        // and step 6's done cuts the recursion from step 7.
        Assert.Equal((1f, 2f, 2f), (expectedA[3], expectedA[6], expectedA[7]));
        var shuffle = new HostRandom(4);
        rollout.ShuffleEpoch(shuffle);
        Assert.Equal(7UL, shuffle.Counter);
        var permutation = rollout.Permutation.ToArray();
        Assert.Equal(Enumerable.Range(0, 8), permutation.OrderBy(i => i));
        var gathered = new List<float>();
        for (int m = 0; m < rollout.MinibatchCount; m++)
        {
            var batch = rollout.GatherMinibatch(m);
            float[] obs = batch.Observations.ToArray();
            float[] logp = batch.LogProbs.ToArray();
            float[] adv = batch.Advantages.ToArray();
            for (int i = 0; i < 4; i++)
            {
                int t = permutation[m * 4 + i];
                Assert.Equal((float)t, obs[2 * i]);
                Assert.Equal(-(float)t, logp[i]);
                Assert.Equal(expectedA[t], adv[i]);
                gathered.Add(obs[2 * i]);
            }
        }
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (float)i), gathered.OrderBy(x => x));
        rollout.Clear();
        Assert.Equal(0, rollout.Count);
    }
}

public class GaeTests
{
    [Fact]
    public void MatchesAHandComputation()
    {
        // γ = 0.9, λ = 0.5. Steps 0-1 one episode ending in a true terminal at 1; step 2 ends by time limit
        // (done but not dw, so V(s') still bootstraps); step 3 is mid-episode (the rollout cut).
        float[] r = [1, 2, 3, 4], v = [0.5f, 1, 2, 1], vNext = [1, 10, 5, 2], dw = [0, 1, 0, 0], done = [0, 1, 1, 0];
        var a = new float[4];
        var target = new float[4];
        Gae.Compute(r, v, vNext, dw, done, 0.9, 0.5, a, target);
        double d3 = 4 + 0.9 * 2 - 1;        // 4.8
        double a3 = d3;                      // A_4 = 0
        double d2 = 3 + 0.9 * 5 - 2;         // 5.5 (time limit: bootstraps)
        double a2 = d2;                      // done cuts the recursion
        double d1 = 2 + 0 - 1;               // 1.0 (true terminal: no bootstrap)
        double a1 = d1;
        double d0 = 1 + 0.9 * 1 - 0.5;       // 1.4
        double a0 = d0 + 0.9 * 0.5 * a1;     // 1.85
        Assert.Equal(new[] { a0, a1, a2, a3 }.Select(x => (float)x), a);
        Assert.Equal(new[] { a0 + 0.5, a1 + 1, a2 + 2, a3 + 1 }.Select(x => (float)x), target);
    }
}

public sealed class CpuReplayBufferTests : ReplayBufferTests
{
    protected override Backend CreateBackend() => new CpuBackend(1);

    [Fact]
    public void SamplingAllocatesNothingOnTheHost()
    {
        var backend = Device;
        using var half = new MixedReplaySampler(backend, OfflineMixing.Half, Marked(1000, 0, -1f), 2, 1, 1000, 256, new DeviceRandom(2));
        half.Online.AddRange(Marked(500, 0, 1f));
        half.Sample();
        long allocated = O2RL.Tests.AllocationMeter.BytesAllocated(() => { for (int i = 0; i < 100; i++) half.Sample(); });
        Assert.Equal(0, allocated);
    }
}

/// <summary>
/// The buffers on the GPU kernels run by ILGPU's CPU accelerator (a slow simulator; always present). Kept out of
/// parallel runs: concurrent ILGPU accelerators have crashed test processes.
/// </summary>
[Collection(IlgpuCollection.Name)]
public sealed class IlgpuCpuReplayBufferTests : ReplayBufferTests
{
    protected override Backend CreateBackend() => SharedIlgpuCpu.Get();

    protected override bool OwnsBackend => false;

    protected override bool OpsAllocateNothing => false;

    [Fact]
    public void DrawsTheSameBatchesAsTheCpuBackend()
    {
        var ilgpu = Device;
        using var cpu = new CpuBackend(1);
        var transitions = Marked(500, 0, 0f);
        using var onCpu = new MixedReplaySampler(cpu, OfflineMixing.Half, transitions, 2, 1, 100, 64, new DeviceRandom(8));
        using var onIlgpu = new MixedReplaySampler(ilgpu, OfflineMixing.Half, transitions, 2, 1, 100, 64, new DeviceRandom(8));
        onCpu.Online.AddRange(transitions, 0, 50);
        onIlgpu.Online.AddRange(transitions, 0, 50);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(onCpu.Sample().Packed.ToArray(), onIlgpu.Sample().Packed.ToArray());
            Assert.Equal(onCpu.Batch.NextObservations.ToArray(), onIlgpu.Batch.NextObservations.ToArray());
        }
    }
}

/// <summary>ILGPU accelerators run one test class at a time and never beside other test classes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IlgpuCollection
{
    public const string Name = "ILGPU devices";
}

/// <summary>One ILGPU CPU accelerator for the whole run: opening one and compiling its kernels takes seconds.</summary>
static class SharedIlgpuCpu
{
    static readonly Lazy<(Backend? Backend, string Reason)> Shared = new(() =>
    {
        try
        {
            return (Devices.Create("ilgpu-cpu"), "");
        }
        catch (InvalidOperationException absent)
        {
            return (null, absent.Message);
        }
    });

    public static Backend Get()
    {
        var (backend, reason) = Shared.Value;
        if (backend is null) Assert.Skip($"ILGPU CPU accelerator absent: {reason}");
        return backend;
    }
}
