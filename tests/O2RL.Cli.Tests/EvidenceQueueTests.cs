using System.Diagnostics;
using Xunit;

namespace O2RL.Cli.Tests;

/// <summary>
/// The run queue of the evidence scripts (benchmarks/results/ocr-cft/evidence-common.sh), driven with a stand-in for
/// o2rl that logs each start and end and writes the run's summary.json: runs wait for their --after inputs, a free
/// worker takes the next ready run meanwhile, a failed producer leaves its dependants named and unrun, finished
/// folders are skipped and started ones resumed.
/// </summary>
public sealed class EvidenceQueueTests
{
    [Fact]
    public void RunsWaitForTheirInputsWhileFreeWorkersTakeReadyRuns()
    {
        string script = FindEvidenceCommon();
        string dir = Path.Combine(Path.GetTempPath(), "o2rl-queue-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string events = Path.Combine(dir, "events.log");
            // The stand-in o2rl: its run folder is the value after --out or --resume; "slow" runs take 3 s, "bad"
            // ones fail; a finished run writes summary.json as o2rl does.
            File.WriteAllText(Path.Combine(dir, "fake-o2rl.sh"), $$"""
                folder=""; mode=start
                while [ $# -gt 0 ]; do
                  case $1 in --out) folder=$2; shift ;; --resume) folder=$2; mode=resume; shift ;; esac; shift
                done
                name=$(basename "$folder")
                echo "$mode $name" >> '{{events}}'
                case $name in *slow*) sleep 3 ;; *) sleep 0.2 ;; esac
                case $name in *bad*) echo "end $name" >> '{{events}}'; exit 1 ;; esac
                mkdir -p "$folder"; echo '{}' > "$folder/summary.json"
                echo "end $name" >> '{{events}}'
                """);
            Directory.CreateDirectory(Path.Combine(dir, "runs", "done"));
            File.WriteAllText(Path.Combine(dir, "runs", "done", "summary.json"), "{}");
            Directory.CreateDirectory(Path.Combine(dir, "runs", "stopped"));
            File.WriteAllText(Path.Combine(dir, "runs", "stopped", "run.json"), "{}");
            File.WriteAllText(Path.Combine(dir, "driver.sh"), $$"""
                set -euo pipefail
                cd '{{dir}}'
                o2rl="bash {{dir}}/fake-o2rl.sh"; out=runs; jobs=2
                source '{{script}}'
                emit runs/offline-slow offline --algo cql
                emit --after runs/offline-slow/summary.json runs/finetune-a finetune --from runs/offline-slow/x
                emit runs/scratch finetune --mode scratch
                emit runs/offline-bad offline --algo iql
                emit --after runs/offline-bad/summary.json --after runs/offline-slow/summary.json runs/finetune-b finetune
                emit runs/done finetune --mode scratch
                emit runs/stopped finetune --mode scratch
                pool
                echo "pool returned"
                """);
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(dir, "driver.sh"));
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(60_000), "the queue did not finish within a minute");
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {output}{error}");
            var log = File.ReadAllLines(events).ToList();
            int At(string line) { int i = log.IndexOf(line); Assert.True(i >= 0, $"no '{line}' in: {string.Join(" | ", log)}"); return i; }

            // The free worker ran what was ready while the slow producer went on: the scratch run, the failing run
            // and the resumed one all started before the producer ended.
            Assert.True(At("start scratch") < At("end offline-slow"));
            Assert.True(At("start offline-bad") < At("end offline-slow"));
            Assert.True(At("resume stopped") < At("end offline-slow"));
            // The dependant started only once its input existed.
            Assert.True(At("start finetune-a") > At("end offline-slow"));
            // A finished folder is not run again; a run whose input no run made is named and not started.
            Assert.DoesNotContain(log, line => line.EndsWith(" done", StringComparison.Ordinal));
            Assert.DoesNotContain(log, line => line.Contains("finetune-b", StringComparison.Ordinal));
            Assert.Contains("failed: offline-bad (see runs/logs/offline-bad.log)", output);
            Assert.Contains("not run: finetune-b (waits for runs/offline-bad/summary.json runs/offline-slow/summary.json, which no run made)", output);
            Assert.EndsWith("pool returned", output.TrimEnd());
            // Five runs, each started (or resumed) once and ended once.
            Assert.Equal(10, log.Count);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static string FindEvidenceCommon()
    {
        string root = AppContext.BaseDirectory;
        while (root.Length > 0 && !File.Exists(Path.Combine(root, "O2RL.Native.sln")))
            root = Path.GetDirectoryName(root) ?? "";
        Assert.True(root.Length > 0, "the test runs outside the repository: no O2RL.Native.sln above " + AppContext.BaseDirectory);
        return Path.Combine(root, "benchmarks", "results", "ocr-cft", "evidence-common.sh");
    }
}
