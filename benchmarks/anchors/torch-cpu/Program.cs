// libtorch CPU anchor (TorchSharp): the workloads of `o2rl bench --json`, written the way a PyTorch user would,
// with the update structure of our SacAgent and Td3Agent, timed the way o2rl bench times ours (warm-up, then
// rounds of back-to-back calls; best and median seconds per call over the rounds). One JSON line per
// (workload, threads). Run through run.sh: libtorch needs a newer libstdc++ than Debian 12 has.
using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

var threadCounts = new List<int> { 1, 2 };
int rounds = 9;
var selected = new HashSet<string>(StringComparer.Ordinal);
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--threads":
            threadCounts = [.. Value().Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture))];
            if (threadCounts.Any(t => t < 1)) throw new ArgumentException($"thread counts must be positive, got {string.Join(',', threadCounts)}");
            break;
        case "--rounds":
            rounds = int.Parse(Value(), CultureInfo.InvariantCulture);
            if (rounds < 1) throw new ArgumentException($"--rounds must be at least 1, got {rounds}");
            break;
        case "--only":
            foreach (var name in Value().Split(',')) selected.Add(name);
            break;
        case "--help":
            Console.WriteLine("usage: TorchCpuAnchor [--threads 1,2] [--rounds 9] [--only gemm_256_nn,gemm_256_nt,gemm_256_tn,mlp_step,sac_update,td3_update]");
            Console.WriteLine("Prints one JSON line per workload and thread count: ms (median round), ms_best (best round), ms per call.");
            return 0;
        default:
            Console.Error.WriteLine($"TorchCpuAnchor: unknown argument '{args[i]}' (see --help)");
            return 2;
    }
}

// Inter-op parallelism would run independent graph branches concurrently; our engine has none, and it must be
// fixed before the first op.
torch.set_num_interop_threads(1);
torch.random.manual_seed(1);

const int Batch = 256, ObsDim = 17, ActionDim = 6, Hidden = 256;
var workloads = new (string Name, int CallsPerRound, Func<Action> Build)[]
{
    ("gemm_256_nn", 20, () => Workloads.Gemm(transposeA: false, transposeB: false)),
    ("gemm_256_nt", 20, () => Workloads.Gemm(transposeA: false, transposeB: true)),
    ("gemm_256_tn", 20, () => Workloads.Gemm(transposeA: true, transposeB: false)),
    ("mlp_step", 50, () => new MlpStep(ObsDim, Hidden, Batch).Run),
    ("sac_update", 10, () => new SacUpdate(ObsDim, ActionDim, Hidden, Batch).Run),
    // One call = a critic-only update and a delayed one (actor step, Polyak): reported per update, as ours.
    ("td3_update", 5, () => new Td3Update(ObsDim, ActionDim, Hidden, Batch).RunPair),
};

foreach (int threads in threadCounts)
{
    torch.set_num_threads(threads);
    foreach (var (name, callsPerRound, build) in workloads)
    {
        if (selected.Count > 0 && !selected.Contains(name)) continue;
        var run = build();
        int perCall = name == "td3_update" ? 2 : 1;
        var (best, median) = Timing.SecondsPerCall(run, callsPerRound, rounds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"library\":\"libtorch {torch.__version__}\",\"workload\":\"{name}\",\"threads\":{threads},\"ms\":{median * 1e3 / perCall:F4},\"ms_best\":{best * 1e3 / perCall:F4},\"rounds\":{rounds}}}"));
    }
}
return 0;

/// <summary>Best and median seconds per call over rounds of back-to-back calls (same scheme as o2rl bench).</summary>
static class Timing
{
    public static (double Best, double Median) SecondsPerCall(Action run, int callsPerRound, int rounds, int warmupCalls = 20)
    {
        // At least 0.5 s of warm-up, as o2rl bench does: the .NET side of TorchSharp is compiled in tiers too.
        long warmupStart = Stopwatch.GetTimestamp();
        for (int i = 0; i < warmupCalls || Stopwatch.GetElapsedTime(warmupStart) < TimeSpan.FromMilliseconds(500); i++) run();
        var samples = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < callsPerRound; i++) run();
            samples[r] = Stopwatch.GetElapsedTime(start).TotalSeconds / callsPerRound;
        }
        Array.Sort(samples);
        return (samples[0], samples[rounds / 2]);
    }
}

