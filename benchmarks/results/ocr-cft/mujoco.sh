#!/usr/bin/env bash
# The OCR-CFT evidence on a MuJoCo task (Hopper-v2, Walker2d-v2, HalfCheetah-v2) with our own D4RL-recipe datasets:
# the dataset (o2rl collect, SAC stopped at the medium snapshot), offline pre-training (CQL, IQL, TD3+BC), every
# variant from its paper starting point, the IQL→O2SAC and TD3+BC→O2SAC transfers, naive fine-tuning and
# online-from-scratch baselines, over several seeds; a table and curves at the end. Same protocol as pendulum.sh.
#
# Usage: bash benchmarks/results/ocr-cft/mujoco.sh [ENV] [OUT_DIR]
#   ENV      Hopper-v2 (default), Walker2d-v2 or HalfCheetah-v2
#   LEVEL    medium (default) or medium-replay
#   SEEDS    "0 1 2" by default;  JOBS: runs side by side (default 2, one thread each)
#   DATASET  an existing D4RL-layout file to use instead of making one (e.g. D4RL's own hopper-medium-v2.hdf5)
#   BUDGET   paper  — the per-task configs as shipped (ALGORITHMS.md §7: 1M offline steps, O2SAC stages A/B 500k
#                     each + 100k online steps at UTD 10; weeks on two cores)
#            reduced (default) — offline 100k steps; O2SAC/O2TD3 stages A/B 25k each + 25k online steps (O2SAC at
#                     UTD 10 as in the paper); O2PPO value pre-training 25k + 100k online steps; threshold and
#                     auxiliary schedules shortened in proportion; evaluations every 2,500 steps (5 episodes)
#            smoke  — a few hundred steps of everything: checks the pipeline end to end, no evidence
# Finished runs (summary.json) are reused, so a stopped sweep continues where it left off.
set -euo pipefail
cd "$(dirname "$0")/../../.."
env=${1:-Hopper-v2}
out=${2:-runs/evidence-$(echo "$env" | tr '[:upper:]' '[:lower:]')}
seeds=${SEEDS:-"0 1 2"}
jobs=${JOBS:-2}
level=${LEVEL:-medium}
budget=${BUDGET:-reduced}
case $env in Hopper-v2|Walker2d-v2|HalfCheetah-v2) ;; *) echo "mujoco.sh: ENV must be Hopper-v2, Walker2d-v2 or HalfCheetah-v2, got '$env'" >&2; exit 2;; esac
case $level in medium|medium-replay) ;; *) echo "mujoco.sh: LEVEL must be medium or medium-replay, got '$level'" >&2; exit 2;; esac
dotnet build src/O2RL.Cli -c Release -nologo -v quiet
o2rl="dotnet src/O2RL.Cli/bin/Release/net10.0/o2rl.dll"
export O2RL_THREADS=1
mkdir -p "$out/offline" "$out/finetune" "$out/logs"

# The datasets: D4RL's recipe on our environment; SAC stops at the medium snapshot (medium-replay is its buffer).
data="$out/data"
dataset=${DATASET:-"$data/$(echo "$env" | tr '[:upper:]' '[:lower:]')-$level.hdf5"}
if [ ! -f "$dataset" ]; then
  echo "making $dataset (o2rl collect; takes a while, its log is $out/logs/collect.log)"
  if [ -f "$data/collect.json" ]; then
    /usr/bin/env time -p $o2rl collect --resume "$data" >> "$out/logs/collect.log" 2>&1
  else
    /usr/bin/env time -p $o2rl collect --env "$env" --out "$data" --levels medium,medium-replay --seed 0 > "$out/logs/collect.log" 2>&1
  fi
  tail -n 4 "$out/logs/collect.log"
fi

case $budget in
  paper) cql=(); iql=(); td3bc=(); o2sac=(); o2td3=(); o2ppo=() ;;
  reduced)
    ev=(--set eval_every=2500 --set eval_episodes=5)
    cql=(--set steps=100000 --set eval_every=5000 --set eval_episodes=5)
    iql=(--set max_steps=100000 --set evaluate_every=5000 --set evaluation_episodes=5); td3bc=("${iql[@]}")
    o2sac=(--set reevaluation_steps=25000 --set alignment_steps=25000 --set online_steps=25000 --set threshold_steps=25000 "${ev[@]}")
    o2td3=(--set reevaluation_steps=25000 --set alignment_steps=25000 --set online_steps=25000 --set threshold_steps=25000 --set evaluate_every=2500 --set evaluation_episodes=5)
    o2ppo=(--set value_pretrain_steps=25000 --set total_steps=100000 --set aux_decay_steps=100000 --set evaluate_every=2500 --set evaluation_episodes=5) ;;
  smoke)
    cql=(--set steps=300 --set eval_every=300 --set eval_episodes=1)
    iql=(--set max_steps=300 --set evaluate_every=300 --set evaluation_episodes=1); td3bc=("${iql[@]}")
    o2sac=(--set reevaluation_steps=200 --set alignment_steps=200 --set online_steps=1000 --set warmup_steps=300 --set threshold_steps=1000 --set eval_every=500 --set eval_episodes=1)
    o2td3=(--set reevaluation_steps=200 --set alignment_steps=200 --set online_steps=1000 --set warmup_steps=300 --set threshold_steps=1000 --set evaluate_every=500 --set evaluation_episodes=1)
    o2ppo=(--set value_pretrain_steps=200 --set total_steps=4096 --set aux_decay_steps=4096 --set evaluate_every=2048 --set evaluation_episodes=1) ;;
  *) echo "mujoco.sh: BUDGET must be paper, reduced or smoke, got '$budget'" >&2; exit 2 ;;
