using O2RL.Envs.ClassicControl;
using O2RL.Envs.Vector;
using O2RL.Envs.Wrappers;

namespace O2RL.Envs.Tests;

public class VectorEnvironmentTests
{
    private static IEnvironment MakePendulum(int _) => new TimeLimit(new PendulumEnvironment(), 37);

    [Fact]
    public void VectorEqualsSingleEnvironmentsSteppedInTurn()
    {
        const int copies = 5, steps = 120, seed = 11;
        using var vector = new VectorEnvironment(MakePendulum, copies, maxParallelism: 4);
        var singles = Enumerable.Range(0, copies).Select(MakePendulum).ToArray();
        var singleObservations = new float[copies][];
        vector.Reset(seed);
        for (int i = 0; i < copies; i++)
        {
            singleObservations[i] = singles[i].Reset(EnvRandom.DeriveSeed(seed, i));
            Assert.Equal(singleObservations[i], vector.Observations.Slice(i * 3, 3).ToArray());
        }

        var actions = new float[copies];
        var random = new EnvRandom(99);
        for (int t = 0; t < steps; t++)
        {
            for (int i = 0; i < copies; i++) actions[i] = (float)random.Uniform(-2, 2);
            vector.Step(actions);
            for (int i = 0; i < copies; i++)
            {
                var result = singles[i].Step(actions.AsSpan(i, 1), singleObservations[i]);
                Assert.Equal(result.Reward, vector.Rewards[i]);
                Assert.Equal(result.Terminated, vector.Terminated[i]);
                Assert.Equal(result.Truncated, vector.Truncated[i]);
                if (result.Done)
                {
                    Assert.Equal(singleObservations[i], vector.FinalObservations.Slice(i * 3, 3).ToArray());
                    singles[i].Reset(singleObservations[i]);
                }
                Assert.Equal(singleObservations[i], vector.Observations.Slice(i * 3, 3).ToArray());
            }
        }
        foreach (var single in singles) single.Dispose();
    }

    [Fact]
    public void ParallelAndSequentialRunsAreIdentical()
    {
        double[] Run(int threads)
        {
            using var vector = new VectorEnvironment(MakePendulum, 8, threads);
            vector.Reset(5);
            var actions = new float[8];
            var sums = new double[8];
            for (int t = 0; t < 100; t++)
            {
                for (int i = 0; i < 8; i++) actions[i] = MathF.Sin(t * 0.1f + i);
                vector.Step(actions);
                for (int i = 0; i < 8; i++) sums[i] += vector.Rewards[i] + vector.Observations[i * 3 + 2];
            }
            return sums;
        }
        Assert.Equal(Run(1), Run(4));
    }

    [Fact]
    public void CopiesGetDifferentSeeds()
    {
        using var vector = new VectorEnvironment(MakePendulum, 3, 1);
        var observations = vector.Reset(0).ToArray();
        Assert.NotEqual(observations[..3], observations[3..6]);
        Assert.NotEqual(EnvRandom.DeriveSeed(0, 0), EnvRandom.DeriveSeed(0, 1));
        Assert.NotEqual(EnvRandom.DeriveSeed(0, 1), EnvRandom.DeriveSeed(1, 0));
    }

    [Fact]
    public void StepValidatesTheActionCount()
    {
        using var vector = new VectorEnvironment(MakePendulum, 3, 1);
        vector.Reset(0);
        var error = Assert.Throws<ArgumentException>(() => vector.Step(new float[2]));
        Assert.Contains("3 copies", error.Message);
    }

    [Fact]
    public void ExceptionsInWorkerThreadsReachTheCaller()
    {
        // Copy 1 (run by a worker thread) produces a NaN observation on its third step.
        using var vector = new VectorEnvironment(
            i => new FiniteGuard(new ScriptedEnvironment(nanObservationAt: i == 1 ? 3 : -1)), 2, maxParallelism: 2);
        vector.Reset(0);
        var actions = new float[4];
        vector.Step(actions);
        vector.Step(actions);
        var error = Assert.Throws<NonFiniteValueException>(() => vector.Step(actions));
        Assert.Contains("step 3", error.Message);
    }

    [Fact]
    public void ADisposedVectorEnvironmentSaysSo()
    {
        // It used to fail only when a step needed the worker pool, naming an internal type.
        var vector = new VectorEnvironment(MakePendulum, 2, maxParallelism: 2);
        vector.Reset(0);
        vector.Dispose();
        Assert.Contains("VectorEnvironment", Assert.Throws<ObjectDisposedException>(() => vector.Step(new float[2])).Message);
        Assert.Throws<ObjectDisposedException>(() => vector.Reset(0));
    }

    [Fact]
    public void ParallelStepAllocatesNothing()
    {
        using var vector = new VectorEnvironment(MakePendulum, 4, maxParallelism: 2);
        vector.Reset(0);
        var actions = new float[4];
        for (int i = 0; i < 50; i++) vector.Step(actions);
        Assert.Equal(0, O2RL.Tests.AllocationMeter.BytesAllocated(() => { for (int i = 0; i < 200; i++) vector.Step(actions); }));
    }
}
