#!/usr/bin/env bash
# Online SAC on Pendulum-v1 on CUDA twice with one seed: each update (sampling included) replayed from a CUDA graph,
# and every update launched eagerly (O2RL_CUDA_GRAPHS=0). The two runs must end with byte-identical checkpoints and
# the same metrics; prints both wall times and the host time per update each logged.
#   bash benchmarks/gpu/graph-training-check.sh RESULTS_DIR     (after benchmarks/gpu/pack.sh; STEPS=6000 by default)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: graph-training-check.sh RESULTS_DIR}
steps=${STEPS:-6000}
mkdir -p "$out"
for mode in graphs eager; do
  start=$(date +%s%N)
  if [ "$mode" = eager ]; then export O2RL_CUDA_GRAPHS=0; else unset O2RL_CUDA_GRAPHS; fi
  timeout 300 .device/run cli online --algo sac --env Pendulum-v1 --device cuda --seed 3 --quiet --out "$out/$mode" \
    --set total_steps="$steps" --set warmup_steps=1000 --set eval_every=2000 --set eval_episodes=3 > "$out/$mode.log" 2>&1
  status=$?
  echo "$mode: exit $status, wall $(( ($(date +%s%N) - start) / 1000000 )) ms"
  tail -2 "$out/$mode.log"
done
unset O2RL_CUDA_GRAPHS
for f in "$out"/graphs/*.safetensors; do
  name=$(basename "$f")
  if cmp -s "$f" "$out/eager/$name"; then echo "$name: identical"; else echo "$name: DIFFERENT"; fi
done
for mode in graphs eager; do
  python3 - "$out/$mode/metrics.jsonl" "$mode" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
pick = lambda key: [(r["step"], round(r[key], 4)) for r in rows if key in r]
print(sys.argv[2], "eval/return", pick("eval/return"))
print(sys.argv[2], "time/update ms", pick("time/update"))
print(sys.argv[2], "charts/sps", pick("charts/sps"))
PY
done
