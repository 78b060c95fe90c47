using O2RL.Algorithms.Configs;
using O2RL.Algorithms.FineTuning.O2Ppo;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Distributions;
using Xunit;
using static O2RL.Algorithms.Tests.DoubleNetworks;

namespace O2RL.Algorithms.Tests;

public sealed class O2PpoTests
{
    /// <summary>n = 4 rollout, minibatch 4, obs 2, d = 2, one hidden layer of 3.</summary>
    static O2PpoConfig Tiny => new()
    {
        RolloutLength = 4, MinibatchSize = 4, Epochs = 1, CriticHidden = [3], ActorLr = 1e-3f, CriticLr = 1e-3f,
        TotalSteps = 1_000, AuxDecaySteps = 1_000,
    };

    static GaussianActor TinyActor(Backend backend, int obsDim = 2, int actionDim = 2, int[]? hidden = null, ulong seed = 3) =>
        new(backend, obsDim, actionDim, seed, Gaussian.PpoMinLogStd, hiddenDims: hidden ?? [3]);

    // ───────────────────────────── §5.2 data ─────────────────────────────

    [Fact]
    public void MonteCarloReturnsRunAcrossTimeoutsAndStopOnlyAtTerminals()
    {
        // Six raw rows: row 1 is a time-limit end (timeout), row 3 a true terminal. Five PPO transitions (the last raw
        // row is never used). Faithful quirk: the timeout does not cut the return.
        float[] obs = [0, 1, 2, 3, 4, 5];
        float[] act = [0.5f, 1f, -1f, 0.2f, 0.99999999f, 0f];
        float[] rew = [1, 2, 3, 4, 5, 6];
        bool[] terminals = [false, false, false, true, false, false];
        bool[] timeouts = [false, true, false, false, false, false];
        var dataset = new TransitionDataset(1, 1, obs, act, rew, terminals, timeouts);
        var data = PpoOfflineData.Prepare(dataset, gamma: 0.5, RewardScaling.Off, normalizeStates: true);
        var t = data.Transitions;
        Assert.Equal(5, t.Count);
        double g4 = 5, g3 = 4, g2 = 3 + 0.5 * g3, g1 = 2 + 0.5 * g2, g0 = 1 + 0.5 * g1;   // g3: terminal, g1: timeout ignored
        double[] expected = [g0, g1, g2, g3, g4];
        for (int i = 0; i < 5; i++) Assert.Equal(expected[i], t.MonteCarloReturns![i], 1e-6);
        // Actions clipped to ±(1 − 1e-5).
        Assert.Equal(1f - 1e-5f, t.Actions[1]);
        Assert.Equal(-(1f - 1e-5f), t.Actions[2]);
        // States 0..4: mean 2, population std √2 (+ 1e-10); s' = next raw row, normalised with the same constants.
        Assert.Equal(2f, data.Normalizer.Mean[0]);
        Assert.Equal(Math.Sqrt(2) + 1e-10, data.Normalizer.Std[0], 1e-6);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal((i - 2) / Math.Sqrt(2), t.Observations[i], 1e-5);
            Assert.Equal((i + 1 - 2) / Math.Sqrt(2), t.NextObservations[i], 1e-5);
        }
    }

    [Fact]
    public void DynamicRewardScalingScalesTheDatasetRewardsBeforeTheReturns()
    {
        float[] obs = [0, 1, 2, 3];
        float[] rew = [1, 2, 3, 4];
        var dataset = new TransitionDataset(1, 1, obs, [0, 0, 0, 0], rew, [false, false, false, false]);
        var data = PpoOfflineData.Prepare(dataset, gamma: 0.9, RewardScaling.Dynamic, normalizeStates: false);
        // R: 1, 2.9, 5.61; Welford with S starting at 1: n = 1 → std 1; n = 2 → S = 1 + (2.9 − 1)(2.9 − 1.95), std √(S/2); …
        var reference = new RunningRewardScaler(0.9);
        double[] scaled = [reference.Scale(1), reference.Scale(2), reference.Scale(3)];
        Assert.Equal(1.0, scaled[0], 1e-6);
        Assert.Equal(2 / Math.Sqrt((1 + 1.9 * 0.95) / 2), scaled[1], 1e-4);
        for (int i = 0; i < 3; i++) Assert.Equal(scaled[i], data.Transitions.Rewards[i], 1e-5);
        Assert.Equal(scaled[2], data.Transitions.MonteCarloReturns![2], 1e-5);
        Assert.Equal(scaled[1] + 0.9 * scaled[2], data.Transitions.MonteCarloReturns[1], 1e-5);
        Assert.NotNull(data.RewardScaler);
        Assert.Equal(4, data.RewardScaler!.Count);   // the fourth (unused) raw row also went through the scaler
    }

    // ───────────────────────────── §5.3 stage A ─────────────────────────────

    [Fact]
    public void ValuePretrainingLossMatchesAnIndependentDoubleComputationAndMovesEveryParameter()
    {
        using var backend = new CpuBackend(1);
        using var stage = new ValuePretrainer(backend, 2, [3], seed: 4, learningRate: 1e-3f, batchSize: 4);
        float[] states = [0.3f, -0.7f, 1.1f, 0.4f, -0.5f, 0.9f, 0.2f, 0.1f];
        float[] returns = [1.5f, -0.5f, 2.0f, 0.25f];
        var p = Read(stage.Value.Parameters);
        float[] before = stage.Value.Parameters.Values.ToArray();
        stage.TrainOn(backend.FromArray(states, 4, 2), backend.FromArray(returns, 4, 1));
        double expected = Enumerable.Range(0, 4).Average(i => Math.Pow(Forward(p, "net", 2, Row(states, i, 2), Math.Tanh, Identity)[0] - returns[i], 2));
        Assert.Equal(expected, backend.ReadScalar(stage.Loss), 1e-5);
        float[] after = stage.Value.Parameters.Values.ToArray();
        for (int k = 0; k < before.Length; k++) Assert.True(before[k] != after[k], $"value parameter {k} did not move");
        Assert.Equal(1, stage.Optimizer.StepCount);
        Assert.Equal(1e-8f, stage.Optimizer.Epsilon);   // stage A uses Adam's default ε, not PPO's 1e-5
    }

    [Fact]
    public void ValuePretrainingFitsTheReturnsAndItsStageFileRecordsItsState()
    {
        var random = new HostRandom(9);
        int n = 64;
        var obs = new float[n * 2];
        var rew = new float[n];
        for (int i = 0; i < obs.Length; i++) obs[i] = random.Normal();
        for (int i = 0; i < n; i++) rew[i] = 0.1f * i % 1.3f;
        var dataset = new TransitionDataset(2, 1, obs, new float[n], rew, Enumerable.Range(0, n).Select(i => i % 16 == 15).ToArray());
        var data = PpoOfflineData.Prepare(dataset, 0.99, RewardScaling.Off, normalizeStates: true);
        string path = Path.Combine(Path.GetTempPath(), "o2rl-o2ppo-stage-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            using var backend = new CpuBackend(1);
            using var uninterrupted = new ValuePretrainer(backend, 2, [16, 16], seed: 2, learningRate: 1e-2f, batchSize: 16);
            uninterrupted.Load(data.Transitions);
            for (int s = 0; s < 10; s++) uninterrupted.Step();
            float first = backend.ReadScalar(uninterrupted.Loss);
            uninterrupted.Save(path, new Dictionary<string, string> { ["offline_score"] = "1.5" });
            for (int s = 0; s < 300; s++) uninterrupted.Step();
            Assert.True(backend.ReadScalar(uninterrupted.Loss) < 0.5f * first, $"loss {first} → {backend.ReadScalar(uninterrupted.Loss)}");

            using var resumed = new ValuePretrainer(backend, 2, [16, 16], seed: 2, learningRate: 1e-2f, batchSize: 16);
            resumed.Load(data.Transitions);
            var metadata = resumed.Restore(path);
            Assert.Equal("1.5", metadata["offline_score"]);
            Assert.Equal("a", metadata["stage"]);
            Assert.Equal(10, resumed.Steps);
            Assert.Equal(10, resumed.Optimizer.StepCount);
        }
        finally { if (File.Exists(path)) File.Delete(path); }
    }

    [Fact]
    public void AStageFileRestoresTheExactNextStep()
    {
        var random = new HostRandom(5);
        int n = 40;
        var obs = new float[n * 3];
        for (int i = 0; i < obs.Length; i++) obs[i] = random.Normal();
        var dataset = new TransitionDataset(3, 1, obs, new float[n], Enumerable.Range(0, n).Select(i => random.Normal()).ToArray(), new bool[n]);
        var data = PpoOfflineData.Prepare(dataset, 0.99, RewardScaling.Off, normalizeStates: true);
        string path = Path.Combine(Path.GetTempPath(), "o2rl-o2ppo-resume-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            using var backend = new CpuBackend(1);
            using var a = new ValuePretrainer(backend, 3, [8], seed: 1, learningRate: 1e-3f, batchSize: 8);
            a.Load(data.Transitions);
            for (int s = 0; s < 5; s++) a.Step();
            a.Save(path, new Dictionary<string, string>());
            a.Step();
            using var b = new ValuePretrainer(backend, 3, [8], seed: 1, learningRate: 1e-3f, batchSize: 8);
            b.Load(data.Transitions);
            b.Restore(path);
            b.Step();
            Assert.Equal(a.Value.Parameters.Values.ToArray(), b.Value.Parameters.Values.ToArray());
            Assert.Equal(a.Optimizer.SecondMoment.ToArray(), b.Optimizer.SecondMoment.ToArray());
            Assert.Equal(a.Steps, b.Steps);
        }
        finally { if (File.Exists(path)) File.Delete(path); }
    }

    // ───────────────────────────── §5.5 auxiliary advantage ─────────────────────────────

    static readonly float[] SmallAdvantages = [1.0f, -0.5f, 2.0f, 0.3f];
    static readonly float[] SmallReferenceLogProbs = [-1.0f, -9.0f, 0.5f, -3.0f];
    const float SmallReferenceEntropy = 1.2f;

    /// <summary>A_ref by hand: h = log π_ref + H, g = softplus(h + 4d) − 4d, A_ref = α·g/d·std(A) (d = 2).</summary>
    static double[] ReferenceAdvantageByHand(double alpha)
    {
        double mean = SmallAdvantages.Average(a => (double)a);
        double std = Math.Sqrt(SmallAdvantages.Sum(a => (a - mean) * (a - mean)) / 3);
        return SmallReferenceLogProbs.Select(l =>
        {
            double h = l + SmallReferenceEntropy;
            double g = Math.Log(1 + Math.Exp(h + 8)) - 8;
            return alpha * g / 2 * std;
        }).ToArray();
    }

    static double[,] MatrixByHand(double weight, double alpha)
    {
        var reference = ReferenceAdvantageByHand(alpha);
        var m = new double[4, 4];
        double sum = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) { m[i, j] = (SmallAdvantages[i] + weight * reference[j]) / (1 + weight); sum += m[i, j]; }
        double mean = sum / 16, squares = 0;
        foreach (double v in m) squares += (v - mean) * (v - mean);
        double std = Math.Sqrt(squares / 15);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) m[i, j] = (m[i, j] - mean) / (std + 1e-5);
        return m;
    }

    [Fact]
    public void MatrixFormMatchesTheHandComputedBroadcastAndItsRowMeansIgnoreTheReference()
    {
        using var backend = new CpuBackend(1);
        var aux = new AuxiliaryAdvantage(backend, 4, 2, alpha: 2f, perSample: false);
        const float weight = 0.6f;
        aux.Compute(backend.FromArray(SmallAdvantages, 4, 1), backend.FromArray(SmallReferenceLogProbs, 4), backend.FromArray([SmallReferenceEntropy], 1), weight);
        var expected = MatrixByHand(weight, 2.0);
        float[] matrix = aux.Normalized.ToArray();
        Assert.Equal(16, matrix.Length);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) Assert.Equal(expected[i, j], matrix[i * 4 + j], 1e-4);
        // The reference columns differ (the term is not constant), so the matrix is not rank one in i.
        Assert.True(Math.Abs(matrix[0] - matrix[1]) > 1e-3, "columns of one row must differ");

        // Row sums split into positive and negative parts.
        float[] positive = aux.PositiveRowSums.ToArray(), negative = aux.NegativeRowSums.ToArray(), rows = aux.RowSums.ToArray();
        for (int i = 0; i < 4; i++)
        {
            double p = 0, q = 0;
            for (int j = 0; j < 4; j++) { p += Math.Max(expected[i, j], 0); q += Math.Min(expected[i, j], 0); }
            Assert.Equal(p, positive[i], 1e-4);
            Assert.Equal(q, negative[i], 1e-4);
            Assert.Equal(p + q, rows[i], 1e-4);
        }

        // Property (i) of §5.5: the row mean of Â is (A_i − mean(A)) / ((1 + w)·std(M)) (+1e-5 in the normaliser):
        // the reference term does not re-rank samples, it only enlarges the normaliser.
        double meanA = SmallAdvantages.Average(a => (double)a);
        var reference = ReferenceAdvantageByHand(2.0);
        double stdM = MatrixStd(weight, reference);
        for (int i = 0; i < 4; i++)
            Assert.Equal((SmallAdvantages[i] - meanA) / ((1 + weight) * (stdM + 1e-5)), rows[i] / 4.0, 1e-4);
    }

    static double MatrixStd(double weight, double[] reference)
    {
        var values = new List<double>();
        foreach (var a in SmallAdvantages) foreach (var r in reference) values.Add((a + weight * r) / (1 + weight));
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    [Fact]
    public void PerSampleFormMixesEachSampleWithItsOwnReferenceValue()
    {
        using var backend = new CpuBackend(1);
        var aux = new AuxiliaryAdvantage(backend, 4, 2, alpha: 2f, perSample: true);
        const float weight = 0.6f;
        aux.Compute(backend.FromArray(SmallAdvantages, 4, 1), backend.FromArray(SmallReferenceLogProbs, 4), backend.FromArray([SmallReferenceEntropy], 1), weight);
        var reference = ReferenceAdvantageByHand(2.0);
        float[] referenceOnDevice = aux.ReferenceAdvantage.ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(reference[i], referenceOnDevice[i], 1e-4);
        var mixed = Enumerable.Range(0, 4).Select(i => (SmallAdvantages[i] + weight * reference[i]) / (1 + weight)).ToArray();
        double mean = mixed.Average(), std = Math.Sqrt(mixed.Sum(v => (v - mean) * (v - mean)) / 3);
        float[] normalized = aux.Normalized.ToArray(), positive = aux.PositiveRowSums.ToArray(), negative = aux.NegativeRowSums.ToArray();
        Assert.Equal(1, aux.Columns);
        for (int i = 0; i < 4; i++)
        {
            double e = (mixed[i] - mean) / (std + 1e-5);
            Assert.Equal(e, normalized[i], 1e-4);
            Assert.Equal(Math.Max(e, 0), positive[i], 1e-4);
            Assert.Equal(Math.Min(e, 0), negative[i], 1e-4);
        }
        // The −4d floor: g/d → −4 per coordinate as h → −∞, and g ≈ h well above the floor.
        aux.Compute(backend.FromArray(SmallAdvantages, 4, 1), backend.FromArray([-1e4f, 50f, 0f, 0f], 4), backend.FromArray([0f], 1), weight);
        float[] floored = aux.ReferenceAdvantage.ToArray();
        double stdA = Math.Sqrt(SmallAdvantages.Sum(a => Math.Pow(a - SmallAdvantages.Average(x => (double)x), 2)) / 3);
        Assert.Equal(-4.0 * 2.0 * stdA, floored[0], 1e-3);
        Assert.Equal(50.0 * 2.0 / 2.0 * stdA, floored[1], 1e-2);
    }

    [Fact]
    public void ReferenceWeightDecaysLinearlyToZero()
    {
        Assert.Equal(1f, AuxiliaryAdvantage.Weight(0, 250_000));
        Assert.Equal(0.5f, AuxiliaryAdvantage.Weight(125_000, 250_000));
        Assert.Equal(0f, AuxiliaryAdvantage.Weight(250_000, 250_000));
        Assert.Equal(0f, AuxiliaryAdvantage.Weight(300_000, 250_000));
        Assert.Equal(0.5f, AuxiliaryAdvantage.Weight(250_000, 500_000));   // expert tasks: half weight at the end of the budget
    }

    // ───────────────────────────── §5.5 actor step ─────────────────────────────

    static (float[] Obs, float[] Act) FixedBatch() => (
        [0.3f, -0.7f, 1.1f, 0.4f, -0.5f, 0.9f, 0.2f, 0.1f],
        [0.2f, -0.4f, 0.9f, 0.1f, -0.6f, 0.5f, 0.0f, -1.0f]);

    /// <summary>The release's loss literally: mean over the M × n block of −min(ρ_i Â_ij, clip(ρ_i) Â_ij) − c·H.</summary>
    static double MatrixActorLoss(Dictionary<string, double[]> p, float[] obs, float[] act, double[] oldSum, double[,] advantage, double clip, double entropyCoefficient)
    {
        double[] logStd = p["log_std"];
        int rows = advantage.GetLength(0), cols = advantage.GetLength(1);
        double total = 0;
        double entropy = logStd.Sum(l => 0.5 + 0.5 * Math.Log(2 * Math.PI) + l);
        for (int i = 0; i < rows; i++)
        {
            var mean = Forward(p, "net.net", 2, Row(obs, i, 2), Relu, Math.Tanh);
            double logProb = 0;
            for (int j = 0; j < 2; j++) logProb += GaussianLogProb(act[i * 2 + j], mean[j], logStd[j]);
            double ratio = Math.Exp(logProb - oldSum[i]);
            double clipped = Math.Clamp(ratio, 1 - clip, 1 + clip);
            for (int j = 0; j < cols; j++) total += -Math.Min(ratio * advantage[i, j], clipped * advantage[i, j]) - entropyCoefficient * entropy;
        }
        return total / (rows * cols);
    }

    /// <summary>Old log-probs per coordinate so that the ratios are e^0, e^0.4, e^−0.4, e^0.1 (inside, above, below, inside).</summary>
    static (double[] OldSum, float[] OldPerCoordinate) OldLogProbs(Dictionary<string, double[]> p, float[] obs, float[] act)
    {
        double[] offsets = [0.0, 0.4, -0.4, 0.1];
        var oldSum = new double[4];
        var perCoordinate = new float[8];
        for (int i = 0; i < 4; i++)
        {
            var mean = Forward(p, "net.net", 2, Row(obs, i, 2), Relu, Math.Tanh);
            for (int j = 0; j < 2; j++)
            {
                double lp = GaussianLogProb(act[i * 2 + j], mean[j], p["log_std"][j]) - offsets[i] / 2;
                perCoordinate[i * 2 + j] = (float)lp;
                oldSum[i] += (float)lp;
            }
        }
        return (oldSum, perCoordinate);
    }

    [Fact]
    public void MatrixActorStepMatchesTheElementwiseSurrogateAndItsGradient()
    {
        using var backend = new CpuBackend(1);
        var actor = TinyActor(backend);
        actor.Parameters.Write("log_std", [-0.3f, 0.2f]);
        var agent = new O2PpoAgent(backend, Tiny with { ActorLr = 0f, MaxGradNorm = 1e6f }, actor, seed: 3, actorHidden: [3]);
        var (obs, act) = FixedBatch();
        var p = Read(agent.Actor.Parameters);
        var (oldSum, oldPerCoordinate) = OldLogProbs(p, obs, act);
        // Â: a 4 × 4 matrix with mixed signs in every row so each clip regime selects a different part of its row.
        var advantage = MatrixByHand(0.6, 2.0);
        var positive = new float[4];
        var negative = new float[4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) { positive[i] += (float)Math.Max(advantage[i, j], 0); negative[i] += (float)Math.Min(advantage[i, j], 0); }
        for (int i = 0; i < 4; i++) Assert.True(positive[i] > 0 && negative[i] < 0, $"row {i} must hold both signs");

        agent.ActorStep(backend.FromArray(obs, 4, 2), backend.FromArray(act, 4, 2), backend.FromArray(oldPerCoordinate, 4, 2),
            backend.FromArray(positive, 4, 1), backend.FromArray(negative, 4, 1), columns: 4);
        Assert.Equal(MatrixActorLoss(p, obs, act, oldSum, advantage, 0.2, 0.01), backend.ReadScalar(agent.LastActorLoss!), 1e-4);

        float[] values = agent.Actor.Parameters.Values.ToArray();
        float[] gradients = agent.Actor.Parameters.Gradients.ToArray();
        for (int k = 0; k < values.Length; k++)
        {
            double Loss(double delta)
            {
                var map = Read(agent.Actor.Parameters, (float[])values.Clone());
                foreach (var e in agent.Actor.Parameters.Entries)
                    if (k >= e.Offset && k < e.Offset + e.Length) map[e.Name][k - e.Offset] += delta;
                return MatrixActorLoss(map, obs, act, oldSum, advantage, 0.2, 0.01);
            }
            double numeric = (Loss(1e-6) - Loss(-1e-6)) / 2e-6;
            Assert.True(Math.Abs(numeric - gradients[k]) < 1e-3 + 1e-3 * Math.Abs(numeric), $"∂L/∂θ[{k}]: numeric {numeric}, analytic {gradients[k]}");
        }
    }

    [Fact]
    public void PerSampleStepWithoutReferenceWeightIsPlainPpo()
    {
        using var backend = new CpuBackend(1);
        var (obs, act) = FixedBatch();
        float[] advantages = [1.0f, -2.0f, -1.0f, 0.5f];
        var ppoActor = TinyActor(backend);
        var ppo = new PpoAgent(backend, 2, 2, Tiny.ToPpoConfig([3]), seed: 3, ppoActor);
        var o2Actor = TinyActor(backend);
        var o2 = new O2PpoAgent(backend, Tiny with { AuxAdvantagePerSample = true }, o2Actor, seed: 3, actorHidden: [3]);
        var p = Read(ppoActor.Parameters);
        var (_, oldPerCoordinate) = OldLogProbs(p, obs, act);

        ppo.ActorStep(backend.FromArray(obs, 4, 2), backend.FromArray(act, 4, 2), backend.FromArray(oldPerCoordinate, 4, 2), backend.FromArray(advantages, 4, 1));
        o2.ActorStep(backend.FromArray(obs, 4, 2), backend.FromArray(act, 4, 2), backend.FromArray(oldPerCoordinate, 4, 2),
            backend.FromArray(advantages.Select(a => Math.Max(a, 0f)).ToArray(), 4, 1), backend.FromArray(advantages.Select(a => Math.Min(a, 0f)).ToArray(), 4, 1), columns: 1);
        Assert.Equal(backend.ReadScalar(ppo.LastActorLoss!), backend.ReadScalar(o2.LastActorLoss!), 1e-6);
        float[] a = ppoActor.Parameters.Values.ToArray(), b = o2Actor.Parameters.Values.ToArray();
        for (int k = 0; k < a.Length; k++) Assert.Equal(a[k], b[k], 1e-6);
    }

    // ───────────────────────────── update, reference, std cap ─────────────────────────────

    static RolloutBuffer RandomRollout(Backend backend, O2PpoAgent agent, int obsDim, int actionDim, O2PpoConfig config)
    {
        var rollout = new RolloutBuffer(backend, config.RolloutLength, obsDim, actionDim, config.MinibatchSize);
        var random = new HostRandom(11);
        var s = new float[obsDim];
        var next = new float[obsDim];
        var a = new float[actionDim];
        var lp = new float[actionDim];
        for (int t = 0; t < config.RolloutLength; t++)
        {
            for (int j = 0; j < obsDim; j++) { s[j] = random.Normal(); next[j] = random.Normal(); }
            agent.Act(s, a, lp);
            rollout.Add(s, a, lp, random.Normal(), next, dw: t % 13 == 12, done: t % 13 == 12 || t % 7 == 6);
        }
        return rollout;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OneUpdateMovesEveryActorAndCriticParameterLeavesTheReferenceAndDecaysTheLearningRates(bool perSample)
    {
        using var backend = new CpuBackend(1);
        var config = Tiny with { RolloutLength = 32, MinibatchSize = 8, Epochs = 2, CriticHidden = [8], AuxAdvantagePerSample = perSample };
        var actor = TinyActor(backend, 3, 2, [8]);
        var agent = new O2PpoAgent(backend, config, actor, seed: 7, actorHidden: [8]);
        using var rollout = RandomRollout(backend, agent, 3, 2, config);
        float[] actorBefore = agent.Actor.Parameters.Values.ToArray(), criticBefore = agent.Critic.Parameters.Values.ToArray();
        float[] referenceBefore = agent.Reference.Parameters.Values.ToArray();
        Assert.Equal(actorBefore, referenceBefore);
        agent.Update(rollout, 32);
        float[] actorAfter = agent.Actor.Parameters.Values.ToArray(), criticAfter = agent.Critic.Parameters.Values.ToArray();
        foreach (var e in agent.Actor.Parameters.Entries)
            for (int k = e.Offset; k < e.Offset + e.Length; k++) Assert.True(actorBefore[k] != actorAfter[k], $"actor {e.Name}[{k - e.Offset}] did not move");
        foreach (var e in agent.Critic.Parameters.Entries)
            for (int k = e.Offset; k < e.Offset + e.Length; k++) Assert.True(criticBefore[k] != criticAfter[k], $"critic {e.Name}[{k - e.Offset}] did not move");
        Assert.Equal(referenceBefore, agent.Reference.Parameters.Values.ToArray());
        Assert.Equal(perSample ? 1 : 32, agent.Advantage.Columns);
        // lr = lr_0 · (1 − t/T) after the update, both optimisers.
        Assert.Equal(config.ActorLr * (1 - 32.0 / 1000), agent.Ppo.ActorOptimizer.LearningRate, 1e-6);
        Assert.Equal(config.CriticLr * (1 - 32.0 / 1000), agent.Ppo.CriticOptimizer.LearningRate, 1e-6);
        // The value targets are A + V from the raw advantages, not the mixed ones.
        Assert.Equal(rollout.HostAdvantages.ToArray().Select(a => (double)a).Sum(), rollout.Advantages.ToArray().Select(a => (double)a).Sum(), 1e-3);
    }

    [Fact]
    public void ReplacingTheReferenceTakesADeepCopy()
    {
        using var backend = new CpuBackend(1);
        var config = Tiny with { RolloutLength = 32, MinibatchSize = 8, CriticHidden = [8] };
        var agent = new O2PpoAgent(backend, config, TinyActor(backend, 3, 2, [8]), seed: 2, actorHidden: [8]);
        using var rollout = RandomRollout(backend, agent, 3, 2, config);
        agent.Update(rollout, 32);
        agent.ReplaceReference();
        float[] replaced = agent.Actor.Parameters.Values.ToArray();
        Assert.Equal(replaced, agent.Reference.Parameters.Values.ToArray());
        rollout.Clear();
        using var second = RandomRollout(backend, agent, 3, 2, config);
        agent.Update(second, 64);
        Assert.Equal(replaced, agent.Reference.Parameters.Values.ToArray());
        Assert.NotEqual(replaced, agent.Actor.Parameters.Values.ToArray());
    }

    [Fact]
    public void StdCapLowersOnlyTheWideCoordinates()
    {
        using var backend = new CpuBackend(1);
        var actor = TinyActor(backend, 2, 3);
        actor.Parameters.Write("log_std", [MathF.Log(0.1f), MathF.Log(0.01f), 0f]);
        Assert.Equal(2, StdCap.Apply(actor, 0.05f));
        float[] logStd = actor.Parameters.Read("log_std");
        Assert.Equal(MathF.Log(0.05f), logStd[0]);
        Assert.Equal(MathF.Log(0.01f), logStd[1]);
        Assert.Equal(MathF.Log(0.05f), logStd[2]);
    }

    // ───────────────────────────── configs ─────────────────────────────

    [Fact]
    public void ShippedConfigsMirrorTheTaskTable()
    {
        O2PpoConfig Resolve(string env, string dataset) =>
            ConfigLoader.Resolve(new O2PpoConfig(), ConfigLoader.ShippedConfigPath(O2PpoRun.Algorithm, env, dataset) ?? throw new FileNotFoundException($"{env}/{dataset}"), null, []);
        var defaults = new O2PpoConfig();
        Assert.Equal((250_000L, 2048, 128, 10, 0.2f, 0.01f, 3e-5f, 2e-4f, 1e-5f, 0.5f), (defaults.TotalSteps, defaults.RolloutLength, defaults.MinibatchSize, defaults.Epochs,
            defaults.ClipRatio, defaults.EntropyCoefficient, defaults.ActorLr, defaults.CriticLr, defaults.AdamEpsilon, defaults.MaxGradNorm));
        Assert.Equal((2.0f, 250_000L, false, 1_000_000L, 512, 1e-4f, 2500, 10), (defaults.AuxAlpha, defaults.AuxDecaySteps, defaults.AuxAdvantagePerSample,
            defaults.ValuePretrainSteps, defaults.ValuePretrainBatchSize, defaults.ValuePretrainLr, defaults.EvaluateEvery, defaults.EvaluationEpisodes));
        Assert.Equal("ocr-cft", defaults.Mode);

        var hopperExpert = Resolve("Hopper-v2", "expert");
        Assert.Equal((5, 500_000L, 0.05f, 4, RewardScaling.Off), (hopperExpert.Epochs, hopperExpert.AuxDecaySteps, hopperExpert.StdCap, hopperExpert.ReferenceUpdateN, hopperExpert.RewardScaling));
        var hopperMediumExpert = Resolve("Hopper-v2", "medium-expert");
        Assert.Equal((5, 0.05f), (hopperMediumExpert.Epochs, hopperMediumExpert.StdCap));
        var hopperMedium = Resolve("Hopper-v2", "medium");
        Assert.Equal((10, 250_000L, 0f), (hopperMedium.Epochs, hopperMedium.AuxDecaySteps, hopperMedium.StdCap));
        var walkerMediumExpert = Resolve("Walker2d-v2", "medium-expert");
        Assert.Equal((10, 500_000L, 0f), (walkerMediumExpert.Epochs, walkerMediumExpert.AuxDecaySteps, walkerMediumExpert.StdCap));
        Assert.Equal(RewardScaling.Dynamic, Resolve("HalfCheetah-v2", "medium-replay").RewardScaling);
        Assert.Equal(500_000L, Resolve("HalfCheetah-v2", "expert").AuxDecaySteps);
        var antmaze = Resolve("antmaze-large-diverse-v2", "large-diverse");
        Assert.Equal((100, 250_000L, RewardScaling.Off), (antmaze.EvaluationEpisodes, antmaze.AuxDecaySteps, antmaze.RewardScaling));
        Assert.Equal(19, Directory.GetFiles(Path.Combine(ConfigLoader.ShippedConfigRoot, O2PpoRun.Algorithm), "*.yaml", SearchOption.AllDirectories).Length);
        Assert.Throws<ArgumentException>(() => O2PpoRun.ParseMode("online"));
        Assert.Equal(O2PpoMode.OcrCft, O2PpoRun.ParseMode("ocr-cft"));
    }

    // ───────────────────────────── end to end ─────────────────────────────

    /// <summary>A random-policy Pendulum dataset and a briefly trained IQL checkpoint from it (a few seconds).</summary>
    static (string Dataset, string Checkpoint) PendulumStart(string root)
    {
        Directory.CreateDirectory(root);
        string dataset = Path.Combine(root, "pendulum-random.hdf5");
        using (var env = PolicyEnvironment.Make("Pendulum-v1", StateNormalizer.Identity(3)))
            D4rlHdf5.Write(DatasetCollection.Collect(env, null, 2_000, seed: 2), dataset);
        using var backend = new CpuBackend(1);
        var iql = IqlRun.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 1, DatasetPath = dataset, OutputDirectory = Path.Combine(root, "iql"),
            Overrides = ["max_steps=200", "batch_size=64", "actor_hidden=[16,16]", "critic_hidden=[16,16]", "value_hidden=[16,16]", "evaluate_every=0"],
        });
        return (dataset, iql.CheckpointPath!);
    }

    static readonly string[] SmallRun =
    [
        "total_steps=1024", "rollout_length=256", "minibatch_size=64", "epochs=2", "value_pretrain_steps=120", "value_pretrain_batch_size=64",
        "critic_hidden=[16,16]", "evaluate_every=256", "evaluation_episodes=1", "aux_decay_steps=1024",
    ];

    static RunResult RunSmall(string dataset, string checkpoint, string? output, MemoryMetrics metrics, params string[] extra)
    {
        using var backend = new CpuBackend(1);
        return O2PpoRun.Run(new RunContext
        {
            Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 5, DatasetPath = dataset, InitialCheckpoint = checkpoint,
            OutputDirectory = output, Metrics = metrics, Overrides = [.. SmallRun, .. extra],
        });
    }

    [Fact]
    public void PendulumRunStartsAtTheOfflineScoreAppliesTheReferenceRuleAndResumesAfterStageA()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2ppo-run-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (dataset, checkpoint) = PendulumStart(root);
            string folder = Path.Combine(root, "run");
            var metrics = new MemoryMetrics();
            var result = RunSmall(dataset, checkpoint, folder, metrics);

            // The curve: the loaded actor's score at step 0, then one point per evaluation, finite.
            var curve = metrics.Series("eval/return");
            Assert.Equal([0L, 256, 512, 768, 1024], curve.Select(p => p.Step));
            Assert.Equal(metrics.Series("eval/offline_score").Single().Value, curve[0].Value);
            using (var backend = new CpuBackend(1))
            {
                var (iqlActor, _) = O2PpoRun.LoadStartingActor(checkpoint, backend) is var loaded ? (loaded.Actor, loaded.Normalizer) : default;
                Assert.Equal(SafetensorsValues(checkpoint, "actor.log_std"), iqlActor.Parameters.Read("log_std"));
            }
            Assert.All(curve, p => Assert.True(double.IsFinite(p.Value)));
            Assert.True(double.IsFinite(result.FinalEvaluation!.MeanReturn));
            Assert.True(metrics.Series("stage/a_value_loss").Count > 0);

            // Reference rule (best so far): best_score starts at the offline score; replaced exactly when an evaluation beats it.
            var replaced = metrics.Series("charts/reference_replaced");
            Assert.Equal(4, replaced.Count);
            double best = curve[0].Value;
            for (int e = 0; e < 4; e++)
            {
                bool better = curve[e + 1].Value > best;
                Assert.Equal(better ? 1.0 : 0.0, replaced[e].Value);
                if (better) best = curve[e + 1].Value;
            }
            Assert.Equal(best, metrics.Series("charts/best_score")[^1].Value);

            // What the run folder holds.
            var saved = O2RL.Engine.Checkpoints.SafetensorsFile.Read(result.CheckpointPath!);
            foreach (string name in new[] { "actor.log_std", "actor.net.net.0.weight", "critic.net.0.weight", "reference.log_std", "obs_mean", "obs_std" })
                Assert.True(saved.Tensors.ContainsKey(name), $"o2ppo.safetensors lacks {name}");
            Assert.True(File.Exists(Path.Combine(folder, O2PpoRun.StageAFileName)));
            byte[] uninterrupted = File.ReadAllBytes(result.CheckpointPath!);

            // A second run in the same folder skips stage A (no stage-A losses), keeps the offline score from the stage
            // file, and ends bit-identical to the uninterrupted run.
            var resumedMetrics = new MemoryMetrics();
            RunSmall(dataset, checkpoint, folder, resumedMetrics);
            Assert.Empty(resumedMetrics.Series("stage/a_value_loss"));
            Assert.Equal(curve.Select(p => p.Value), resumedMetrics.Series("eval/return").Select(p => p.Value));
            Assert.Equal(uninterrupted, File.ReadAllBytes(result.CheckpointPath!));
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, recursive: true); }
    }

    static float[] SafetensorsValues(string path, string name) => O2RL.Engine.Checkpoints.SafetensorsFile.Read(path).Tensors[name].Data;

    [Fact]
    public void BaselineModesRunInTheSameHarness()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2ppo-modes-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (dataset, checkpoint) = PendulumStart(root);
            var offline = new MemoryMetrics();
            var offlineResult = RunSmall(dataset, checkpoint, null, offline, "mode=offline");
            Assert.Equal(0L, offline.Series("eval/return").Single().Step);
            Assert.Equal(offline.Series("eval/return")[0].Value, offlineResult.FinalEvaluation!.MeanReturn);

            var naive = new MemoryMetrics();
            RunSmall(dataset, checkpoint, null, naive, "mode=naive");
            Assert.Equal(offline.Series("eval/return")[0].Value, naive.Series("eval/return")[0].Value);   // same starting actor, same eval seeds
            Assert.Empty(naive.Series("stage/a_value_loss"));
            Assert.Empty(naive.Series("charts/reference_replaced"));
            Assert.Equal(5, naive.Series("eval/return").Count);

            var scratch = new MemoryMetrics();
            using var backend = new CpuBackend(1);
            O2PpoRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 5, DatasetPath = dataset, Metrics = scratch,
                Overrides = [.. SmallRun, "mode=scratch", "actor_hidden=[8,8]"],
            });
            Assert.Equal(5, scratch.Series("eval/return").Count);
            Assert.Throws<ArgumentException>(() => O2PpoRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", InitialCheckpoint = checkpoint, Overrides = [.. SmallRun],
            }));
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void StdCapFromTheConfigReachesTheActorAndTheReference()
    {
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2ppo-cap-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (dataset, checkpoint) = PendulumStart(root);
            var metrics = new MemoryMetrics();
            // Actor lr 0: the saved actor is the loaded one after the cap; the reference is a copy of it.
            var result = RunSmall(dataset, checkpoint, Path.Combine(root, "cap"), metrics, "std_cap=0.05", "actor_lr=0", "total_steps=256", "entropy_coefficient=0");
            var saved = O2RL.Engine.Checkpoints.SafetensorsFile.Read(result.CheckpointPath!);
            float[] loaded = SafetensorsValues(checkpoint, "actor.log_std");
            float[] expected = loaded.Select(l => Math.Min(l, MathF.Log(0.05f))).ToArray();
            Assert.Equal(expected, saved.Tensors["actor.log_std"].Data);
            Assert.Equal(expected, saved.Tensors["reference.log_std"].Data);
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, recursive: true); }
    }

    /// <summary>
    /// The shipped Pendulum-v1 settings end to end: IQL (64×64, 5,000 steps) on the shipped "medium" dataset, then O2PPO
    /// with configs/o2ppo/pendulum-v1/default.yaml (stage A 3,000 steps, 20,480 online steps). The curve must start at
    /// the IQL actor's score, stay finite, and the fine-tuned actor must not collapse: its last evaluation may not fall
    /// more than 300 below the offline score (a policy that stops swinging up loses ≈ 600 or more per episode).
    /// </summary>
    [Fact]
    [Trait("Category", "Learning")]
    public void FineTunesAnIqlActorOnPendulumWithTheShippedSettings()
    {
        string dataset = ShippedDatasets.Find("Pendulum-v1", "medium") ?? throw new FileNotFoundException("the shipped Pendulum-v1 medium dataset is missing");
        string root = Path.Combine(Path.GetTempPath(), "o2rl-o2ppo-learn-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new CpuBackend();
            var iql = IqlRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", Seed = 1, DatasetPath = dataset, OutputDirectory = Path.Combine(root, "iql"),
                Overrides = ["max_steps=5000", "actor_hidden=[64,64]", "critic_hidden=[64,64]", "value_hidden=[64,64]", "evaluate_every=0"],
            });
            var metrics = new MemoryMetrics();
            var result = O2PpoRun.Run(new RunContext
            {
                Backend = backend, EnvironmentId = "Pendulum-v1", DatasetName = "medium", Seed = 1, DatasetPath = dataset,
                InitialCheckpoint = iql.CheckpointPath, Metrics = metrics,
            });
            var curve = metrics.Series("eval/return");
            string text = string.Join(", ", curve.Select(p => $"{p.Step}:{p.Value:F0}"));
            TestContext.Current.TestOutputHelper?.WriteLine($"O2PPO Pendulum-v1 (IQL start): {text}");
            Assert.Equal(0L, curve[0].Step);
            Assert.Equal(metrics.Series("eval/offline_score").Single().Value, curve[0].Value);
            Assert.Equal(11, curve.Count);
            Assert.All(curve, p => Assert.True(double.IsFinite(p.Value), text));
            Assert.True(result.FinalEvaluation!.MeanReturn > curve[0].Value - 300, $"fine-tuning collapsed: {text}");
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, recursive: true); }
    }
}
