using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Engine;
using Xunit;
using Ref = O2RL.Algorithms.Tests.SoftActorCriticReference;

namespace O2RL.Algorithms.Tests;

public sealed class CqlTests
{
    const int ObsDim = 3, ActionDim = 2, B = 4, N = 3;
    static readonly float[] S = [0.5f, -1f, 0.2f, 1.5f, 0.3f, -0.7f, -0.4f, 0.9f, 1.1f, 0f, -1.2f, 0.6f];
    static readonly float[] A = [0.3f, -0.8f, 0.9f, 0.1f, -0.5f, 0.4f, 0f, -0.2f];
    static readonly float[] R = [1f, -0.5f, 2f, 0.25f];
    static readonly float[] S2 = [0.4f, -0.9f, 0.3f, 1.2f, 0.5f, -0.6f, -0.1f, 1f, 0.8f, 0.2f, -1f, 0.4f];
    static readonly float[] M = [0f, 1f, 0f, 0f];

    static CqlConfig TinyConfig(bool lagrange, bool importanceSample, bool maxBackup) => new()
    {
        ActorHidden = [5, 4], CriticHidden = [6, 5], BatchSize = B, NActions = N,
        Lagrange = lagrange, CqlAlpha = lagrange ? 5f : 10f, ImportanceSample = importanceSample, MaxTargetBackup = maxBackup,
    };

    static double[] Repeat(double[] rows, int dim) => [.. Enumerable.Range(0, B * N).SelectMany(j => rows.Skip(j / N * dim).Take(dim))];

    /// <summary>Double-precision TD loss and conservative sum C_1 + C_2 (before α′) from flat parameters and the update's draws.</summary>
    static (double Td, double GapSum, double[] Gaps) Reference(CqlConfig config, Ref.Net actor, Ref.Net critic, Ref.Net target, float[][] draws)
    {
        var s = Ref.D(S); var s2 = Ref.D(S2);
        // Target without entropy term: min Q̄(s′, ã′), or the max over N next actions.
        double[] next;
        if (config.MaxTargetBackup)
        {
            var (a2, _) = Ref.Sample(actor, Repeat(s2, ObsDim), B * N, ActionDim, draws[1]);
            var q2 = Ref.Min(Ref.Q(target, Repeat(s2, ObsDim), a2, B * N, ObsDim, ActionDim));
            next = [.. Enumerable.Range(0, B).Select(b => Enumerable.Range(0, N).Max(k => q2[b * N + k]))];
        }
        else
        {
            var (a2, _) = Ref.Sample(actor, s2, B, ActionDim, draws[1]);
            next = Ref.Min(Ref.Q(target, s2, a2, B, ObsDim, ActionDim));
        }
        var y = Enumerable.Range(0, B).Select(i => R[i] + 0.99 * (1 - M[i]) * next[i]).ToArray();
        var q = Ref.Q(critic, s, Ref.D(A), B, ObsDim, ActionDim);
        double td = q.Sum(qe => Enumerable.Range(0, B).Average(i => (qe[i] - y[i]) * (qe[i] - y[i])));

        var sRep = Repeat(s, ObsDim);
        var aRand = Ref.D(draws[2]);
        var (aCur, logCur) = Ref.Sample(actor, sRep, B * N, ActionDim, draws[3]);
        var (aNxt, logNxt) = Ref.Sample(actor, Repeat(s2, ObsDim), B * N, ActionDim, draws[4]);
        var qRand = Ref.Q(critic, sRep, aRand, B * N, ObsDim, ActionDim);
        var qCur = Ref.Q(critic, sRep, aCur, B * N, ObsDim, ActionDim);
        var qNxt = Ref.Q(critic, sRep, aNxt, B * N, ObsDim, ActionDim);
        var gaps = new double[critic.Members];
        for (int e = 0; e < critic.Members; e++)
        {
            double gap = 0;
            for (int b = 0; b < B; b++)
            {
                var values = new List<double>();
                for (int k = 0; k < N; k++)
                    values.Add(config.ImportanceSample ? qRand[e][b * N + k] + ActionDim * Math.Log(2) : qRand[e][b * N + k]);
                if (!config.ImportanceSample) values.Add(q[e][b]);
                for (int k = 0; k < N; k++)
                    values.Add(config.ImportanceSample ? qNxt[e][b * N + k] - logNxt[b * N + k] : qNxt[e][b * N + k]);
                for (int k = 0; k < N; k++)
                    values.Add(config.ImportanceSample ? qCur[e][b * N + k] - logCur[b * N + k] : qCur[e][b * N + k]);
                double max = values.Max();
                double ood = max + Math.Log(values.Sum(v => Math.Exp(v - max)));
                gap += (ood - q[e][b]) / B;
            }
            gaps[e] = gap;
        }
        return (td, gaps.Sum(), gaps);
    }

