#!/usr/bin/env bash
# Ours (`o2rl bench --json`, CPU backend) against libtorch (benchmarks/anchors/torch-cpu) on the same workloads,
# run in alternation on this machine with the same thread count, then one markdown table.
#
# usage: benchmarks/compare/compare.sh [--runs N] [--threads "1 2"] [--rounds N] [--out FILE]
#   --runs N      runs of each side per thread count, alternated ours/libtorch (default 3; the order flips every
#                 run so slow drifts in the machine's load hit both sides alike)
#   --threads L   thread counts to compare (default "1 2")
#   --rounds N    timing rounds inside each run (default 9; each run reports its best and median round)
#   --out FILE    also write the table, the machine and the command to FILE
# Environment: O2RL_COMPARE_KEEP=DIR keeps every run's raw output in DIR.
# Needs root for the anchor's chroot (see benchmarks/anchors/torch-cpu/run.sh).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
runs=3
thread_counts="1 2"
rounds=9
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --threads) thread_counts=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$runs$rounds" in *[!0-9]*|"") echo "compare.sh: --runs and --rounds take positive integers, got '$runs' and '$rounds'" >&2; exit 2 ;; esac
command_line="benchmarks/compare/compare.sh --runs $runs --threads \"$thread_counts\" --rounds $rounds${out:+ --out $out}"

# Raw outputs stay in $O2RL_COMPARE_KEEP when set (to look at single runs afterwards), else in a temporary folder.
if [ -n "${O2RL_COMPARE_KEEP:-}" ]; then work=$O2RL_COMPARE_KEEP; mkdir -p "$work"
else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
samples="$work/samples.tsv"   # side  threads  run  workload  median_ms  best_ms
facts="$work/facts.tsv"       # threads  key  value   (FLOPs, FMA peak, load average, from our runs)
: > "$samples"; : > "$facts"

echo "compare.sh: building o2rl (Release)" >&2
dotnet build "$repo/src/O2RL.Cli/O2RL.Cli.csproj" -c Release -nologo -v quiet > "$work/build.log" 2>&1 || { tail -n 20 "$work/build.log" >&2; exit 1; }
o2rl=("$repo/src/O2RL.Cli/bin/Release/net10.0/o2rl")
echo "compare.sh: preparing the libtorch anchor" >&2
"$repo/benchmarks/anchors/torch-cpu/run.sh" --prepare-only

run_ours() { # threads run
  local json="$work/ours-$1-$2.json" workload
  "${o2rl[@]}" bench --json --device cpu --threads "$1" --rounds "$rounds" > "$json"
  for workload in gemm_256_nn gemm_256_nt gemm_256_tn mlp_step sac_update td3_update; do
    printf 'ours\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$workload" \
      "$(sed -n "s/.*\"${workload}_ms_median\": \([0-9.eE+-]*\).*/\1/p" "$json")" \
      "$(sed -n "s/.*\"${workload}_ms\": \([0-9.eE+-]*\).*/\1/p" "$json")" >> "$samples"
  done
  sed -n 's/.*"\([a-z0-9_]*\(_flops\|fma_peak_gflops\|fma_effective_cores\|load_average\)\)": \([0-9.eE+-]*\).*/\1\t\3/p' "$json" |
    sed "s/^/$1\t/" >> "$facts"
}

run_torch() { # threads run
  "$repo/benchmarks/anchors/torch-cpu/run.sh" --no-publish -- --threads "$1" --rounds "$rounds" 2> "$work/torch-$1-$2.err" |
    tee "$work/torch-$1-$2.jsonl" | sed -n 's/.*"workload":"\([a-z0-9_]*\)","threads":\([0-9]*\),"ms":\([0-9.]*\),"ms_best":\([0-9.]*\).*/torch\t\2\t'"$2"'\t\1\t\3\t\4/p' >> "$samples" ||
    { cat "$work/torch-$1-$2.err" >&2; exit 1; }
}

for (( run=1; run<=runs; run++ )); do
  for threads in $thread_counts; do
    echo "compare.sh: run $run/$runs, $threads thread(s), load average $(cut -d' ' -f1 /proc/loadavg)" >&2
    if (( run % 2 == 1 )); then run_ours "$threads" "$run"; run_torch "$threads" "$run"
    else run_torch "$threads" "$run"; run_ours "$threads" "$run"; fi
  done
done

machine=$(lscpu | sed -n 's/^Model name:[ \t]*//p' | head -n 1)
if grep -q -w avx512f /proc/cpuinfo; then simd="AVX-512"; else simd="AVX2+FMA, no AVX-512"; fi
cores=$(nproc)
today=$(date -u +%Y-%m-%d)

