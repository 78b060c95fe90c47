using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Tests.Runs;
using O2RL.Algorithms.Training;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using Xunit;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// A PyTorch state_dict of an actor carries no observation normalisation: every O2SAC mode normalises its states with
/// the dataset's constants, as CORL trained it. Before, <c>--mode offline</c> (and naive with buffer mode none)
/// scored it on raw observations: −1437 on Pendulum against −296 for the same weights in our checkpoint.
/// </summary>
public sealed class PyTorchStartTests
{
    const string Environment = "Pendulum-v1";

    static string Dataset() =>
        ShippedDatasets.Find(Environment, "medium") ?? throw new FileNotFoundException($"no shipped {Environment} medium dataset under {ShippedDatasets.Root}");

    static RunResult Run(Func<RunContext, RunResult> run, string? folder, string? initial, params string[] overrides)
    {
        using var backend = new CpuBackend(1);
        return run(new RunContext
        {
            Backend = backend, EnvironmentId = Environment, DatasetName = "medium", Seed = 2, DatasetPath = Dataset(),
            InitialCheckpoint = initial, OutputDirectory = folder, Overrides = overrides,
        });
    }

    [Fact]
    public void APyTorchActorIsScoredOnTheDatasetsNormalisationInO2SacsOfflineMode()
    {
        using var root = new TemporaryFolder();
        string ours = Run(CqlRun.Run, root.Combine("cql"), null,
            "steps=200", "batch_size=32", "actor_hidden=[16]", "critic_hidden=[16]", "eval_every=0", "eval_episodes=1").CheckpointPath!;
        // The same actor as a bare PyTorch state_dict: CORL's names, no metadata, no constants.
        string pytorch = root.Combine("actor.safetensors");
        var tensors = SafetensorsFile.Read(ours).Tensors.Values.Where(t => t.Name.StartsWith("actor.", StringComparison.Ordinal))
            .Select(t => new NamedTensor(t.Name["actor.".Length..], t.Shape, t.Data)).ToList();
        SafetensorsFile.Write(pytorch, tensors);

        var fromOurs = Run(O2SacRun.Run, null, ours, "mode=offline", "eval_episodes=3").FinalEvaluation!;
        var fromPyTorch = Run(O2SacRun.Run, null, pytorch, "mode=offline", "eval_episodes=3").FinalEvaluation!;
        Assert.Equal(fromOurs.Returns, fromPyTorch.Returns);
    }
}