    static double Conservative(CqlConfig config, (double Td, double GapSum, double[] Gaps) r, double logAlphaPrime) =>
        config.Lagrange ? Math.Exp(logAlphaPrime) * config.CqlAlpha * r.Gaps.Sum(g => g - config.TargetActionGap) : config.CqlAlpha * r.GapSum;

    [Theory]
    [InlineData(false, true, false)]   // MuJoCo defaults
    [InlineData(false, false, false)]  // without importance sampling
    [InlineData(true, true, true)]     // AntMaze: Lagrange and max backup
    public void CriticLossMatchesDoublePrecisionReferenceAndItsGradientMatchesFiniteDifferences(bool lagrange, bool importanceSample, bool maxBackup)
    {
        using var backend = new CpuBackend(1);
        var config = TinyConfig(lagrange, importanceSample, maxBackup);
        var agent = new CqlAgent(backend, ObsDim, ActionDim, config, seed: 3);
        var other = new CqlAgent(backend, ObsDim, ActionDim, config, seed: 8);
        var sac = agent.Learner;
        sac.TargetCritic.Parameters.CopyValuesFrom(other.Learner.Critic.Parameters);
        var batch = Ref.Batch(backend, S, A, R, S2, M, ObsDim, ActionDim);
        var actor = Ref.Net.Of(sac.Actor.Parameters, 1);
        var critic = Ref.Net.Of(sac.Critic.Parameters, 2);
        var target = Ref.Net.Of(sac.TargetCritic.Parameters, 2);
        // The update's draws in order: actor-loss noise, target noise (n per state with max backup), uniform actions, current and next samples.
        ulong seed = sac.UpdateRandom.Seed, c = sac.UpdateRandom.Counter;
        int targetLength = (maxBackup ? B * N : B) * ActionDim, repeated = B * N * ActionDim;
        float[][] draws =
        [
            Ref.Normal(backend, seed, c, B * ActionDim),
            Ref.Normal(backend, seed, c + (ulong)(B * ActionDim), targetLength),
            Ref.Uniform(backend, seed, c + (ulong)(B * ActionDim + targetLength), repeated, -1f, 1f),
            Ref.Normal(backend, seed, c + (ulong)(B * ActionDim + targetLength + repeated), repeated),
            Ref.Normal(backend, seed, c + (ulong)(B * ActionDim + targetLength + 2 * repeated), repeated),
        ];

        agent.Update(batch);

        var expected = Reference(config, actor, critic, target, draws);
        double logAlphaPrime = config.LogAlphaPrimeInit;
        double conservative = Conservative(config, expected, logAlphaPrime);
        Assert.Equal(expected.Td, backend.ReadScalar(sac.CriticLoss), 1e-4 * Math.Max(1, Math.Abs(expected.Td)));
        Assert.Equal(conservative, backend.ReadScalar(agent.ConservativeLoss), 1e-4 * Math.Max(1, Math.Abs(conservative)));
        if (lagrange)
        {
            // α′ loss −(C_1 + C_2)/2; with α′ = exp(log α′) its derivative in log α′ equals the loss itself.
            Assert.Equal(-conservative / 2, backend.ReadScalar(agent.AlphaPrimeLoss), 1e-4 * Math.Max(1, Math.Abs(conservative)));
            Assert.Equal(-conservative / 2, backend.ReadScalar(agent.LogAlphaPrimeGradient), 1e-4 * Math.Max(1, Math.Abs(conservative)));
        }

        // ∂(TD + C_1 + C_2)/∂θ_critic (from the pre-step parameters) against central differences.
        float[] gradient = sac.Critic.Parameters.Gradients.ToArray();
        double h = 1e-4;
        double Total(double[] values)
        {
            var r = Reference(config, actor, critic.With(values), target, draws);
            return r.Td + Conservative(config, r, logAlphaPrime);
        }
        foreach (int i in new[] { 0, 4, 21, 40, critic.Values.Length / 2 + 1, critic.Values.Length - 2, critic.Values.Length - 1 })
        {
            double[] plus = (double[])critic.Values.Clone(), minus = (double[])critic.Values.Clone();
            plus[i] += h; minus[i] -= h;
            double numeric = (Total(plus) - Total(minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[i]) < 3e-3 * Math.Max(1, Math.Abs(numeric)), $"critic ∂L/∂θ[{i}]: numeric {numeric}, device {gradient[i]}");
        }
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 5)]   // behaviour-cloning warm start
    public void OneUpdateMovesEveryParameterOfEveryTrainedNetwork(bool lagrange, int bcSteps)
    {
        using var backend = new CpuBackend(1);
        var agent = new CqlAgent(backend, ObsDim, ActionDim, TinyConfig(lagrange, true, lagrange) with { BcSteps = bcSteps }, seed: 5);
        var sac = agent.Learner;
        var sets = new[] { sac.Actor.Parameters, sac.Critic.Parameters, sac.TargetCritic.Parameters };
        var before = sets.Select(Ref.Snapshot).ToArray();
        float logAlpha = backend.ReadScalar(sac.LogAlpha), logAlphaPrime = backend.ReadScalar(agent.LogAlphaPrime);
        agent.Update(Ref.Batch(backend, S, A, R, S2, M, ObsDim, ActionDim));
        var after = sets.Select(Ref.Snapshot).ToArray();
        for (int n = 0; n < sets.Length; n++)
            foreach (var (name, values) in before[n])
                Assert.False(values.SequenceEqual(after[n][name]), $"network {n} parameter '{name}' did not move");
        Assert.NotEqual(logAlpha, backend.ReadScalar(sac.LogAlpha));
        // log α′ is trained only by the Lagrange version.
        if (lagrange) Assert.NotEqual(logAlphaPrime, backend.ReadScalar(agent.LogAlphaPrime));
        else Assert.Equal(logAlphaPrime, backend.ReadScalar(agent.LogAlphaPrime));
    }

    [Fact]
    public void ShippedAntMazeConfigSwitchesOnTheAntMazeColumn()
    {
        string? path = ConfigLoader.ShippedConfigPath(CqlRun.Algorithm, "antmaze-medium-play-v2", "default");
        Assert.NotNull(path);
        var config = ConfigLoader.Resolve(new CqlConfig(), path, null, []);
        Assert.True(config.Lagrange && config.MaxTargetBackup);
        Assert.Equal(5f, config.CqlAlpha);
        Assert.Equal(-200f, config.GapClipLow);
        Assert.Null(config.GapClipHigh);
        Assert.Equal(5, config.CriticHidden.Length);
        Assert.False(config.NormalizeStates);
        Assert.Equal((10f, -5f), (config.RewardScale, config.RewardBias));
        Assert.Equal(1e-4f, config.PolicyLr);
    }

    [Fact]
    public void ClippedGapPassesNoGradientWhereTheClipIsActive()
    {
        using var backend = new CpuBackend(1);
        // A lower clip far above any gap: every gap is clamped, so the conservative term is constant in the critics.
        var clipped = new CqlAgent(backend, ObsDim, ActionDim, TinyConfig(false, true, false) with { GapClipLow = 1e4f }, seed: 3);
        var plain = new CqlAgent(backend, ObsDim, ActionDim, TinyConfig(false, true, false) with { Tau = 0.005f }, seed: 3);
        var batch = Ref.Batch(backend, S, A, R, S2, M, ObsDim, ActionDim);
        clipped.Update(batch);
        Assert.Equal(2 * 10f * 1e4f, backend.ReadScalar(clipped.ConservativeLoss), 1f);
        // With the term constant, the critic gradient is the TD gradient alone: compare with a run whose weight is 0.
        var tdOnly = new CqlAgent(backend, ObsDim, ActionDim, TinyConfig(false, true, false) with { CqlAlpha = 0f }, seed: 3);
        tdOnly.Update(batch);
        Assert.Equal(tdOnly.Learner.Critic.Parameters.Gradients.ToArray(), clipped.Learner.Critic.Parameters.Gradients.ToArray());
        plain.Update(batch);
        Assert.NotEqual(tdOnly.Learner.Critic.Parameters.Gradients.ToArray(), plain.Learner.Critic.Parameters.Gradients.ToArray());
    }

    [Fact]
    public void TwoRunsWithOneSeedAreBitIdenticalAndTheCheckpointLoads()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-cql-" + Guid.NewGuid().ToString("N"));
        try
        {
            // A random-policy dataset is enough for determinism.
            using (var env = PolicyEnvironment.Make("Pendulum-v1", StateNormalizer.Identity(3)))
            {
                Directory.CreateDirectory(root);
                D4rlHdf5.Write(DatasetCollection.Collect(env, null, 600, seed: 2), Path.Combine(root, "random.hdf5"));
            }
            string[] overrides = ["steps=30", "batch_size=16", "actor_hidden=[8,8]", "critic_hidden=[8,8,8]", "eval_every=30", "eval_episodes=1", "log_every=10", "lagrange=true"];
            byte[] RunOnce(string name)
            {
                using var backend = new CpuBackend(1);
                var result = CqlRun.Run(new RunContext
                {
                    Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 4, DatasetPath = Path.Combine(root, "random.hdf5"),
                    OutputDirectory = Path.Combine(root, name), Overrides = overrides,
                });
                return File.ReadAllBytes(result.CheckpointPath!);
            }
            Assert.Equal(RunOnce("a"), RunOnce("b"));
            string checkpoint = Path.Combine(root, "a", "cql.safetensors");
            var (actor, normalizer) = CqlRun.LoadActor(checkpoint, new CpuBackend(1));
            Assert.Equal([8, 8], actor.Network.Spec.HiddenDims);
            Assert.NotEqual(0f, normalizer.Mean[2]);
            var file = Engine.Checkpoints.SafetensorsFile.Read(checkpoint);
            Assert.Equal("cql", file.Metadata["algorithm"]);
            Assert.Contains("critic_target.network.0.weight", file.Tensors.Keys);
            Assert.Contains("log_alpha_prime", file.Tensors.Keys);
            Assert.True(File.Exists(Path.Combine(root, "a", "config.json")));

            // Naive fine-tuning baseline: SAC starts from the CQL checkpoint (architecture, weights and normalisation).
            // With the warm-up longer than the run no update happens, so the saved networks are the loaded ones.
            using var sacBackend = new CpuBackend(1);
            var sac = SacRun.Run(new RunContext
            {
                Backend = sacBackend, EnvironmentId = "Pendulum-v1", Seed = 4, InitialCheckpoint = checkpoint, OutputDirectory = Path.Combine(root, "sac"),
                Overrides = ["total_steps=50", "warmup_steps=1000", "eval_every=0", "eval_episodes=1"],
            });
            var fineTuned = Engine.Checkpoints.SafetensorsFile.Read(sac.CheckpointPath!);
            foreach (var name in file.Tensors.Keys.Where(k => k.StartsWith("actor.", StringComparison.Ordinal) || k.StartsWith("critic", StringComparison.Ordinal)))
                Assert.Equal(file.Tensors[name].Data, fineTuned.Tensors[name].Data);
            Assert.Equal(file.Metadata["obs_mean"], fineTuned.Metadata["obs_mean"]);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    [Trait("Category", "Learning")]
    public void LearnsPendulumFromAMediumDatasetAtLeastAsWellAsTheData()
    {
        // Our shipped Pendulum-v1 medium dataset (50,000 rows of a SAC policy stopped a third of the way to expert, its
        // sampled actions) with the shipped settings (configs/cql/pendulum-v1/default.yaml: 2 × 64 networks, 10,000
        // steps, cql_alpha 10 as on MuJoCo). The deterministic policy must evaluate at least at the data's mean return.
        string path = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset is missing");
        double datasetReturn = DatasetCollection.MeanEpisodeReturn(D4rlHdf5.Read(path));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var backend = new CpuBackend();
        var metrics = new MemoryMetrics();
        var result = CqlRun.Run(new RunContext { Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 3, DatasetPath = path, Metrics = metrics });
        var evals = metrics.Series("eval/return");
        string curve = string.Join(", ", evals.Select(e => $"{e.Step}:{e.Value:F0}"));
        TestContext.Current.TestOutputHelper?.WriteLine($"dataset mean return {datasetReturn:F0}; CQL {curve}; {clock.Elapsed.TotalSeconds:F0}s, update {metrics.Last("time/update"):F2} ms");
        Assert.True(result.FinalEvaluation!.MeanReturn >= datasetReturn,
            $"CQL should reach the dataset's mean return {datasetReturn:F0}; curve {curve}");
    }
}