# Per (threads, workload): the median over runs of each run's median round ("typical"), and the best round of
# any run ("least disturbed"). Ratio = libtorch / ours (above 1: ours is faster). Fraction of FMA peak: our
# GFLOP/s on the best round over the peak measured in the same runs (its best 5 ms windows).
table=$(awk -F'\t' -v peak_file="$facts" '
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ");
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2;
  }
  function minimum(list,   n, v, i, m) { n = split(list, v, " "); m = v[1]; for (i = 2; i <= n; i++) if (v[i] + 0 < m + 0) m = v[i]; return m }
  function maximum(list,   n, v, i, m) { n = split(list, v, " "); m = v[1]; for (i = 2; i <= n; i++) if (v[i] + 0 > m + 0) m = v[i]; return m }
  BEGIN {
    while ((getline line < peak_file) > 0) {
      split(line, f, "\t");
      if (f[2] == "fma_peak_gflops") peaks[f[1]] = peaks[f[1]] " " f[3];
      else if (f[2] == "fma_effective_cores") cores[f[1]] = cores[f[1]] " " f[3];
      else if (f[2] == "load_average") loads = loads " " f[3];
      else flops[f[2]] = f[3];
    }
  }
  { key = $2 SUBSEP $4; med[$1, key] = med[$1, key] " " $5; best[$1, key] = best[$1, key] " " $6; seen[key] = 1;
    order[$4] = ($4 ~ /gemm_256_nn/) ? 1 : ($4 ~ /gemm_256_nt/) ? 2 : ($4 ~ /gemm_256_tn/) ? 3 : ($4 ~ /mlp/) ? 4 : ($4 ~ /sac/) ? 5 : 6 }
  END {
    print "| workload | threads | GFLOP per call | ours ms (median; runs min–max) | libtorch ms (median; runs min–max) | ratio libtorch/ours | best ms ours / libtorch | ratio (best) | ours % of FMA peak (best) |";
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|";
    n = 0; for (k in seen) keys[++n] = k;
    for (i = 2; i <= n; i++) for (j = i; j > 1; j--) {
      split(keys[j-1], a, SUBSEP); split(keys[j], b, SUBSEP);
      if (a[1] + 0 > b[1] + 0 || (a[1] == b[1] && order[a[2]] > order[b[2]])) { t = keys[j]; keys[j] = keys[j-1]; keys[j-1] = t } else break;
    }
    for (i = 1; i <= n; i++) {
      split(keys[i], kv, SUBSEP); threads = kv[1]; w = kv[2];
      fkey = (w ~ /^gemm_256/) ? "gemm_256_flops" : w "_flops";
      ours = median(med["ours", keys[i]]); torch = median(med["torch", keys[i]]);
      oursBest = minimum(best["ours", keys[i]]); torchBest = minimum(best["torch", keys[i]]);
      peak = maximum(peaks[threads]);
      fraction = (oursBest > 0 && peak > 0) ? sprintf("%.0f %%", 100 * flops[fkey] / (oursBest * 1e-3) / 1e9 / peak) : "–";
      printf "| %s | %s | %.3f | %.3f (%.3f–%.3f) | %.3f (%.3f–%.3f) | %.2f× | %.3f / %.3f | %.2f× | %s |\n",
        w, threads, flops[fkey] / 1e9, ours, minimum(med["ours", keys[i]]), maximum(med["ours", keys[i]]),
        torch, minimum(med["torch", keys[i]]), maximum(med["torch", keys[i]]),
        (ours > 0 ? torch / ours : 0), oursBest, torchBest, (oursBest > 0 ? torchBest / oursBest : 0), fraction;
    }
    printf "\nFMA peak measured by o2rl bench (best windows, max over runs): ";
    for (t in peaks) printf "%s thread(s) %.1f GFLOP/s (runs: %s); ", t, maximum(peaks[t]), peaks[t];
    printf "\nEffective cores of our runs (FMA peak on N threads / on one thread): ";
    short = 0;
    for (t in cores) { printf "%s thread(s):%s; ", t, cores[t]; if (minimum(cores[t]) + 0 < t - 0.5) short = 1 }
    if (short) printf "\nA run with fewer effective cores than threads had its cores taken (other load or the host): its multi-thread rows time that, not the kernels.";
    printf "\nLoad average (1 min) at our runs: %s–%s\n", minimum(loads), maximum(loads);
  }' "$samples")

report=$(cat <<EOF
Machine: $machine ($simd), $cores cores; $today (UTC). $(sed -n 's/.*"library":"\([^"]*\)".*/\1/p' "$work"/torch-*.jsonl | head -n 1) (TorchSharp-cpu 0.107.0) in a Debian 13 chroot; ours: o2rl bench, CPU backend.

$table

Command: \`$command_line\`
EOF
)
echo "$report"
if [ -n "$out" ]; then echo "$report" > "$out"; fi
