using System.Text.Json;
using O2RL.Engine;
using O2RL.Engine.Diagnostics;

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
            output.WriteLine("Times the MLP 17-256-256-1 training step (batch 256) on the device. For careful numbers use the");
            output.WriteLine("BenchmarkDotNet suite: dotnet run -c Release --project benchmarks/O2RL.Benchmarks");
            return 0;
        }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}'");
        int rounds = reader.GetInt("rounds", 7, 1, 1000);
        using var backend = DeviceCatalog.Create(reader.Get("device"));

        var step = new MlpTrainingStep(backend);
        double mlpSeconds = QuickTimer.MedianSecondsPerCall(step.Run, step.Synchronize, callsPerRound: 50, rounds);
        var results = new SortedDictionary<string, object>
        {
            ["device"] = backend.Name,
            ["mlp_step_ms"] = Math.Round(mlpSeconds * 1e3, 4),
            ["mlp_step_gflops"] = Math.Round(step.FlopsPerStep / mlpSeconds / 1e9, 2),
        };
        if (reader.Has("json"))
            output.WriteLine(JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        else
            foreach (var (key, value) in results) output.WriteLine($"{key,-22} {value}");
        return 0;
    }
}