/// <summary>Parameters made by hand (PyTorch's default Linear init), so the twin critics can be one stacked ensemble as in our engine.</summary>
static class Init
{
    /// <summary>W: [outDim, inDim] and b: [outDim], uniform ±1/√inDim.</summary>
    public static (Parameter W, Parameter B) Linear(int inDim, int outDim)
    {
        double bound = 1.0 / Math.Sqrt(inDim);
        return (new Parameter(torch.rand(outDim, inDim) * (2 * bound) - bound), new Parameter(torch.rand(outDim) * (2 * bound) - bound));
    }

    /// <summary>Stacked W: [E, inDim, outDim] (so x·W is one batched GEMM) and b: [E, 1, outDim].</summary>
    public static (Parameter W, Parameter B) EnsembleLinear(int members, int inDim, int outDim)
    {
        double bound = 1.0 / Math.Sqrt(inDim);
        return (new Parameter(torch.rand(members, inDim, outDim) * (2 * bound) - bound), new Parameter(torch.rand(members, 1, outDim) * (2 * bound) - bound));
    }
}

/// <summary>An MLP with ReLU hidden layers: [B, in] → [B, out].</summary>
sealed class Mlp
{
    readonly List<(Parameter W, Parameter B)> layers = [];

    public Mlp(int inDim, int hidden, int hiddenLayers, int outDim)
    {
        int width = inDim;
        for (int i = 0; i < hiddenLayers; i++) { layers.Add(Init.Linear(width, hidden)); width = hidden; }
        layers.Add(Init.Linear(width, outDim));
    }

    public IEnumerable<Parameter> Parameters => layers.SelectMany(l => new[] { l.W, l.B });

    public Tensor Forward(Tensor x)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            x = nn.functional.linear(x, layers[i].W, layers[i].B);
            if (i < layers.Count - 1) x = nn.functional.relu(x);
        }
        return x;
    }
}

/// <summary>E critics of one shape as stacked weights: (s [B, obs], a [B, act]) → Q [E, B], one batched GEMM per layer.</summary>
sealed class CriticEnsemble
{
    readonly List<(Parameter W, Parameter B)> layers = [];
    readonly int members;

    public CriticEnsemble(int members, int inDim, int hidden)
    {
        this.members = members;
        layers.Add(Init.EnsembleLinear(members, inDim, hidden));
        layers.Add(Init.EnsembleLinear(members, hidden, hidden));
        layers.Add(Init.EnsembleLinear(members, hidden, 1));
    }

    public IEnumerable<Parameter> Parameters => layers.SelectMany(l => new[] { l.W, l.B });

    public Tensor Forward(Tensor observations, Tensor actions)
    {
        var x = torch.cat([observations, actions], 1).unsqueeze(0).expand(members, -1, -1);
        for (int i = 0; i < layers.Count; i++)
        {
            // bmm + in-place bias: TorchSharp 0.107's baddbmm hands its arguments to libtorch in another order.
            x = x.bmm(layers[i].W).add_(layers[i].B);
            if (i < layers.Count - 1) x = nn.functional.relu(x);
        }
        return x.squeeze(-1);
    }

    /// <summary>The actor loss back-propagates through the critics but must not compute their weight gradients.</summary>
    public void SetTrainable(bool trainable)
    {
        foreach (var p in Parameters) p.requires_grad = trainable;
    }

    /// <summary>θ̄ ← (1 − τ)θ̄ + τθ.</summary>
    public void PolyakFrom(CriticEnsemble source, double tau) => Polyak.Update(Parameters, source.Parameters, tau);

    public void CopyFrom(CriticEnsemble source) => Polyak.Update(Parameters, source.Parameters, 1.0);
}

static class Polyak
{
    public static void Update(IEnumerable<Parameter> targets, IEnumerable<Parameter> sources, double tau)
    {
        using var noGrad = torch.no_grad();
        foreach (var (target, source) in targets.Zip(sources)) target.mul_(1 - tau).add_(source, alpha: tau);
    }
}

static class Workloads
{
    /// <summary>256×256×256: C = A·B, A·Bᵀ, or (TN, the weight gradient) C += Aᵀ·B.</summary>
    public static Action Gemm(bool transposeA, bool transposeB)
    {
        const int n = 256;
        var a = torch.randn(n, n); var b = torch.randn(n, n); var c = torch.zeros(n, n);
        if (transposeA) return () => c.addmm_(a.t(), b);
        return () =>
        {
            using var scope = torch.NewDisposeScope();
            (transposeB ? a.mm(b.t()) : a.mm(b)).Dispose();
        };
    }
}

