using O2RL.Algorithms.Networks;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests;

public sealed class NetworkTests
{
    [Fact]
    public void CriticActionGradientMatchesFiniteDifferences()
    {
        using var backend = new CpuBackend(1);
        var critic = new QEnsemble(backend, obsDim: 3, actionDim: 2, hiddenDims: [16, 16], layerNorm: true, members: 2, seed: 1);
        var rng = new HostRandom(4);
        float[] s = Enumerable.Range(0, 4 * 3).Select(_ => rng.Normal()).ToArray();
        float[] a = Enumerable.Range(0, 4 * 2).Select(_ => rng.Uniform(-1, 1)).ToArray();
        float[] w = Enumerable.Range(0, 2 * 4).Select(_ => rng.Normal()).ToArray();
        var obs = backend.FromArray(s, 4, 3);
        var dq = backend.FromArray(w, 2, 4);
        double Loss(float[] actions)
        {
            var q = critic.Forward(obs, backend.FromArray(actions, 4, 2), slot: 5).ToArray();
            return q.Select((v, i) => (double)v * w[i]).Sum();
        }
        critic.Forward(obs, backend.FromArray(a, 4, 2));
        critic.Parameters.ZeroGradients();
        float[] analytic = critic.Backward(dq, needActionGradient: true)!.ToArray();
        for (int i = 0; i < a.Length; i++)
        {
            float[] plus = (float[])a.Clone(), minus = (float[])a.Clone();
            plus[i] += 2e-3f; minus[i] -= 2e-3f;
            double numeric = (Loss(plus) - Loss(minus)) / 4e-3;
            Assert.True(Math.Abs(numeric - analytic[i]) < 2e-2 * Math.Max(1, Math.Abs(numeric)), $"∂L/∂a[{i}]: numeric {numeric}, analytic {analytic[i]}");
        }
    }

    [Fact]
    public void ActorsUseCorlParameterNames()
    {
        using var backend = new CpuBackend(1);
        var sac = new TanhGaussianActor(backend, 11, 3, seed: 1);
        Assert.Equal(["base_network.0.weight", "base_network.0.bias", "base_network.2.weight", "base_network.2.bias", "base_network.4.weight",
            "base_network.4.bias", "base_network.6.weight", "base_network.6.bias", "log_std_multiplier.constant", "log_std_offset.constant"],
            sac.Parameters.Entries.Select(e => e.Name));
        Assert.Equal([6, 256], sac.Parameters.Find("base_network.6.weight").Shape);
        Assert.Equal([1f], sac.Parameters.Read("log_std_multiplier.constant"));
        Assert.Equal([-1f], sac.Parameters.Read("log_std_offset.constant"));
        var td3 = new DeterministicActor(backend, 17, 6, seed: 1);
        Assert.Equal(["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias"], td3.Parameters.Entries.Select(e => e.Name));
        var iql = new GaussianActor(backend, 17, 6, seed: 1, minLogStd: -20f);
        Assert.Equal("log_std", iql.Parameters.Entries[^1].Name);
        Assert.Equal("net.net.0.weight", iql.Parameters.Entries[0].Name);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SamplingAtRepeatedStatesFromOneForwardEqualsSamplingAtTheRepeatedRows(int threads)
    {
        // CQL's n actions per state: the actor runs on the B states and its head rows are repeated, instead of running
        // on B·n repeated states. Same noise stream, same bits.
        const int batch = 64, n = 10, obsDim = 11, actionDim = 3;
        using var backend = new CpuBackend(threads);
        var actor = new TanhGaussianActor(backend, obsDim, actionDim, seed: 4);
        var observations = backend.Allocate(batch, obsDim);
        new DeviceRandom(9).Normal(observations);
        var repeatIndices = backend.AllocateIndices(batch * n);
        backend.UploadIndices([.. Enumerable.Range(0, batch * n).Select(j => j / n)], repeatIndices);
        var repeated = backend.Allocate(batch * n, obsDim);
        backend.GatherRows(observations, repeatIndices, repeated);

        var noise = backend.Allocate(batch * n, actionDim);
        var (action, logProb) = actor.Sample(repeated, noise, slot: 1, drawNoiseFrom: new DeviceRandom(5));
        float[] expectedAction = action.ToArray(), expectedLogProb = logProb.ToArray();
        var repeatedHead = backend.Allocate(batch * n, 2 * actionDim);
        var (fromOneForward, logProbFromOneForward) = actor.SampleRepeated(observations, repeatIndices, repeatedHead, noise, slot: 2, drawNoiseFrom: new DeviceRandom(5));
        Assert.Equal(expectedAction, fromOneForward.ToArray());
        Assert.Equal(expectedLogProb, logProbFromOneForward.ToArray());
        // The n samples of a state differ: the noise is drawn per repeated row.
        Assert.NotEqual(expectedAction[0], expectedAction[actionDim]);
    }

    [Fact]
    public void FrozenTanhGaussianActorStillGivesActionGradients()
    {
        using var backend = new CpuBackend(1);
        var reference = new TanhGaussianActor(backend, 3, 2, seed: 2, trainable: false, hiddenDims: [8]);
        var obs = backend.FromArray([0.1f, -0.2f, 0.3f, 1f, 0f, -1f], 2, 3);
        var actions = backend.FromArray([0.5f, -0.1f, 0.2f, 0.9f], 2, 2);
        reference.LogProb(obs, actions);
        var gradient = reference.LogProbBackward(backend.FromArray([1f, 1f], 2));
        Assert.All(gradient.ToArray(), g => Assert.True(float.IsFinite(g) && g != 0f));
        Assert.ThrowsAny<InvalidOperationException>(() => reference.LogProbBackward(backend.FromArray([1f, 1f], 2), trainActor: true));
    }
}

public sealed class ProgressReporterTests
{
    [Fact]
    public void PrintsTheFirstReportThenWaitsForTheIntervalAndAlwaysPrintsTheEnd()
    {
        var output = new StringWriter();
        var progress = new O2RL.Algorithms.Training.ProgressReporter(output, "online", 100, TimeSpan.FromHours(1));
        progress.Report(1, "eval -300");
        progress.Report(50);
        progress.Report(100);
        var lines = output.ToString().Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains("online: 1/100", lines[0]);
        Assert.Contains("eval -300", lines[0]);
        Assert.Contains("100/100 (100%)", lines[1]);
    }
}
