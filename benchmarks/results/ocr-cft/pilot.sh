#!/usr/bin/env bash
# The MuJoCo pilot of the OCR-CFT evidence: TD3+BC pre-trained on our own medium dataset of a task (D4RL's recipe,
# o2rl collect), then TD3+BC→O2TD3 against naive TD3 fine-tuning from the same policy, seeds 0 1 2, at a budget two
# cores can afford: TD3+BC 30k gradient steps; O2TD3 stages A/B 10k each and 20k online steps (UTD 1, the paper's
# O2TD3 setting), the threshold ε going from 0.0025 to 0.04 over those 20k; naive TD3 the same 20k online steps;
# evaluations every 1,000 steps with 5 episodes. Results: <task>-medium-pilot.md beside this script.
#
# Usage: ENV=Hopper-v2 bash benchmarks/results/ocr-cft/pilot.sh [OUT_DIR]
#        (ENV Hopper-v2 | Walker2d-v2 | HalfCheetah-v2; SEEDS="0 1 2" JOBS=2; DATASET=FILE to reuse one)
set -euo pipefail
cd "$(dirname "$0")/../../.."
env_id=${ENV:-Hopper-v2}
task=$(echo "$env_id" | tr 'A-Z' 'a-z')
out=${1:-runs/pilot-${task%-v2}}
seeds=${SEEDS:-"0 1 2"}
jobs=${JOBS:-2}
dotnet build src/O2RL.Cli -c Release -nologo -v quiet
o2rl="dotnet src/O2RL.Cli/bin/Release/net10.0/o2rl.dll"
export O2RL_THREADS=1
mkdir -p "$out"
dataset=${DATASET:-"$out/data/$task-medium.hdf5"}
if [ ! -f "$dataset" ]; then
  echo "making $dataset with o2rl collect (Hopper: about 40 min on one shared core; resumable with collect --resume)"
  if [ -f "$out/data/collect.json" ]; then
    $o2rl collect --resume "$out/data" --quiet >> "$out/collect.log" 2>&1
  else
    $o2rl collect --env "$env_id" --out "$out/data" --levels medium --seed 0 --quiet > "$out/collect.log" 2>&1
  fi
fi
fine_tune=(--set reevaluation_steps=10000 --set alignment_steps=10000 --set online_steps=20000 --set threshold_steps=20000
           --set evaluate_every=1000 --set evaluation_episodes=5)
one_seed() {
  local s=$1
  local common=(--env "$env_id" --dataset "$dataset" --level medium --seed "$s" --quiet)
  [ -f "$out/td3bc-s$s/summary.json" ] || $o2rl offline --algo td3bc "${common[@]}" --set max_steps=30000 --set evaluate_every=5000 \
      --set evaluation_episodes=5 --out "$out/td3bc-s$s" > "$out/td3bc-s$s.log" 2>&1
  [ -f "$out/td3bc-o2td3-s$s/summary.json" ] || $o2rl finetune --variant o2td3 --from "$out/td3bc-s$s/td3_bc.safetensors" "${common[@]}" \
      "${fine_tune[@]}" --label "TD3+BC→O2TD3" --out "$out/td3bc-o2td3-s$s" > "$out/o2td3-s$s.log" 2>&1
  [ -f "$out/td3bc-naive-td3-s$s/summary.json" ] || $o2rl finetune --variant o2td3 --mode naive --from "$out/td3bc-s$s/td3_bc.safetensors" \
      "${common[@]}" "${fine_tune[@]}" --label "TD3+BC→TD3 (naive)" --out "$out/td3bc-naive-td3-s$s" > "$out/naive-s$s.log" 2>&1
}
running=0
for s in $seeds; do
  one_seed "$s" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
$o2rl report "$out"/td3bc-s* --out "$out/offline.md"
$o2rl report "$out"/td3bc-o2td3-s* "$out"/td3bc-naive-td3-s* --finetune --out "$out/finetune.md"
$o2rl report "$out"/td3bc-o2td3-s* "$out"/td3bc-naive-td3-s* --finetune --json --out "$out/finetune.json"
$o2rl plot "$out"/td3bc-o2td3-s* "$out"/td3bc-naive-td3-s* --out "$out/curves.png" --title "$env_id (our medium dataset), pilot budget"
cat "$out/finetune.md"