/// <summary>MLP 17-256-256-1, batch 256: forward, MSE, backward, Adam (our MlpTrainingStep).</summary>
sealed class MlpStep
{
    readonly Mlp network;
    readonly optim.Optimizer optimizer;
    readonly Tensor input, target;

    public MlpStep(int inDim, int hidden, int batch)
    {
        network = new Mlp(inDim, hidden, 2, 1);
        optimizer = optim.Adam(network.Parameters, 3e-4);
        input = torch.randn(batch, inDim);
        target = torch.randn(batch, 1);
    }

    public void Run()
    {
        using var scope = torch.NewDisposeScope();
        var loss = nn.functional.mse_loss(network.Forward(input), target);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
    }
}

/// <summary>A random transition batch (rewards N(0, 1), 1 % terminals, actions in (−1, 1)).</summary>
sealed class TransitionBatch(int batch, int obsDim, int actionDim)
{
    public readonly Tensor Observations = torch.randn(batch, obsDim);
    public readonly Tensor Actions = (torch.randn(batch, actionDim) * 0.5).clamp(-0.99, 0.99);
    public readonly Tensor Rewards = torch.randn(batch);
    public readonly Tensor NextObservations = torch.randn(batch, obsDim);
    public readonly Tensor Terminals = (torch.arange(batch) % 100 == 0).to(ScalarType.Float32);
}

/// <summary>
/// One SAC update as our SacAgent does it: α = exp(log α); L_π through the pre-update twin critics (their weight
/// gradients not computed); L_α; y with the pre-update actor and α; L_Q = Σ_i MSE(Q_i, y); then Adam on log α,
/// the actor and the critics; Polyak τ = 0.005. Actor s → 256 → 256 → 2d, tanh-Gaussian with
/// log σ = clamp(m·ρ + o, −20, 2) (trainable scalars m, o).
/// </summary>
sealed class SacUpdate
{
    const double Gamma = 0.99, Tau = 0.005;
    readonly int actionDim;
    readonly Mlp actor;
    readonly Parameter logStdMultiplier = new(torch.ones(1)), logStdOffset = new(-torch.ones(1));
    readonly CriticEnsemble critic, targetCritic;
    readonly Parameter logAlpha = new(torch.zeros(1));
    readonly optim.Optimizer actorOptimizer, criticOptimizer, alphaOptimizer;
    readonly TransitionBatch data;
    readonly double targetEntropy;

    public SacUpdate(int obsDim, int actionDim, int hidden, int batch)
    {
        this.actionDim = actionDim;
        targetEntropy = -actionDim;
        actor = new Mlp(obsDim, hidden, 2, 2 * actionDim);
        critic = new CriticEnsemble(2, obsDim + actionDim, hidden);
        targetCritic = new CriticEnsemble(2, obsDim + actionDim, hidden);
        targetCritic.CopyFrom(critic);
        actorOptimizer = optim.Adam(actor.Parameters.Append(logStdMultiplier).Append(logStdOffset), 3e-4);
        criticOptimizer = optim.Adam(critic.Parameters, 3e-4);
        alphaOptimizer = optim.Adam([logAlpha], 3e-4);
        data = new TransitionBatch(batch, obsDim, actionDim);
    }

    /// <summary>Reparameterised ã = tanh(μ + σε) and log π(ã|s) = Σ log N(ε) − log σ − log(1 − tanh²u) (stable form).</summary>
    (Tensor Action, Tensor LogProb) Sample(Tensor observations)
    {
        var head = actor.Forward(observations);
        var mean = head.narrow(1, 0, actionDim);
        var logStd = (head.narrow(1, actionDim, actionDim) * logStdMultiplier + logStdOffset).clamp(-20.0, 2.0);
        var noise = torch.randn_like(mean);
        var u = mean + logStd.exp() * noise;
        var logProb = (-0.5 * noise.square() - logStd - 0.5 * Math.Log(2 * Math.PI)).sum(1)
                      - (2.0 * (Math.Log(2.0) - u - nn.functional.softplus(-2.0 * u))).sum(1);
        return (u.tanh(), logProb);
    }

