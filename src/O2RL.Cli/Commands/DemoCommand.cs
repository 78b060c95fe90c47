using System.Globalization;
using System.Text.Json;
using O2RL.Algorithms.FineTuning;
using O2RL.Algorithms.Runs;
using O2RL.Algorithms.Training;

namespace O2RL.Cli.Commands;

/// <summary>
/// <c>o2rl demo</c>: the whole idea in one command on a pure C# environment, no downloads. Pendulum-v1 medium dataset
/// (the shipped one, or made by the D4RL recipe when absent) → CQL pre-training → fine-tuning with O2SAC and with naive
/// SAC fine-tuning → a table (offline, after reconstruction, lowest early, final) and a PNG of both curves. Finished
/// steps are reused when the demo is run again into the same folder.
/// </summary>
public static class DemoCommand
{
    const string Usage = """
        Usage: o2rl demo [--quick] [--json] [--out DIR] [--seed N] [--device NAME] [--quiet]

        Pendulum-v1, medium dataset → CQL (offline) → O2SAC (OCR-CFT: re-evaluation, value alignment, constrained
        fine-tuning) and naive SAC fine-tuning from the same CQL policy, then a table and a plot:
          offline                the CQL policy's return before any online step
          after reconstruction   O2SAC's actor after stages A–B (naive fine-tuning has none)
          lowest early           the lowest evaluation in the first 10% of fine-tuning (an initial collapse shows here)
          final                  the last evaluation
        Full mode uses the shipped Pendulum configs (a few minutes on two cores); --quick shrinks every budget for a
        smoke test (about a minute). Writes DIR (default runs/demo): offline/, o2sac/, naive-sac/ run folders, demo.png,
        demo.md and demo.json.
          --json    print the table as JSON (progress goes to standard error)
        Exit codes: 0 ok, 1 failure, 2 bad arguments.
        """;

    // Quick mode: every stage shrunk so the demo runs end to end in about a minute (CI's smoke test).
    static readonly string[] QuickOffline = ["--set", "steps=600", "--set", "eval_every=300", "--set", "eval_episodes=3"];
    static readonly string[] QuickFineTune =
    [
        "--set", "reevaluation_steps=300", "--set", "alignment_steps=300", "--set", "online_steps=1200",
        "--set", "threshold_steps=1200", "--set", "warmup_steps=200", "--set", "eval_every=200", "--set", "eval_episodes=3",
    ];

    /// <summary>Runs the demo; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var reader = new ArgumentReader(args, ["out", "seed", "device"], ["quick", "json", "quiet", "help"]);
        if (reader.Has("help")) { output.WriteLine(Usage); return 0; }
        if (reader.Positionals.Count > 0) throw new UsageException($"unexpected argument '{reader.Positionals[0]}' (o2rl demo --help)");
        bool quick = reader.Has("quick"), json = reader.Has("json"), quiet = reader.Has("quiet");
        int seed = reader.GetInt("seed", 0, 0);
        string root = Path.GetFullPath(reader.Get("out") ?? Path.Combine("runs", "demo"));
        string seedText = seed.ToString(CultureInfo.InvariantCulture);
        // With --json standard output carries only the JSON; the sub-commands' progress and notes go to standard error.
        var log = json ? error : output;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Directory.CreateDirectory(root);

        string dataset = ShippedDatasets.Find("Pendulum-v1", "medium") ?? MakeDataset(root, seedText, quiet, log, error);
        log.WriteLine($"demo: dataset {dataset}");
        string[] device = reader.Get("device") is string d ? ["--device", d] : [];
        string[] progress = quiet ? ["--quiet"] : [];

        string offline = Path.Combine(root, "offline");
        Step(log, error, "CQL pre-training", offline, TrainCommands.Offline,
            ["--algo", "cql", "--env", "Pendulum-v1", "--dataset", dataset, "--level", "medium", "--seed", seedText, .. device, .. progress,
             .. (quick ? QuickOffline : [])]);
        string checkpoint = Path.Combine(offline, "cql.safetensors");

