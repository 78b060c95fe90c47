using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Engine;
using Xunit;

namespace O2RL.Inference.Tests;

/// <summary>
/// A run stopped mid-way (a crash, Ctrl+C, a divergence) leaves a deployable policy: every step checkpoint has
/// <c>policy_&lt;step&gt;.safetensors</c> beside it, written by the run's own policy writer, and the step state itself is
/// refused by Inference with a message that names that file.
/// </summary>
public sealed class StepPolicyTests
{
    static RunResult Run(string algorithm, string folder, string? dataset, IMetricsSink? metrics = null, string? resume = null)
    {
        using var backend = new CpuBackend(1);
        var context = new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 5, OutputDirectory = folder, DatasetPath = dataset,
            CheckpointEvery = 400, Metrics = metrics ?? new MemoryMetrics(), ResumeCheckpoint = resume,
        };
        return algorithm switch
        {
            SacRun.Algorithm => SacRun.Run(context with
            {
                Overrides = ["total_steps=1200", "warmup_steps=200", "batch_size=32", "actor_hidden=[8]", "critic_hidden=[8]", "eval_every=400", "eval_episodes=1"],
            }),
            PpoRun.Algorithm => PpoRun.Run(context with
            {
                Overrides = ["total_steps=1200", "rollout_length=200", "minibatch_size=50", "epochs=1", "actor_hidden=[8]", "critic_hidden=[8]",
                             "evaluate_every=400", "evaluation_episodes=1"],
            }),
            IqlRun.Algorithm => IqlRun.Run(context with
            {
                Overrides = ["max_steps=1200", "batch_size=32", "actor_hidden=[8]", "critic_hidden=[8]", "value_hidden=[8]", "evaluate_every=400", "evaluation_episodes=1"],
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        };
    }

    static string? Dataset(string algorithm, string root)
    {
        if (algorithm != IqlRun.Algorithm) return null;
        Directory.CreateDirectory(root);
        string dataset = Path.Combine(root, "pendulum.hdf5");
        using var environment = PolicyEnvironment.Make("Pendulum-v1", null);
        Data.D4rlHdf5.Write(DatasetCollection.Collect(environment, null, 600, seed: 2), dataset);
        return dataset;
    }

    [Theory]
    [InlineData(SacRun.Algorithm)]
    [InlineData(PpoRun.Algorithm)]
    [InlineData(IqlRun.Algorithm)]
    public void EveryStepCheckpointHasADeployablePolicyBesideIt(string algorithm)
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-step-policy-" + Guid.NewGuid().ToString("N"));
        try
        {
            string? dataset = Dataset(algorithm, root);
            string folder = Path.Combine(root, "run");
            var result = Run(algorithm, folder, dataset);
            string checkpoints = Path.Combine(folder, "checkpoints");
            string[] States(string prefix) => [.. Directory.GetFiles(checkpoints, prefix + "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
            var states = States("step_");
            var policies = States("policy_");
            Assert.Equal(2, states.Length);
            Assert.Equal(states.Select(s => s!.Replace("step_", "policy_")), policies);
            Assert.DoesNotContain(Directory.GetFiles(checkpoints), f => Path.GetFileName(f).StartsWith(".writing-", StringComparison.Ordinal));

            // The step state is for --resume: refused, naming the file to use instead.
            var refused = Assert.Throws<PolicyFormatException>(() => PolicyModel.Load(Path.Combine(checkpoints, states[^1]!)));
            long lastStep = long.Parse(states[^1]!["step_".Length..^".safetensors".Length], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(refused.Message.Contains($"training state of step {lastStep}", StringComparison.Ordinal), refused.Message);
            Assert.Contains("policy_<step>.safetensors", refused.Message);

            // Each policy file holds the actor of its step: the same values as the state's flat actor vector (compared
            // sorted, since the state keeps one vector and the policy file named tensors), and they differ between the
            // two steps. Both act, and the newest acts as the final policy would have at that step.
            for (int i = 0; i < states.Length; i++)
            {
                var state = Engine.Checkpoints.SafetensorsFile.Read(Path.Combine(checkpoints, states[i]!));
                var policy = Engine.Checkpoints.SafetensorsFile.Read(Path.Combine(checkpoints, policies[i]!));
                float[] stateActor = [.. state.Tensors.Values.Single(t => t.Name.EndsWith(".actor", StringComparison.Ordinal)).Data.Order()];
                float[] policyActor = [.. policy.Tensors.Values.Where(t => t.Name.StartsWith("actor.", StringComparison.Ordinal)).SelectMany(t => t.Data).Order()];
                Assert.Equal(stateActor, policyActor);
                Assert.Equal(PolicyModel.Load(result.CheckpointPath!).ObsDim, PolicyModel.Load(Path.Combine(checkpoints, policies[i]!)).ObsDim);
            }
            var first = PolicyModel.Load(Path.Combine(checkpoints, policies[0]!));
            var second = PolicyModel.Load(Path.Combine(checkpoints, policies[1]!));
            float[] observation = [0.3f, -0.8f, 1.5f];
            Assert.NotEqual(first.Act(observation), second.Act(observation));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData(SacRun.Algorithm)]
    [InlineData(PpoRun.Algorithm)]
    [InlineData(IqlRun.Algorithm)]
    public void TheBestEvaluatedPolicyIsKeptAndAResumedRunGoesOnWithItsRecord(string algorithm)
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-best-policy-" + Guid.NewGuid().ToString("N"));
        try
        {
            string? dataset = Dataset(algorithm, root);
            string folder = Path.Combine(root, "run");
            var metrics = new MemoryMetrics();
            var result = Run(algorithm, folder, dataset, metrics);

            // The record names the first evaluation with the highest return (Pendulum has no normalised score).
            var evaluations = metrics.Series("eval/return");
            Assert.True(evaluations.Count >= 3, $"{evaluations.Count} evaluations");
            var best = evaluations.First(e => e.Value == evaluations.Max(x => x.Value));
            var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "best_policy.json")))!;
            Assert.Equal(best.Step, record["step"]!.GetValue<long>());
            Assert.Equal(best.Value, record["score"]!.GetValue<double>());
            Assert.DoesNotContain(Directory.GetFiles(folder), f => Path.GetFileName(f).StartsWith(".writing-", StringComparison.Ordinal));

            // The file holds the policy of that step: it acts as the policy written at that step does (the step's
            // policy_<step> file, or the final file when the last evaluation was the best).
            string ofThatStep = best.Step == evaluations[^1].Step ? result.CheckpointPath!
                : Path.Combine(folder, "checkpoints", $"policy_{best.Step:D10}.safetensors");
            Assert.True(File.Exists(ofThatStep), $"no policy file of step {best.Step} to compare with");
            var kept = PolicyModel.Load(Path.Combine(folder, "best_policy.safetensors"));
            var reference = PolicyModel.Load(ofThatStep);
            foreach (float[] observation in new[] { new[] { 0.3f, -0.8f, 1.5f }, new[] { -1f, 0.1f, -4f }, new[] { 0.9f, 0.4f, 0.2f } })
                Assert.Equal(reference.Act(observation), kept.Act(observation));

            // A resumed run reads its record back: a record no evaluation can beat stays as it is (a fresh record
            // would be replaced by the replayed evaluations).
            var unbeatable = new System.Text.Json.Nodes.JsonObject { ["step"] = 7, ["score"] = 1e9 };
            File.WriteAllText(Path.Combine(folder, "best_policy.json"), unbeatable.ToJsonString());
            Run(algorithm, folder, dataset, resume: Path.Combine(folder, "checkpoints", "step_0000000400.safetensors"));
            var after = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "best_policy.json")))!;
            Assert.Equal(7, after["step"]!.GetValue<long>());
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