    public void Run()
    {
        using var scope = torch.NewDisposeScope();
        var alpha = logAlpha.detach().exp();
        // L_π = mean[α log π(ã|s) − min_i Q_i(s, ã)]
        var (action, logProb) = Sample(data.Observations);
        critic.SetTrainable(false);
        var actorLoss = (alpha * logProb - critic.Forward(data.Observations, action).min(0).values).mean();
        actorOptimizer.zero_grad();
        actorLoss.backward();
        critic.SetTrainable(true);
        // L_α = −mean[log α · (log π + H̄)]
        var alphaLoss = -(logAlpha * (logProb.detach() + targetEntropy)).mean();
        alphaOptimizer.zero_grad();
        alphaLoss.backward();
        // y = r + γ(1 − m)[min_i Q̄_i(s′, ã′) − α log π(ã′|s′)]
        Tensor target;
        using (torch.no_grad())
        {
            var (nextAction, nextLogProb) = Sample(data.NextObservations);
            var nextValue = targetCritic.Forward(data.NextObservations, nextAction).min(0).values - alpha * nextLogProb;
            target = data.Rewards + Gamma * (1 - data.Terminals) * nextValue;
        }
        // L_Q = Σ_i MSE(Q_i(s, a), y)
        var criticLoss = (critic.Forward(data.Observations, data.Actions) - target).square().mean([1]).sum();
        criticOptimizer.zero_grad();
        criticLoss.backward();
        alphaOptimizer.step();
        actorOptimizer.step();
        criticOptimizer.step();
        targetCritic.PolyakFrom(critic, Tau);
    }
}

/// <summary>
/// TD3 as our Td3Agent: y with target policy smoothing (σ 0.2, clip 0.5) from μ̄ and min(Q̄_1, Q̄_2); L_Q on both
/// critics and Adam; every second update L_π = −mean Q_1(s, μ(s)) with the updated critics (no critic weight
/// gradients), Adam, Polyak τ = 0.005 on both targets. Actor s → 256 → 256 → d, tanh.
/// </summary>
sealed class Td3Update
{
    const double Gamma = 0.99, Tau = 0.005, PolicyNoise = 0.2, NoiseClip = 0.5;
    readonly Mlp actor, targetActor;
    readonly CriticEnsemble critic, targetCritic;
    readonly optim.Optimizer actorOptimizer, criticOptimizer;
    readonly TransitionBatch data;

    public Td3Update(int obsDim, int actionDim, int hidden, int batch)
    {
        actor = new Mlp(obsDim, hidden, 2, actionDim);
        targetActor = new Mlp(obsDim, hidden, 2, actionDim);
        Polyak.Update(targetActor.Parameters, actor.Parameters, 1.0);
        critic = new CriticEnsemble(2, obsDim + actionDim, hidden);
        targetCritic = new CriticEnsemble(2, obsDim + actionDim, hidden);
        targetCritic.CopyFrom(critic);
        actorOptimizer = optim.Adam(actor.Parameters, 3e-4);
        criticOptimizer = optim.Adam(critic.Parameters, 3e-4);
        data = new TransitionBatch(batch, obsDim, actionDim);
    }

    /// <summary>The two updates of one policy-delay cycle.</summary>
    public void RunPair()
    {
        Update(delayed: false);
        Update(delayed: true);
    }

    void Update(bool delayed)
    {
        using var scope = torch.NewDisposeScope();
        Tensor target;
        using (torch.no_grad())
        {
            var nextMean = targetActor.Forward(data.NextObservations).tanh();
            var smoothing = (torch.randn_like(nextMean) * PolicyNoise).clamp(-NoiseClip, NoiseClip);
            var nextAction = (nextMean + smoothing).clamp(-1.0, 1.0);
            target = data.Rewards + Gamma * (1 - data.Terminals) * targetCritic.Forward(data.NextObservations, nextAction).min(0).values;
        }
        var criticLoss = (critic.Forward(data.Observations, data.Actions) - target).square().mean([1]).sum();
        criticOptimizer.zero_grad();
        criticLoss.backward();
        criticOptimizer.step();
        if (!delayed) return;
        critic.SetTrainable(false);
        var actorLoss = -critic.Forward(data.Observations, actor.Forward(data.Observations).tanh())[0].mean();
        actorOptimizer.zero_grad();
        actorLoss.backward();
        critic.SetTrainable(true);
        actorOptimizer.step();
        targetCritic.PolyakFrom(critic, Tau);
        Polyak.Update(targetActor.Parameters, actor.Parameters, Tau);
    }
}
