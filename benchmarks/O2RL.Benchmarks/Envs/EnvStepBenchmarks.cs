using BenchmarkDotNet.Attributes;
using O2RL.Envs;
using O2RL.Envs.MuJoCo;
using O2RL.Envs.Vector;

namespace O2RL.Benchmarks.Envs;

/// <summary>
/// Environment steps per second on one thread: uniform random actions (pre-drawn), auto-reset at episode ends,
/// all wrappers the registry adds. Steps/s = 1 / (reported time per operation).
/// </summary>
[MemoryDiagnoser]
public class EnvStepBenchmarks
{
    private const int StepsPerInvoke = 1000;

    private IEnvironment environment = null!;
    private float[] actions = null!;
    private float[] observation = null!;
    private int actionDim;

    [Params("Pendulum-v1", "MountainCarContinuous-v0", "Hopper-v2", "Walker2d-v2", "HalfCheetah-v2", "Ant-v2", "maze2d-umaze-v1", "antmaze-umaze-v2")]
    public string Id { get; set; } = "Hopper-v2";

    [GlobalSetup]
    public void Setup()
    {
        environment = EnvironmentRegistry.Make(Id);
        actionDim = environment.ActionSpace.Dimension;
        observation = new float[environment.ObservationSpace.Dimension];
        actions = new float[StepsPerInvoke * actionDim];
        var random = new EnvRandom(0);
        for (int i = 0; i < StepsPerInvoke; i++) environment.ActionSpace.Sample(random, actions.AsSpan(i * actionDim, actionDim));
        environment.Reset(observation, 0);
    }

    [GlobalCleanup]
    public void Cleanup() => environment.Dispose();

    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public float Step()
    {
        for (int i = 0; i < StepsPerInvoke; i++)
        {
            if (environment.Step(actions.AsSpan(i * actionDim, actionDim), observation).Done)
                environment.Reset(observation);
        }
        return observation[0];
    }
}

/// <summary>
/// Vector environment throughput: Copies copies stepped together on all cores with auto-reset. The time per
/// operation is per single-environment step, so steps/s = 1 / time.
/// </summary>
[MemoryDiagnoser]
public class VectorEnvStepBenchmarks
{
    private const int VectorSteps = 100;

    private VectorEnvironment vector = null!;
    private float[] actions = null!;

    [Params("Pendulum-v1", "Hopper-v2", "HalfCheetah-v2", "Ant-v2")]
    public string Id { get; set; } = "Hopper-v2";

    [Params(1, 2, 8)]
    public int Copies { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        vector = new VectorEnvironment(_ => EnvironmentRegistry.Make(Id), Copies);
        actions = new float[Copies * vector.ActionSpace.Dimension];
        var random = new EnvRandom(0);
        for (int i = 0; i < actions.Length; i++) actions[i] = (float)random.Uniform(-1, 1);
        vector.Reset(0);
    }

    [GlobalCleanup]
    public void Cleanup() => vector.Dispose();

    [Benchmark]
    public double Step()
    {
        for (int i = 0; i < VectorSteps; i++) vector.Step(actions);
        return vector.Rewards[0];
    }

    /// <summary>Environment steps per invocation, for converting the time into steps/s.</summary>
    public int StepsPerInvoke => VectorSteps * Copies;
}

/// <summary>
/// One bare mj_step through our interop (no environment logic), with the protocol of MuJoCo's own testspeed sample:
/// start from the default pose and step with control noise of ±0.01 on every actuator. Compare with
/// compare-testspeed.sh, which runs testspeed on the same model files for the same number of steps.
/// </summary>
[MemoryDiagnoser]
public class RawMjStepBenchmarks
{
    private const int StepsPerInvoke = 1000;
    private MjSimulation simulation = null!;
    private double[] noise = null!;

    [Params("hopper", "walker2d", "half_cheetah", "ant")]
    public string Model { get; set; } = "hopper";

    [GlobalSetup]
    public void Setup()
    {
        simulation = new MjSimulation(MuJoCoModels.GetCompiled(Model));
        // Pre-drawn noise keeps the random generator out of the timed loop.
        noise = new double[StepsPerInvoke * simulation.Ctrl.Length];
        var random = new EnvRandom(1);
        for (int i = 0; i < noise.Length; i++) noise[i] = random.Uniform(-0.01, 0.01);
    }

    [GlobalCleanup]
    public void Cleanup() => simulation.Dispose();

    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public double Step()
    {
        // Every invocation replays the same trajectory from the default pose, as testspeed does once.
        simulation.Reset();
        simulation.Forward();
        var ctrl = simulation.Ctrl;
        for (int i = 0; i < StepsPerInvoke; i++)
        {
            noise.AsSpan(i * ctrl.Length, ctrl.Length).CopyTo(ctrl);
            simulation.Step(1);
        }
        return simulation.Time;
    }
}
