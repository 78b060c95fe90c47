#!/usr/bin/env bash
# The TD3+BC→O2SAC transfer on a MuJoCo task at the pilot budget, against naive SAC from the same policies: O2SAC
# stages A/B 10k steps each, then 20k online steps (UTD 10, the paper's O2SAC setting; the threshold schedule over
# those 20k), naive fine-tuning (`--mode naive`: the converted TD3+BC actor and its critics, then plain SAC with the
# same target-entropy rule) for the same 20k steps; evaluations every 1,000 steps with 5 episodes; seeds 0 1 2. The
# TD3+BC policies and the dataset are the pilot's (pilot.sh, same OUT_DIR and LEVEL), made first when missing.
# Results: <task>-transfer-o2sac.md beside this script (<task>-medium-replay-transfer-o2sac.md for that level).
# SOURCE=iql runs the IQL→O2SAC transfer instead: IQL pre-trained 100k gradient steps on the same dataset (the budget
# of medium-replay-iql-o2ppo.md) into OUT_DIR/iql-s<seed> when missing, then the same O2SAC and naive SAC runs from it
# (folders iql-o2sac-s<seed> and iql-naive-sac-s<seed>, reports iql-transfer-o2sac.md/json); the dataset must exist.
#
# Usage: ENV=Hopper-v2 bash benchmarks/results/ocr-cft/transfer-o2sac.sh [OUT_DIR]
#        (ENV Hopper-v2 | Walker2d-v2 | HalfCheetah-v2; LEVEL=medium | medium-replay; SEEDS="0 1 2" JOBS=2;
#        SOURCE=td3bc | iql, IQL_STEPS=100000; DATASET=FILE to reuse one;
#        STAGE_STEPS=10000 ONLINE_STEPS=20000 change the budget, e.g. STAGE_STEPS=200 ONLINE_STEPS=2000 for a smoke run)
set -euo pipefail
cd "$(dirname "$0")/../../.."
env_id=${ENV:-Hopper-v2}
task=$(echo "$env_id" | tr 'A-Z' 'a-z')
out=${1:-runs/pilot-${task%-v2}}
seeds=${SEEDS:-"0 1 2"}
jobs=${JOBS:-2}
level=${LEVEL:-medium}
case "$level" in medium|medium-replay) ;; *) echo "transfer-o2sac.sh: LEVEL must be medium or medium-replay, got '$level'" >&2; exit 2 ;; esac
dataset=${DATASET:-"$out/data/$task-$level.hdf5"}
stage_steps=${STAGE_STEPS:-10000}
online_steps=${ONLINE_STEPS:-20000}
source_algo=${SOURCE:-td3bc}
iql_steps=${IQL_STEPS:-100000}
case "$source_algo" in
  td3bc) source_label="TD3+BC"; checkpoint=td3_bc.safetensors; prefix="" ;;
  iql) source_label="IQL"; checkpoint=iql.safetensors; prefix="iql-"
       [ -f "$dataset" ] || { echo "transfer-o2sac.sh: SOURCE=iql needs the dataset, $dataset is missing (make it with pilot.sh or o2rl collect)" >&2; exit 2; } ;;
  *) echo "transfer-o2sac.sh: SOURCE must be td3bc or iql, got '$source_algo'" >&2; exit 2 ;;
esac
if [ "$source_algo" = td3bc ]; then
  for s in $seeds; do
    if [ ! -f "$out/td3bc-s$s/summary.json" ] || [ ! -f "$dataset" ]; then
      echo "the pilot's TD3+BC policies or dataset are missing: running pilot.sh first"
      ENV="$env_id" LEVEL="$level" SEEDS="$seeds" JOBS="$jobs" DATASET="$dataset" bash benchmarks/results/ocr-cft/pilot.sh "$out"
      break
    fi
  done
fi
dotnet build src/O2RL.Cli -c Release -nologo -v quiet
o2rl="dotnet src/O2RL.Cli/bin/Release/net10.0/o2rl.dll"
export O2RL_THREADS=1
mkdir -p "$out/logs"
source benchmarks/results/ocr-cft/evidence-common.sh
if [ "$source_algo" = iql ]; then
  # The IQL policies (a run finished before is skipped); each seed's fine-tuning runs wait for theirs.
  for s in $seeds; do
    emit "$out/iql-s$s" offline --algo iql --env "$env_id" --dataset "$dataset" --level "$level" --seed "$s" \
      --set max_steps="$iql_steps" --set evaluate_every=5000 --set evaluation_episodes=5
  done
fi
for s in $seeds; do
  source_done="$out/$source_algo-s$s/summary.json"
  common=(--env "$env_id" --dataset "$dataset" --level "$level" --seed "$s" --from "$out/$source_algo-s$s/$checkpoint"
          --set online_steps="$online_steps" --set eval_every=1000 --set eval_episodes=5)
  emit --after "$source_done" "$out/$source_algo-o2sac-s$s" finetune --variant o2sac "${common[@]}" --set reevaluation_steps="$stage_steps" \
    --set alignment_steps="$stage_steps" --set threshold_steps="$online_steps" --label "$source_label→O2SAC (transfer)"
  emit --after "$source_done" "$out/$source_algo-naive-sac-s$s" finetune --variant o2sac --mode naive "${common[@]}" --label "$source_label→SAC (naive)"
done
pool
runs=("$out/$source_algo"-o2sac-s* "$out/$source_algo"-naive-sac-s*)
$o2rl report "${runs[@]}" --finetune --out "$out/${prefix}transfer-o2sac.md"
$o2rl report "${runs[@]}" --finetune --json --out "$out/${prefix}transfer-o2sac.json"
$o2rl report "${runs[@]}" --per-seed --out "$out/${prefix}transfer-o2sac-per-seed.md"
$o2rl plot "${runs[@]}" --out "$out/curves-${prefix}transfer-o2sac.png" \
  --title "$env_id (our $level dataset): $source_label→O2SAC vs naive SAC"
cat "$out/${prefix}transfer-o2sac.md" "$out/${prefix}transfer-o2sac-per-seed.md"