esac

source benchmarks/results/ocr-cft/evidence-common.sh

for s in $seeds; do
  emit "$out/offline/cql-s$s"   offline --algo cql   --env "$env" --dataset "$dataset" --level "$level" --seed "$s" "${cql[@]}"
  emit "$out/offline/iql-s$s"   offline --algo iql   --env "$env" --dataset "$dataset" --level "$level" --seed "$s" "${iql[@]}"
  emit "$out/offline/td3bc-s$s" offline --algo td3bc --env "$env" --dataset "$dataset" --level "$level" --seed "$s" "${td3bc[@]}"
done

ckpt() { case $1 in cql) echo "$out/offline/cql-s$2/cql.safetensors";; iql) echo "$out/offline/iql-s$2/iql.safetensors";; td3bc) echo "$out/offline/td3bc-s$2/td3_bc.safetensors";; esac; }
# One queue: a fine-tuning run starts once the offline run it starts from has finished (done_of ALGO SEED names its summary.json); the runs
# from scratch need none and fill the cores meanwhile.
done_of() { echo "$out/offline/$1-s$2/summary.json"; }
for s in $seeds; do
  common=(--env "$env" --dataset "$dataset" --level "$level" --seed "$s")
  emit --after "$(done_of cql $s)" "$out/finetune/cql-o2sac-s$s"       finetune --variant o2sac --from "$(ckpt cql $s)"   "${common[@]}" "${o2sac[@]}" --label "CQL→O2SAC"
  emit --after "$(done_of td3bc $s)" "$out/finetune/td3bc-o2td3-s$s"     finetune --variant o2td3 --from "$(ckpt td3bc $s)" "${common[@]}" "${o2td3[@]}" --label "TD3+BC→O2TD3"
  emit --after "$(done_of iql $s)" "$out/finetune/iql-o2ppo-s$s"       finetune --variant o2ppo --from "$(ckpt iql $s)"   "${common[@]}" "${o2ppo[@]}" --label "IQL→O2PPO"
  emit --after "$(done_of iql $s)" "$out/finetune/iql-o2sac-s$s"       finetune --variant o2sac --from "$(ckpt iql $s)"   "${common[@]}" "${o2sac[@]}" --label "IQL→O2SAC (transfer)"
  emit --after "$(done_of td3bc $s)" "$out/finetune/td3bc-o2sac-s$s"     finetune --variant o2sac --from "$(ckpt td3bc $s)" "${common[@]}" "${o2sac[@]}" --label "TD3+BC→O2SAC (transfer)"
  emit --after "$(done_of cql $s)" "$out/finetune/cql-naive-sac-s$s"   finetune --variant o2sac --mode naive --from "$(ckpt cql $s)"   "${common[@]}" "${o2sac[@]}" --label "CQL→SAC (naive)"
  emit --after "$(done_of td3bc $s)" "$out/finetune/td3bc-naive-td3-s$s" finetune --variant o2td3 --mode naive --from "$(ckpt td3bc $s)" "${common[@]}" "${o2td3[@]}" --label "TD3+BC→TD3 (naive)"
  emit --after "$(done_of iql $s)" "$out/finetune/iql-naive-ppo-s$s"   finetune --variant o2ppo --mode naive --from "$(ckpt iql $s)"   "${common[@]}" "${o2ppo[@]}" --label "IQL→PPO (naive)"
  emit "$out/finetune/scratch-sac-s$s"     finetune --variant o2sac --mode scratch "${common[@]}" "${o2sac[@]}" --label "SAC (scratch)"
  emit "$out/finetune/scratch-td3-s$s"     finetune --variant o2td3 --mode scratch "${common[@]}" "${o2td3[@]}" --label "TD3 (scratch)"
  emit "$out/finetune/scratch-ppo-s$s"     finetune --variant o2ppo --mode scratch "${common[@]}" "${o2ppo[@]}" --label "PPO (scratch)"
done
pool
finish "$env ($level, $budget budget)"
