#!/usr/bin/env bash
# The TD3+BC→O2SAC transfer on a MuJoCo task at the pilot budget, against naive SAC from the same policies: O2SAC
# stages A/B 10k steps each, then 20k online steps (UTD 10, the paper's O2SAC setting; the threshold schedule over
# those 20k), naive fine-tuning (`--mode naive`: the converted TD3+BC actor and its critics, then plain SAC with the
# same target-entropy rule) for the same 20k steps; evaluations every 1,000 steps with 5 episodes; seeds 0 1 2. The
# TD3+BC policies and the dataset are the pilot's (pilot.sh, same OUT_DIR and LEVEL), made first when missing.
# Results: <task>-transfer-o2sac.md beside this script (<task>-medium-replay-transfer-o2sac.md for that level).
#
# Usage: ENV=Hopper-v2 bash benchmarks/results/ocr-cft/transfer-o2sac.sh [OUT_DIR]
#        (ENV Hopper-v2 | Walker2d-v2 | HalfCheetah-v2; LEVEL=medium | medium-replay; SEEDS="0 1 2" JOBS=2;
#        DATASET=FILE to reuse one;
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
for s in $seeds; do
  if [ ! -f "$out/td3bc-s$s/summary.json" ] || [ ! -f "$dataset" ]; then
    echo "the pilot's TD3+BC policies or dataset are missing: running pilot.sh first"
    ENV="$env_id" LEVEL="$level" SEEDS="$seeds" JOBS="$jobs" DATASET="$dataset" bash benchmarks/results/ocr-cft/pilot.sh "$out"
    break
  fi
done
dotnet build src/O2RL.Cli -c Release -nologo -v quiet
o2rl="dotnet src/O2RL.Cli/bin/Release/net10.0/o2rl.dll"
export O2RL_THREADS=1
mkdir -p "$out/logs"
source benchmarks/results/ocr-cft/evidence-common.sh
for s in $seeds; do
  common=(--env "$env_id" --dataset "$dataset" --level "$level" --seed "$s" --from "$out/td3bc-s$s/td3_bc.safetensors"
          --set online_steps="$online_steps" --set eval_every=1000 --set eval_episodes=5)
  emit "$out/td3bc-o2sac-s$s" finetune --variant o2sac "${common[@]}" --set reevaluation_steps="$stage_steps" \
    --set alignment_steps="$stage_steps" --set threshold_steps="$online_steps" --label "TD3+BC→O2SAC (transfer)"
  emit "$out/td3bc-naive-sac-s$s" finetune --variant o2sac --mode naive "${common[@]}" --label "TD3+BC→SAC (naive)"
done
pool
rm -rf "$queue"
$o2rl report "$out"/td3bc-o2sac-s* "$out"/td3bc-naive-sac-s* --finetune --out "$out/transfer-o2sac.md"
$o2rl report "$out"/td3bc-o2sac-s* "$out"/td3bc-naive-sac-s* --finetune --json --out "$out/transfer-o2sac.json"
$o2rl plot "$out"/td3bc-o2sac-s* "$out"/td3bc-naive-sac-s* --out "$out/curves-transfer-o2sac.png" \
  --title "$env_id (our $level dataset): TD3+BC→O2SAC vs naive SAC"
cat "$out/transfer-o2sac.md"