        string[] fineTune = ["--variant", "o2sac", "--from", checkpoint, "--env", "Pendulum-v1", "--dataset", dataset, "--level", "medium",
            "--seed", seedText, .. device, .. progress, .. (quick ? QuickFineTune : [])];
        string o2sac = Path.Combine(root, "o2sac"), naive = Path.Combine(root, "naive-sac");
        Step(log, error, "O2SAC (OCR-CFT)", o2sac, TrainCommands.Finetune, [.. fineTune, "--label", "CQL→O2SAC"]);
        Step(log, error, "naive SAC fine-tuning", naive, TrainCommands.Finetune, [.. fineTune, "--mode", "naive", "--label", "CQL→SAC (naive)"]);

        var runs = new[] { RunFolder.Open(o2sac), RunFolder.Open(naive) };
        var rows = FineTuneTable.Build(runs);
        string markdown = FineTuneTable.ToMarkdown(rows), jsonText = FineTuneTable.ToJson(rows);
        AtomicFile.WriteAllText(Path.Combine(root, "demo.md"), markdown);
        AtomicFile.WriteAllText(Path.Combine(root, "demo.json"), jsonText);
        string plot = Path.Combine(root, "demo.png");
        string plotNote;
        if (CurvePlot.FontsAvailable)
        {
            var (metric, curves) = LearningCurves.Load(runs);
            CurvePlot.Render(LearningCurves.Aggregate(curves), plot, "Pendulum-v1 medium: CQL → O2SAC vs naive SAC fine-tuning", metric);
            plotNote = $"plot: {plot}";
        }
        else
        {
            // A headless machine without fonts still gets the whole result; only the picture is left out.
            plotNote = "no plot (DejaVu Sans is not installed: package fonts-dejavu-core; `o2rl plot` draws it later)";
            error.WriteLine($"demo: {plotNote}");
        }

        if (json) output.Write(jsonText);
        else
        {
            output.WriteLine();
            output.Write(markdown);
            output.WriteLine();
            output.WriteLine(Verdict(rows));
            output.WriteLine($"{plotNote}; run folders under {root} ({clock.Elapsed.TotalSeconds:F0} s)");
        }
        return 0;
    }

    /// <summary>Runs one step into its folder, or reuses it when a previous demo finished it (summary.json).</summary>
    static void Step(TextWriter log, TextWriter error, string title, string folder, Func<string[], TextWriter, TextWriter, int> command, string[] args)
    {
        if (File.Exists(Path.Combine(folder, RunFolder.SummaryFile)))
        {
            log.WriteLine($"demo: {title}: reusing {folder}");
            return;
        }
        // A folder a stopped demo left half-made is started over (the demo's steps are short).
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        log.WriteLine($"demo: {title} → {folder}");
        int code = command([.. args, "--out", folder], log, error);
        if (code != 0) throw new InvalidOperationException($"demo step '{title}' failed (exit {code}); its output is above, its folder is {folder}");
    }

    static string MakeDataset(string root, string seed, bool quiet, TextWriter log, TextWriter error)
    {
        string folder = Path.Combine(root, "datasets");
        string path = Path.Combine(folder, "pendulum-v1-medium.hdf5");
        if (File.Exists(path)) return path;
        log.WriteLine($"demo: no shipped Pendulum-v1 dataset beside the program; making one with the D4RL recipe in {folder}");
        int code = CollectCommand.Run(["--env", "Pendulum-v1", "--out", folder, "--rows", "50000", "--expert-return", "-150", "--seed", seed,
            "--set", "eval_every=500", .. (quiet ? new[] { "--quiet" } : [])], log, error);
        if (code != 0 || !File.Exists(path)) throw new InvalidOperationException($"making the Pendulum-v1 datasets failed (exit {code})");
        return path;
    }

    /// <summary>One plain sentence comparing the two methods on the paper's two claims.</summary>
    static string Verdict(IReadOnlyList<FineTuneRow> rows)
    {
        var o2sac = rows.FirstOrDefault(r => r.Method.Contains("O2SAC", StringComparison.Ordinal));
        var naive = rows.FirstOrDefault(r => r.Method.Contains("naive", StringComparison.Ordinal));
        // Both fine-tune a loaded policy, so both curves start with its step-0 score.
        if (o2sac?.Offline is null || naive?.Offline is null) return "";
        string dip(FineTuneRow r) => (r.LowestEarly.Mean - r.Offline!.Mean).ToString("F1", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture,
            $"early drop below the offline score: O2SAC {dip(o2sac)}, naive {dip(naive)}; final: O2SAC {o2sac.Final.Mean:F1}, naive {naive.Final.Mean:F1} (higher is better).");
    }
}
