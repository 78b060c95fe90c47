#!/usr/bin/env bash
# O2SAC from its paper starting point on a MuJoCo task at a budget two cores can afford: CQL pre-trained on our own
# medium dataset, then CQL→O2SAC against naive SAC from the same CQL policies and against SAC from scratch, seeds
# 0 1 2; optionally the IQL→O2SAC transfer from IQL policies made earlier (IQL_DIR). The budget:
#   CQL      10k gradient steps (the paper's networks and its 10 sampled actions per set: about 0.22 s per step on
#            one core of the 2-core development VM for Hopper, 36 min per seed, and up to 55 min for HalfCheetah;
#            the paper runs 1M)
#   O2SAC    stages A and B 5k steps each (the paper: 500k each), then 10k online steps at UTD 10 (the paper's O2SAC
#            setting; the threshold schedule over those 10k)
#   naive    the CQL actor and critics, then plain SAC for the same 10k online steps at UTD 10
#   scratch  plain SAC from random networks for the same 10k online steps at UTD 10
#   evaluations every 1,000 online steps with 5 episodes.
# Results: o2sac.md / o2sac.json / o2sac-per-seed.md / curves-o2sac.png in OUT_DIR.
#
# Usage: ENV=Hopper-v2 DATASET=FILE bash benchmarks/results/ocr-cft/o2sac-pilot.sh [OUT_DIR]
#        (ENV Hopper-v2 | Walker2d-v2 | HalfCheetah-v2; LEVEL=medium; SEEDS="0 1 2" JOBS=2;
#        IQL_DIR=DIR holding iql-s<seed>/iql.safetensors adds the IQL→O2SAC transfer rows;
#        CQL_STEPS, STAGE_STEPS, ONLINE_STEPS change the budget, e.g. 300 200 1500 for a smoke run)
# Finished runs are skipped and stopped ones continue from their checkpoints (evidence-common.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."
env_id=${ENV:-Hopper-v2}
task=$(echo "$env_id" | tr 'A-Z' 'a-z')
out=${1:-runs/o2sac-pilot-${task%-v2}}
seeds=${SEEDS:-"0 1 2"}
jobs=${JOBS:-2}
level=${LEVEL:-medium}
dataset=${DATASET:-"$out/data/$task-$level.hdf5"}
cql_steps=${CQL_STEPS:-10000}
stage_steps=${STAGE_STEPS:-5000}
online_steps=${ONLINE_STEPS:-10000}
if [ ! -f "$dataset" ]; then
  echo "o2sac-pilot.sh: no dataset at $dataset; make one with pilot.sh (o2rl collect) or pass DATASET=FILE" >&2
  exit 2
fi
dotnet build src/O2RL.Cli -c Release -nologo -v quiet
o2rl="dotnet src/O2RL.Cli/bin/Release/net10.0/o2rl.dll"
export O2RL_THREADS=1
mkdir -p "$out/logs"
source benchmarks/results/ocr-cft/evidence-common.sh
for s in $seeds; do
  emit "$out/cql-s$s" offline --algo cql --env "$env_id" --dataset "$dataset" --level "$level" --seed "$s" \
    --set steps="$cql_steps" --set eval_every=$(( (cql_steps + 3) / 4 )) --set eval_episodes=5
done
# What every fine-tuning run of one seed shares: the task (task_of SEED sets it), the online budget with its
# evaluations, and for O2SAC the budgets of stages A and B and of the threshold schedule.
task_of() { task=(--env "$env_id" --dataset "$dataset" --level "$level" --seed "$1"); }
budget=(--set online_steps="$online_steps" --set eval_every=1000 --set eval_episodes=5)
stages=(--set reevaluation_steps="$stage_steps" --set alignment_steps="$stage_steps" --set threshold_steps="$online_steps")
# One queue: each fine-tuning run starts once its seed's CQL run has finished, and SAC from scratch (and the IQL
# transfer, whose IQL policies exist already) fills a core that would otherwise wait for the third CQL run.
for s in $seeds; do
  task_of "$s"
  common=("${task[@]}" --from "$out/cql-s$s/cql.safetensors" "${budget[@]}")
  emit --after "$out/cql-s$s/summary.json" "$out/cql-o2sac-s$s" finetune --variant o2sac "${common[@]}" "${stages[@]}" --label "CQL→O2SAC"
  emit --after "$out/cql-s$s/summary.json" "$out/cql-naive-sac-s$s" finetune --variant o2sac --mode naive "${common[@]}" --label "CQL→SAC (naive)"
  emit "$out/scratch-sac-s$s" finetune --variant o2sac --mode scratch "${task[@]}" "${budget[@]}" --label "SAC (scratch)"
  if [ -n "${IQL_DIR:-}" ]; then
    emit "$out/iql-o2sac-s$s" finetune --variant o2sac "${task[@]}" --from "$IQL_DIR/iql-s$s/iql.safetensors" \
      "${budget[@]}" "${stages[@]}" --label "IQL→O2SAC (transfer)"
  fi
done
pool
$o2rl report "$out"/cql-s* --out "$out/offline.md"
runs=("$out"/cql-o2sac-s* "$out"/cql-naive-sac-s* "$out"/scratch-sac-s*)
[ -n "${IQL_DIR:-}" ] && runs+=("$out"/iql-o2sac-s*)
$o2rl report "${runs[@]}" --finetune --out "$out/o2sac.md"
$o2rl report "${runs[@]}" --finetune --json --out "$out/o2sac.json"
$o2rl report "${runs[@]}" --per-seed --out "$out/o2sac-per-seed.md"
$o2rl plot "${runs[@]}" --out "$out/curves-o2sac.png" --title "$env_id (our $level dataset): O2SAC vs naive SAC and SAC from scratch, small budget"
cat "$out/o2sac.md"
