#!/usr/bin/env bash
# The MuJoCo pilot of the OCR-CFT evidence: TD3+BC pre-trained on our own medium dataset of a task (D4RL's recipe,
# o2rl collect), then TD3+BC→O2TD3 against naive TD3 fine-tuning from the same policy, seeds 0 1 2, at a budget two
# cores can afford: TD3+BC 30k gradient steps; O2TD3 stages A/B 10k each and 20k online steps (UTD 1, the paper's
# O2TD3 setting), the threshold ε going from 0.0025 to 0.04 over those 20k; naive TD3 (the TD3+BC actor and critics,
# then plain TD3) and TD3 from scratch (random networks) the same 20k online steps; evaluations every 1,000 steps with
# 5 episodes. Results: <task>-medium-pilot.md beside this script.
#
# Usage: ENV=Hopper-v2 bash benchmarks/results/ocr-cft/pilot.sh [OUT_DIR]
#        (ENV Hopper-v2 | Walker2d-v2 | HalfCheetah-v2; LEVEL=medium | medium-replay; SEEDS="0 1 2" JOBS=2;
#        DATASET=FILE to reuse one)
set -euo pipefail
cd "$(dirname "$0")/../../.."
env_id=${ENV:-Hopper-v2}
task=$(echo "$env_id" | tr 'A-Z' 'a-z')
out=${1:-runs/pilot-${task%-v2}}
seeds=${SEEDS:-"0 1 2"}
jobs=${JOBS:-2}
level=${LEVEL:-medium}
case "$level" in medium|medium-replay) ;; *) echo "pilot.sh: LEVEL must be medium or medium-replay, got '$level'" >&2; exit 2 ;; esac
dotnet build src/O2RL.Cli -c Release -nologo -v quiet
o2rl="dotnet src/O2RL.Cli/bin/Release/net10.0/o2rl.dll"
export O2RL_THREADS=1
mkdir -p "$out"
dataset=${DATASET:-"$out/data/$task-$level.hdf5"}
if [ ! -f "$dataset" ]; then
  echo "making $dataset with o2rl collect (Hopper: about 40 min on one shared core; resumable with collect --resume)"
  if [ -f "$out/data/collect.json" ]; then
    $o2rl collect --resume "$out/data" --quiet >> "$out/collect.log" 2>&1
  else
    $o2rl collect --env "$env_id" --out "$out/data" --levels medium,medium-replay --seed 0 --quiet > "$out/collect.log" 2>&1
  fi
fi
fine_tune=(--set reevaluation_steps=10000 --set alignment_steps=10000 --set online_steps=20000 --set threshold_steps=20000
           --set evaluate_every=1000 --set evaluation_episodes=5)
mkdir -p "$out/logs"
# Runs finished before are skipped and runs stopped midway continue from their checkpoints (evidence-common.sh).
source benchmarks/results/ocr-cft/evidence-common.sh
for s in $seeds; do
  emit "$out/td3bc-s$s" offline --algo td3bc --env "$env_id" --dataset "$dataset" --level "$level" --seed "$s" \
    --set max_steps=30000 --set evaluate_every=5000 --set evaluation_episodes=5
done
# One queue: each seed's fine-tuning starts once its TD3+BC run has finished; TD3 from scratch needs none.
for s in $seeds; do
  task_args=(--env "$env_id" --dataset "$dataset" --level "$level" --seed "$s" "${fine_tune[@]}")
  common=("${task_args[@]}" --from "$out/td3bc-s$s/td3_bc.safetensors")
  emit --after "$out/td3bc-s$s/summary.json" "$out/td3bc-o2td3-s$s" finetune --variant o2td3 "${common[@]}" --label "TD3+BC→O2TD3"
  emit --after "$out/td3bc-s$s/summary.json" "$out/td3bc-naive-td3-s$s" finetune --variant o2td3 --mode naive "${common[@]}" --label "TD3+BC→TD3 (naive)"
  emit "$out/scratch-td3-s$s" finetune --variant o2td3 --mode scratch "${task_args[@]}" --label "TD3 (scratch)"
done
pool
$o2rl report "$out"/td3bc-s* --out "$out/offline.md"
runs=("$out"/td3bc-o2td3-s* "$out"/td3bc-naive-td3-s*)
# Folders made before pilot.sh ran TD3 from scratch (or with ONLY leaving it out) have no scratch runs to report.
compgen -G "$out/scratch-td3-s*/summary.json" > /dev/null && runs+=("$out"/scratch-td3-s*)
$o2rl report "${runs[@]}" --finetune --out "$out/finetune.md"
$o2rl report "${runs[@]}" --finetune --json --out "$out/finetune.json"
$o2rl report "${runs[@]}" --per-seed --out "$out/finetune-per-seed.md"
$o2rl plot "${runs[@]}" --out "$out/curves.png" --title "$env_id (our $level dataset), pilot budget"
cat "$out/finetune.md"
