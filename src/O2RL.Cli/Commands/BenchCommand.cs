using System.Text.Json;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.FineTuning.O2Sac;
using O2RL.Algorithms.FineTuning.O2Td3;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Diagnostics;
using O2RL.Kernels;
using O2RL.Algorithms.Runs;

namespace O2RL.Cli.Commands;

/// <summary>
/// <c>o2rl bench</c>: quick speed figures for the chosen device, as text or JSON. The workloads are the ones the
/// libtorch anchor (benchmarks/anchors/torch-cpu) times too, so the two outputs compare key by key.
/// </summary>
public static class BenchCommand
{
    /// <summary>Observation features of the SAC/TD3 workloads (HalfCheetah, Walker2d).</summary>
    public const int UpdateObsDim = 17;
    /// <summary>Action dimensions of the SAC/TD3 workloads.</summary>
    public const int UpdateActionDim = 6;
    /// <summary>Hidden width of every network in the workloads (two hidden layers each).</summary>
    public const int HiddenDim = 256;
    /// <summary>Minibatch of the MLP step and the updates.</summary>
    public const int BatchSize = 256;

    /// <summary>Runs the command.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var reader = new ArgumentReader(args, ["device", "rounds", "threads", "only"], ["json", "help", "ocr-cft"]);
        if (reader.Has("help"))
        {
            output.WriteLine("usage: o2rl bench [--device auto|cpu|cuda|opencl|ilgpu-cpu] [--threads N] [--rounds N] [--only LIST] [--ocr-cft] [--json]");
            output.WriteLine("Measures the CPU's FMA peak, 256×256×256 GEMMs (NN, NT, TN with β = 1), the MLP 17-256-256-1 training step");
            output.WriteLine("(batch 256, forward + backward + Adam) and full SAC and TD3 updates (obs 17, act 6, 2×256 actor and twin");
            output.WriteLine("critics, batch 256; TD3 per update over a policy-delay cycle) on the device, then the offline updates at the");
            output.WriteLine("paper's sizes (CQL with 3×256 critics and 10 sampled actions, IQL, TD3+BC) and a PPO minibatch step (actor");
            output.WriteLine("2×256, value net 3×256 tanh) on batches of 256 with the same dimensions. Times are the best of N rounds");
            output.WriteLine("(the round least disturbed by other processes) with the median beside it; *_flops are the GEMM");
            output.WriteLine("multiply-add FLOPs of one call. --threads N runs the CPU backend on N threads (implies --device cpu);");
            output.WriteLine("fma_effective_cores is the FMA peak on those threads over one thread's, and a warning goes to stderr");
            output.WriteLine("when it is well under N (the process did not get a core per thread, so its N-thread times measure that).");
            output.WriteLine("On ILGPU devices (cuda, opencl, ilgpu-cpu) *_kernel_launches count the kernels one call launches, and");
            output.WriteLine("kernel_launch_us is the time per launch of a one-element kernel, back to back (the host's cost per launch).");
            output.WriteLine($"--only LIST times only the named workloads (comma-separated: {string.Join(", ", Workloads)}).");
            output.WriteLine("--ocr-cft adds the OCR-CFT steps at the paper's sizes: O2SAC stages A, B and C (3×256 LayerNorm critics)");
            output.WriteLine("beside a plain SAC update with those critics, and O2TD3 stages A, B and C (2×256 LayerNorm critics)");
            output.WriteLine("beside plain TD3 with them (stage C and TD3 per update over a policy-delay cycle).");
            output.WriteLine("Careful numbers: the BenchmarkDotNet suite,");
            output.WriteLine("  dotnet run -c Release --project benchmarks/O2RL.Benchmarks -- --filter '*' --job short --inProcess");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        int rounds = reader.GetInt("rounds", 9, 1, 1000);
        var selected = new HashSet<string>(Workloads);
        if (reader.Get("only") is string only)
        {
            selected = [.. only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            foreach (string name in selected)
                if (!Workloads.Contains(name)) throw new UsageException($"--only: unknown workload '{name}'; choose from {string.Join(", ", Workloads)}");
            if (selected.Count == 0) throw new UsageException("--only needs at least one workload");
        }
        int? threads = reader.Has("threads") ? reader.GetInt("threads", 0, 1, 1024) : null;
        string? device = reader.Get("device");
        if (threads is not null && device is not null && device != "cpu")
            throw new UsageException($"--threads applies to the CPU backend only, but --device is '{device}'");
        using var backend = threads is int count
            ? Devices.Create("cpu", new DeviceOptions { CpuThreads = count })
            : DeviceCatalog.Create(device);
        var results = new SortedDictionary<string, object> { ["device"] = backend.Name };

        if (backend is CpuBackend cpu)
        {
            results["threads"] = cpu.ThreadCount;
            if (selected.Contains("gemm"))
            {
                using var pool = new WorkerPool(cpu.ThreadCount);
                var peak = FmaPeak.Measure(pool, TimeSpan.FromMilliseconds(5), windows: 20);
                results["fma_peak_gflops"] = Math.Round(peak.PoolGflops, 1);
                results["fma_peak_gflops_1_thread"] = Math.Round(peak.SingleThreadGflops, 1);
                if (peak.SingleThreadGflops > 0) results["fma_effective_cores"] = Math.Round(peak.PoolGflops / peak.SingleThreadGflops, 2);
                if (FewerCoresThanThreads(cpu.ThreadCount, peak.PoolGflops, peak.SingleThreadGflops) is string warning) error.WriteLine(warning);
            }
        }

        if (backend is IlgpuBackend ilgpuBackend) results["gemm_settings"] = ilgpuBackend.GemmSettings;

        if (backend is IlgpuBackend && selected.Contains("launch"))
        {
            // Back-to-back launches of a one-element kernel: the device work is negligible, so this is the host's
            // cost per launch (ILGPU's argument marshalling and the driver), the floor under launch-bound updates.
            var one = backend.Allocate(1);
            var (launchBest, launchMedian) = QuickTimer.SecondsPerCall(() => backend.Fill(one, 1f), backend.Synchronize, callsPerRound: 200, rounds);
            results["kernel_launch_us"] = Math.Round(launchBest * 1e6, 2);
            results["kernel_launch_us_median"] = Math.Round(launchMedian * 1e6, 2);
        }

        if (selected.Contains("gemm")) TimeGemms(backend, rounds, results);
        if (selected.Contains("mlp_step")) TimeMlpStep(backend, rounds, results);
        var batch = RandomBatch(backend, BatchSize, UpdateObsDim, UpdateActionDim);
        if (selected.Contains("sac_update")) TimeSac(backend, batch, rounds, results);
        if (selected.Contains("td3_update")) TimeTd3(backend, batch, rounds, results);
        if (selected.Contains("cql_update"))
            TimeOffline(backend, results, "cql_update", new CqlAgent(backend, UpdateObsDim, UpdateActionDim, new CqlConfig(), seed: 1), batch, callsPerRound: 2, rounds);
        if (selected.Contains("iql_update"))
            TimeOffline(backend, results, "iql_update", new IqlAgent(backend, UpdateObsDim, UpdateActionDim, new IqlConfig(), seed: 1), batch, callsPerRound: 10, rounds);
        if (selected.Contains("td3bc_update"))
            TimeOffline(backend, results, "td3bc_update", new Td3BcAgent(backend, UpdateObsDim, UpdateActionDim, new Td3BcConfig(), seed: 1), batch, callsPerRound: 10, rounds);
        if (selected.Contains("ppo_minibatch")) TimePpoMinibatch(backend, rounds, results);
        if (reader.Has("ocr-cft")) OcrCftSteps(backend, batch, rounds, results);
        results["load_average"] = LoadAverage();

        if (reader.Has("json"))
            output.WriteLine(JsonSerializer.Serialize(results, JsonFiles.Serializer));
        else
            foreach (var (key, value) in results) output.WriteLine($"{key,-28} {value}");
        return 0;
    }

    /// <summary>The workloads <c>--only</c> accepts: launch (ILGPU devices only), the three GEMMs, the MLP step, the updates.</summary>
    public static IReadOnlyList<string> Workloads { get; } =
        ["launch", "gemm", "mlp_step", "sac_update", "td3_update", "cql_update", "iql_update", "td3bc_update", "ppo_minibatch"];

    static void TimeGemms(Backend backend, int rounds, IDictionary<string, object> results)
    {
        const int n = 256;
        var a = backend.Allocate(n, n); var b = backend.Allocate(n, n); var c = backend.Allocate(n, n);
        backend.RandomNormal(a, 1, 0); backend.RandomNormal(b, 2, 0);
        double gemmFlops = 2.0 * n * n * n;
        results["gemm_256_flops"] = gemmFlops;
        // NN: a forward layer; NT: x·Wᵀ; TN with β = 1: the weight gradient accumulated into dW.
        foreach (var (layout, transposeA, transposeB, beta) in new[] { ("nn", false, false, 0f), ("nt", false, true, 0f), ("tn", true, false, 1f) })
        {
            var (best, median) = QuickTimer.SecondsPerCall(() => backend.Gemm(a, transposeA, b, transposeB, c, beta: beta), backend.Synchronize, callsPerRound: 20, rounds);
            results[$"gemm_256_{layout}_ms"] = Math.Round(best * 1e3, 4);
            results[$"gemm_256_{layout}_ms_median"] = Math.Round(median * 1e3, 4);
            if (layout == "nn")
            {
                // The original keys, kept for scripts that read them.
                results["gemm_256_gflops"] = Math.Round(gemmFlops / best / 1e9, 1);
                results["gemm_256_gflops_median"] = Math.Round(gemmFlops / median / 1e9, 1);
            }
        }
        if (results.TryGetValue("fma_peak_gflops", out var peakValue))
            results["gemm_256_fraction_of_peak"] = Math.Round((double)results["gemm_256_gflops"] / (double)peakValue, 3);
    }

    /// <summary>
    /// A warning when the FMA peak on all threads is well short of threads × one thread's (best windows of each):
    /// the process did not get a core per thread (other load, or a VM host that left it fewer cores), so the
    /// multi-threaded times of this run measure that, not the kernels. Null when the cores were there.
    /// </summary>
    public static string? FewerCoresThanThreads(int threads, double poolGflops, double singleThreadGflops)
    {
        if (threads < 2 || singleThreadGflops <= 0 || !double.IsFinite(poolGflops)) return null;
        double cores = poolGflops / singleThreadGflops;
        if (cores >= threads - 0.5) return null;
        return $"bench: warning: the FMA peak on {threads} threads is {poolGflops:F1} GFLOP/s, {cores:F2}× one thread's " +
            $"{singleThreadGflops:F1}: this process had about {cores:F1} cores for {threads} threads (other load, or the host), " +
            $"so its {threads}-thread times measure that; run it again on an idle machine";
    }

    static void TimeMlpStep(Backend backend, int rounds, IDictionary<string, object> results)
    {
        var step = new MlpTrainingStep(backend);
        var (mlpBest, mlpMedian) = QuickTimer.SecondsPerCall(step.Run, step.Synchronize, callsPerRound: 50, rounds);
        results["mlp_step_ms"] = Math.Round(mlpBest * 1e3, 4);
        results["mlp_step_ms_median"] = Math.Round(mlpMedian * 1e3, 4);
        results["mlp_step_gflops"] = Math.Round(step.FlopsPerStep / mlpBest / 1e9, 1);
        results["mlp_step_flops"] = step.FlopsPerStep;
        CountLaunches(backend, results, "mlp_step", step.Run);
        var graphedStep = new MlpTrainingStep(backend);
        TimeGraphed(backend, results, "mlp_step", graphedStep.Run, callsPerRound: 50, rounds);
    }

    static void TimeSac(Backend backend, TransitionBatch batch, int rounds, IDictionary<string, object> results)
    {
        var sac = new SacAgent(backend, UpdateObsDim, UpdateActionDim, new SacConfig(), seed: 1);
        TimeUpdates(backend, results, "sac_update", () => sac.Update(batch, 0, 0), callsPerRound: 10, rounds);
        results["sac_update_flops"] = UpdateFlops.Sac(UpdateObsDim, UpdateActionDim, HiddenDim, BatchSize);
        if (!float.IsFinite(backend.ReadScalar(sac.Learner.CriticLoss)))
            throw new InvalidOperationException("bench: the SAC critic loss became non-finite during the timing runs");
        var graphedSac = new SacAgent(backend, UpdateObsDim, UpdateActionDim, new SacConfig(), seed: 1);
        if (TimeGraphed(backend, results, "sac_update", () => graphedSac.Update(batch, 0, 0), callsPerRound: 10, rounds))
        {
            // The graphed update against the eager one: two fresh agents with one seed, 12 updates each (an eager
            // run, two captures, nine replays), every parameter and the last losses compared bit for bit.
            var eagerAgent = new SacAgent(backend, UpdateObsDim, UpdateActionDim, new SacConfig(), seed: 2);
            var graphedAgent = new SacAgent(backend, UpdateObsDim, UpdateActionDim, new SacConfig(), seed: 2);
            using var graphed = new GraphedStep(backend, () => graphedAgent.Update(batch, 0, 0));
            for (int update = 0; update < 12; update++)
            {
                eagerAgent.Update(batch, 0, 0);
                graphed.Run();
            }
            results["sac_update_graph_matches_eager"] = SameBits(eagerAgent.Learner, graphedAgent.Learner);
        }
    }

    static bool SameBits(SoftActorCritic a, SoftActorCritic b)
    {
        static bool Same(Tensor x, Tensor y) => x.ToArray().AsSpan().SequenceEqual(y.ToArray());
        return Same(a.Actor.Parameters.Values, b.Actor.Parameters.Values) && Same(a.Critic.Parameters.Values, b.Critic.Parameters.Values)
            && Same(a.TargetCritic.Parameters.Values, b.TargetCritic.Parameters.Values) && Same(a.LogAlpha, b.LogAlpha)
            && Same(a.CriticLoss, b.CriticLoss) && Same(a.ActorLoss, b.ActorLoss);
    }

    /// <summary>
    /// Where the device runs steps from CUDA graphs (<see cref="GraphedStep"/>), records <c>{name}_graph_ms</c> and
    /// <c>{name}_graph_ms_median</c> per update and the graph's size; returns whether it did.
    /// </summary>
    static bool TimeGraphed(Backend backend, IDictionary<string, object> results, string name, Action run, int callsPerRound, int rounds,
        int updatesPerCall = 1)
    {
        using var graphed = new GraphedStep(backend, run);
        if (!graphed.UsesGraphs) return false;
        double best, median;
        try
        {
            (best, median) = QuickTimer.SecondsPerCall(graphed.Run, backend.Synchronize, callsPerRound, rounds);
        }
        catch (Exception failure) when (failure is InvalidOperationException or NotSupportedException || failure.GetType().Name == "CudaException")
        {
            // The eager numbers above still stand; say why the graphed ones are missing.
            results[$"{name}_graph_error"] = failure.Message;
            return false;
        }
        results[$"{name}_graph_ms"] = Math.Round(best * 1e3 / updatesPerCall, 4);
        results[$"{name}_graph_ms_median"] = Math.Round(median * 1e3 / updatesPerCall, 4);
        results[$"{name}_graph_nodes"] = graphed.GraphNodes / (double)updatesPerCall;
        return true;
    }

    static void TimeTd3(Backend backend, TransitionBatch batch, int rounds, IDictionary<string, object> results)
    {
        // One call = a critic-only update and a delayed one (actor step, Polyak), so the time per update is the
        // mean over TD3's policy-delay cycle of 2.
        var td3 = new Td3Agent(backend, UpdateObsDim, UpdateActionDim, new Td3Config(), seed: 1);
        TimeUpdates(backend, results, "td3_update", () => { td3.Update(batch, 0, 0); td3.Update(batch, 0, 0); }, callsPerRound: 5, rounds, updatesPerCall: 2);
        results["td3_update_flops"] = UpdateFlops.Td3PerUpdate(UpdateObsDim, UpdateActionDim, HiddenDim, BatchSize);
        if (!float.IsFinite(backend.ReadScalar(td3.Operators.CriticLoss)))
            throw new InvalidOperationException("bench: the TD3 critic loss became non-finite during the timing runs");
        var graphedTd3 = new Td3Agent(backend, UpdateObsDim, UpdateActionDim, new Td3Config(), seed: 1);
        TimeGraphed(backend, results, "td3_update", () => { graphedTd3.Update(batch, 0, 0); graphedTd3.Update(batch, 0, 0); }, callsPerRound: 5, rounds, updatesPerCall: 2);
    }

    /// <summary>
    /// An offline learner's update (CQL, IQL and TD3+BC at their paper configs) on the bench batch; TD3+BC per update
    /// averaged over its policy-delay cycle, since one call of 10 updates holds five delayed actor steps.
    /// </summary>
    static void TimeOffline(Backend backend, IDictionary<string, object> results, string name, IOfflineAgent agent, TransitionBatch batch,
        int callsPerRound, int rounds)
    {
        TimeUpdates(backend, results, name, () => agent.Update(batch), callsPerRound, rounds);
        var losses = new MemoryMetrics();
        agent.LogMetrics(losses, 0);
        if (losses.Rows.Where(row => !double.IsFinite(row.Value)).Select(row => row.Name).FirstOrDefault() is string broken)
            throw new InvalidOperationException($"bench: {name}: {broken} became non-finite during the timing runs");
    }

    /// <summary>
    /// One PPO minibatch step (the actor's clipped-surrogate step, then the value step) on 256 rows: the paper's
    /// networks (actor 2×256, value net 3×256 tanh), the update PPO and O2PPO repeat K epochs × minibatches per rollout.
    /// </summary>
    static void TimePpoMinibatch(Backend backend, int rounds, IDictionary<string, object> results)
    {
        var agent = new PpoAgent(backend, UpdateObsDim, UpdateActionDim, new PpoConfig(), seed: 1);
        var random = new DeviceRandom(2);
        var observations = backend.Allocate(BatchSize, UpdateObsDim);
        var actions = backend.Allocate(BatchSize, UpdateActionDim);
        var oldLogProbs = backend.Allocate(BatchSize, UpdateActionDim);
        var advantages = backend.Allocate(BatchSize, 1);
        var valueTargets = backend.Allocate(BatchSize, 1);
        random.Normal(observations);
        random.Uniform(actions, -1f, 1f);
        random.Normal(oldLogProbs, -1f, 0.1f);
        random.Normal(advantages);
        random.Normal(valueTargets);
        TimeUpdates(backend, results, "ppo_minibatch", () =>
        {
            agent.ActorStep(observations, actions, oldLogProbs, advantages);
            agent.CriticStep(observations, valueTargets);
        }, callsPerRound: 10, rounds);
    }

    /// <summary>
    /// Times the OCR-CFT steps (o2sac_stage_{a,b,c}_ms, o2td3_stage_{a,b,c}_ms) and, beside each family, the plain
    /// update with the same LayerNorm critics (sac_layernorm_update_ms, td3_layernorm_update_ms), so the
    /// overhead of each stage reads as a ratio on any device.
    /// </summary>
    static void OcrCftSteps(Backend backend, TransitionBatch batch, int rounds, IDictionary<string, object> results)
    {
        void Time(string name, Action run, int callsPerRound, int updatesPerCall = 1) =>
            TimeUpdates(backend, results, name, run, callsPerRound, rounds, updatesPerCall);

        var o2SacConfig = new O2SacConfig();
        var sacActor = new TanhGaussianActor(backend, UpdateObsDim, UpdateActionDim, seed: 1, hiddenDims: [HiddenDim, HiddenDim]);
        var o2Sac = new O2SacLearner(backend, sacActor, o2SacConfig, seed: 1);
        var sacLayerNorm = new SacAgent(backend, UpdateObsDim, UpdateActionDim,
            new SacConfig { ActorHidden = [HiddenDim, HiddenDim], CriticHidden = o2SacConfig.CriticHidden, CriticLayerNorm = true }, seed: 1);
        long sacStep = 0;
        Time("o2sac_stage_a", () => o2Sac.PolicyEvaluationStep(batch), 10);
        Time("o2sac_stage_b", () => o2Sac.ValueAlignmentStep(batch.Observations), 10);
        Time("o2sac_stage_c", () => o2Sac.ConstrainedUpdate(batch, 5_000 + ++sacStep, 0), 10);
        Time("sac_layernorm_update", () => sacLayerNorm.Update(batch, ++sacStep, 0), 10);

        var td3Actor = new DeterministicActor(backend, UpdateObsDim, UpdateActionDim, seed: 3, hiddenDims: [HiddenDim, HiddenDim]);
        var o2Td3 = new O2Td3Agent(backend, td3Actor, new O2Td3Config(), seed: 1);
        var td3LayerNorm = new Td3Agent(backend, UpdateObsDim, UpdateActionDim, new Td3Config { CriticLayerNorm = true }, seed: 1);
        long td3Step = 0;
        Time("o2td3_stage_a", () => o2Td3.EvaluationStep(batch), 10);
        Time("o2td3_stage_b", () => o2Td3.AlignmentStep(batch), 10);
        Time("o2td3_stage_c", () => { o2Td3.Update(batch, ++td3Step, 0); o2Td3.Update(batch, ++td3Step, 0); }, 5, updatesPerCall: 2);
        Time("td3_layernorm_update", () => { td3LayerNorm.Update(batch, ++td3Step, 0); td3LayerNorm.Update(batch, ++td3Step, 0); }, 5, updatesPerCall: 2);
        if (!float.IsFinite(backend.ReadScalar(o2Sac.Sac.CriticLoss)) || !float.IsFinite(backend.ReadScalar(o2Td3.Operators.CriticLoss)))
            throw new InvalidOperationException("bench: an O2SAC or O2TD3 critic loss became non-finite during the timing runs");
    }

    /// <summary>
    /// Records <c>{name}_ms</c> (best round) and <c>{name}_ms_median</c> per update, where one call of
    /// <paramref name="run"/> makes <paramref name="updatesPerCall"/> updates (TD3: a policy-delay cycle), and on
    /// ILGPU devices the kernels launched per update. The timer's warm-up also allocates the per-batch buffers.
    /// </summary>
    static void TimeUpdates(Backend backend, IDictionary<string, object> results, string name, Action run, int callsPerRound, int rounds,
        int updatesPerCall = 1)
    {
        var (best, median) = QuickTimer.SecondsPerCall(run, backend.Synchronize, callsPerRound, rounds);
        results[$"{name}_ms"] = Math.Round(best * 1e3 / updatesPerCall, 4);
        results[$"{name}_ms_median"] = Math.Round(median * 1e3 / updatesPerCall, 4);
        CountLaunches(backend, results, name, run, updatesPerCall);
    }

    /// <summary>
    /// On an ILGPU backend, records <c>{name}_kernel_launches</c>: kernels launched by one call of a warmed-up
    /// <paramref name="run"/> (per update when one call makes <paramref name="callsPerValue"/> updates). On a GPU
    /// each launch costs a few microseconds of driver time, so this is the floor under a small update's latency.
    /// </summary>
    public static void CountLaunches(Backend backend, IDictionary<string, object> results, string name, Action run, int callsPerValue = 1)
    {
        if (backend is not IlgpuBackend ilgpu) return;
        run();
        backend.Synchronize();
        long before = ilgpu.KernelLaunchCount;
        run();
        backend.Synchronize();
        results[$"{name}_kernel_launches"] = (ilgpu.KernelLaunchCount - before) / (double)callsPerValue;
    }

    /// <summary>A fixed random batch: s, s′ ~ N(0, 1), a ~ U(−1, 1), r ~ N(0, 1), every hundredth row terminal.</summary>
    static TransitionBatch RandomBatch(Backend backend, int size, int obsDim, int actionDim)
    {
        var batch = new TransitionBatch(backend, size, obsDim, actionDim);
        var random = new DeviceRandom(9);
        random.Normal(batch.Observations);
        random.Uniform(batch.Actions, -1f, 1f);
        random.Normal(batch.Rewards);
        random.Normal(batch.NextObservations);
        var terminals = new float[size];
        for (int row = 0; row < size; row += 100) terminals[row] = 1f;
        backend.Upload(terminals, batch.Terminals);
        return batch;
    }

    /// <summary>The 1-minute load average where the OS reports it (so a noisy measurement says so), else -1.</summary>
    static double LoadAverage()
    {
        try
        {
            string text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException) { return -1; }
    }
}

/// <summary>
/// GEMM multiply-add FLOPs (2·m·n·k per matrix product) of one SAC or TD3 update with 2-hidden-layer networks and
/// twin critics, counting only the products the update needs: a Linear layer in→out on B rows costs 2·B·in·out
/// for its forward, as much for its weight gradient, and as much again for its input gradient, which the first
/// layer of a network fed by data does not need. Elementwise work, Adam and Polyak are left out (they are
/// memory-bound and small beside the GEMMs at these sizes).
/// </summary>
public static class UpdateFlops
{
    /// <summary>
    /// SAC (tanh-Gaussian actor obs → h → h → 2·act, critics obs+act → h → h → 1): the actor sample at s with its
    /// full backward; both critics at (s, ã) forward and back to the action only (no weight gradients); the actor
    /// at s′ and both target critics forward; both critics at (s, a) forward and backward.
    /// </summary>
    public static double Sac(int obsDim, int actionDim, int hidden, int batchSize)
    {
        Validate(obsDim, actionDim, hidden, batchSize);
        double actor = Forward(batchSize, obsDim, hidden, 2 * actionDim);
        double actorFirst = 2.0 * batchSize * obsDim * hidden;
        double critic = 2 * Forward(batchSize, obsDim + actionDim, hidden, 1);
        double criticFirst = 2 * 2.0 * batchSize * (obsDim + actionDim) * hidden;
        double actorLoss = actor + actor + (actor - actorFirst) + critic + critic;
        double target = actor + critic;
        double criticLoss = critic + critic + (critic - criticFirst);
        return actorLoss + target + criticLoss;
    }

