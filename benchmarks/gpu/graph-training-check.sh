#!/usr/bin/env bash
# Online SAC and TD3 on Pendulum-v1 on CUDA, each twice with one seed: every update (sampling included) replayed from
# a CUDA graph, and every update launched eagerly (O2RL_CUDA_GRAPHS=0). Each pair must end with byte-identical
# checkpoints and the same evaluations; prints the wall times, host time per update and environment steps/s. Then the
# quick demo (CQL, then O2SAC, whose constrained updates are graphed, and naive SAC) twice the same way.
#   bash benchmarks/gpu/graph-training-check.sh RESULTS_DIR     (after benchmarks/gpu/pack.sh; STEPS=6000 ALGOS="sac td3")
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: graph-training-check.sh RESULTS_DIR}
steps=${STEPS:-6000}
.device/run cli --version > /dev/null 2>&1   # unpacks the runtime first, so neither timed run pays for it
for algo in ${ALGOS:-sac td3}; do
  mkdir -p "$out/$algo"
  # SAC's config names its evaluation keys eval_*, TD3's evaluate_* / evaluation_*.
  if [ "$algo" = td3 ]; then evaluation="--set evaluate_every=2000 --set evaluation_episodes=3"; else evaluation="--set eval_every=2000 --set eval_episodes=3"; fi
  for mode in graphs eager; do
    start=$(date +%s%N)
    if [ "$mode" = eager ]; then export O2RL_CUDA_GRAPHS=0; else unset O2RL_CUDA_GRAPHS; fi
    timeout 300 .device/run cli online --algo "$algo" --env Pendulum-v1 --device cuda --seed 3 --quiet --out "$out/$algo/$mode" \
      --set total_steps="$steps" --set warmup_steps=1000 $evaluation > "$out/$algo/$mode.log" 2>&1
    status=$?
    echo "$algo $mode: exit $status, wall $(( ($(date +%s%N) - start) / 1000000 )) ms"
    tail -2 "$out/$algo/$mode.log" | head -1
  done
  unset O2RL_CUDA_GRAPHS
  for f in "$out/$algo"/graphs/*.safetensors; do
    name=$(basename "$f")
    if cmp -s "$f" "$out/$algo/eager/$name"; then echo "$algo $name: identical"; else echo "$algo $name: DIFFERENT"; fi
  done
  for mode in graphs eager; do
    python3 - "$out/$algo/$mode/metrics.jsonl" "$algo $mode" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
pick = lambda key: [(r["step"], round(r[key], 4)) for r in rows if key in r]
print(sys.argv[2], "eval/return", pick("eval/return"))
print(sys.argv[2], "time/update ms", pick("time/update"))
print(sys.argv[2], "charts/sps", pick("charts/sps"))
PY
  done
done
if [ -z "${SKIP_DEMO:-}" ]; then
  for mode in graphs eager; do
    start=$(date +%s%N)
    if [ "$mode" = eager ]; then export O2RL_CUDA_GRAPHS=0; else unset O2RL_CUDA_GRAPHS; fi
    timeout 300 .device/run cli demo --quick --device cuda --out "$out/demo-$mode" > "$out/demo-$mode.log" 2>&1
    echo "demo $mode: exit $?, wall $(( ($(date +%s%N) - start) / 1000000 )) ms"
    grep -E "final evaluation" "$out/demo-$mode.log"
  done
  unset O2RL_CUDA_GRAPHS
  (cd "$out/demo-graphs" && find . -name '*.safetensors' -not -path '*/checkpoints/*' | sort) | while read -r f; do
    if cmp -s "$out/demo-graphs/$f" "$out/demo-eager/$f"; then echo "demo $f: identical"; else echo "demo $f: DIFFERENT"; fi
  done
fi
