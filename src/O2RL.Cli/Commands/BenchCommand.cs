using System.Text.Json;
using O2RL.Engine;
using O2RL.Engine.Diagnostics;
using O2RL.Kernels;

namespace O2RL.Cli.Commands;

/// <summary><c>o2rl bench</c>: quick speed figures for the chosen device, as text or JSON.</summary>
public static class BenchCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var reader = new ArgumentReader(args, ["device", "rounds"], ["json", "help"]);
        if (reader.Has("help"))
        {
            output.WriteLine("usage: o2rl bench [--device auto|cpu|cuda|opencl|ilgpu-cpu] [--rounds N] [--json]");
            output.WriteLine("Measures the CPU's FMA peak, a 256×256×256 GEMM and the MLP 17-256-256-1 training step (batch 256,");
            output.WriteLine("forward + backward + Adam) on the device. Times are the best of N rounds (the round least disturbed by");
            output.WriteLine("other processes) with the median beside it. Careful numbers: the BenchmarkDotNet suite,");
            output.WriteLine("  dotnet run -c Release --project benchmarks/O2RL.Benchmarks -- --filter '*' --job short --inProcess");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        int rounds = reader.GetInt("rounds", 9, 1, 1000);
        using var backend = DeviceCatalog.Create(reader.Get("device"));
        var results = new SortedDictionary<string, object> { ["device"] = backend.Name };

        if (backend is CpuBackend cpu)
        {
            using var pool = new WorkerPool(cpu.ThreadCount);
            var peak = FmaPeak.Measure(pool, TimeSpan.FromMilliseconds(5), windows: 20);
            results["fma_peak_gflops"] = Math.Round(peak.PoolGflops, 1);
            results["fma_peak_gflops_1_thread"] = Math.Round(peak.SingleThreadGflops, 1);
        }

        const int n = 256;
        var a = backend.Allocate(n, n); var b = backend.Allocate(n, n); var c = backend.Allocate(n, n);
        backend.RandomNormal(a, 1, 0); backend.RandomNormal(b, 2, 0);
        var (gemmBest, gemmMedian) = QuickTimer.SecondsPerCall(() => backend.Gemm(a, false, b, false, c), backend.Synchronize, callsPerRound: 20, rounds);
        results["gemm_256_gflops"] = Math.Round(2.0 * n * n * n / gemmBest / 1e9, 1);
        results["gemm_256_gflops_median"] = Math.Round(2.0 * n * n * n / gemmMedian / 1e9, 1);
        if (results.TryGetValue("fma_peak_gflops", out var peakValue))
            results["gemm_256_fraction_of_peak"] = Math.Round((double)results["gemm_256_gflops"] / (double)peakValue, 3);

        var step = new MlpTrainingStep(backend);
        var (mlpBest, mlpMedian) = QuickTimer.SecondsPerCall(step.Run, step.Synchronize, callsPerRound: 50, rounds);
        results["mlp_step_ms"] = Math.Round(mlpBest * 1e3, 4);
        results["mlp_step_ms_median"] = Math.Round(mlpMedian * 1e3, 4);
        results["mlp_step_gflops"] = Math.Round(step.FlopsPerStep / mlpBest / 1e9, 1);
        results["load_average"] = LoadAverage();

        if (reader.Has("json"))
            output.WriteLine(JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        else
            foreach (var (key, value) in results) output.WriteLine($"{key,-28} {value}");
        return 0;
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