    /// <summary>
    /// TD3 per update, averaged over the policy-delay cycle of 2 (deterministic actor obs → h → h → act): every
    /// update runs the target actor and both target critics forward and both critics forward and backward; every
    /// second one also runs the actor forward, both critics at (s, μ(s)) forward and back to the action, and the
    /// actor's backward.
    /// </summary>
    public static double Td3PerUpdate(int obsDim, int actionDim, int hidden, int batchSize)
    {
        Validate(obsDim, actionDim, hidden, batchSize);
        double actor = Forward(batchSize, obsDim, hidden, actionDim);
        double actorFirst = 2.0 * batchSize * obsDim * hidden;
        double critic = 2 * Forward(batchSize, obsDim + actionDim, hidden, 1);
        double criticFirst = 2 * 2.0 * batchSize * (obsDim + actionDim) * hidden;
        double criticUpdate = actor + critic + critic + critic + (critic - criticFirst);
        double actorUpdate = actor + critic + critic + actor + (actor - actorFirst);
        return criticUpdate + actorUpdate / 2;
    }

    /// <summary>Forward FLOPs of one in → h → h → out network on B rows.</summary>
    static double Forward(int batchSize, int inDim, int hidden, int outDim) =>
        2.0 * batchSize * ((double)inDim * hidden + (double)hidden * hidden + (double)hidden * outDim);

    static void Validate(int obsDim, int actionDim, int hidden, int batchSize)
    {
        if (obsDim < 1 || actionDim < 1 || hidden < 1 || batchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(obsDim), $"obs_dim {obsDim}, act_dim {actionDim}, hidden {hidden} and batch {batchSize} must all be positive");
    }
}
