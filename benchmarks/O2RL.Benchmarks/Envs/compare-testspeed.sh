#!/usr/bin/env bash
# Times bare mj_step on our MJCF models with MuJoCo's own sample program (mujoco-testspeed, from the
# libmujoco-samples package) and with our interop (RawMjStepBenchmarks), so the P/Invoke layer's overhead can be
# read off directly. Run from the repository root on an otherwise idle machine:
#   benchmarks/O2RL.Benchmarks/Envs/compare-testspeed.sh
# Both start from the default pose and run 1000 steps with ±0.01 control noise (the benchmark repeats that
# trajectory). Our number is BenchmarkDotNet's mean time per mj_step; steps/s = 1e6 / mean(µs).
set -euo pipefail
nstep=1000
models_dir="src/O2RL.Envs/MuJoCo/Models"
command -v mujoco-testspeed >/dev/null || { echo "mujoco-testspeed not found: apt-get install libmujoco-samples" >&2; exit 1; }

echo "== MuJoCo testspeed (1 thread, ctrlnoise 0.01, ${nstep} steps) =="
for model in hopper walker2d half_cheetah ant; do
  rate=$(mujoco-testspeed "${models_dir}/${model}.xml" "${nstep}" 1 0.01 | awk -F: '/Steps per second/ {gsub(/ /, "", $2); print $2}')
  printf '%-14s %10s mj_step/s\n' "${model}" "${rate}"
done

echo "== O2RL interop (RawMjStepBenchmarks) =="
dotnet run -c Release --project benchmarks/O2RL.Benchmarks -- --job short --inProcess --filter '*RawMjStepBenchmarks*' \
  | grep -E '^\|'
