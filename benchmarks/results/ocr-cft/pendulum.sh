#!/usr/bin/env bash
# The OCR-CFT evidence on Pendulum-v1 (issue "OCR-CFT … evidence"): offline pre-training (CQL, IQL, TD3+BC) on the
# shipped medium dataset, then every variant from its paper starting point, the IQL→O2SAC and TD3+BC→O2SAC transfers,
# naive fine-tuning and online-from-scratch baselines, over several seeds; a table and curves at the end.
# Budgets are the shipped Pendulum-v1 configs (configs/<algo>/pendulum-v1/default.yaml): offline 3k–10k gradient steps,
# O2SAC stages A/B 3k each + 10k online steps (UTD 10), O2TD3 A 3k / B 2k + 15k online steps, O2PPO stage A 3k + 20,480.
#
# Usage: bash benchmarks/results/ocr-cft/pendulum.sh [OUT_DIR]      (SEEDS="0 1 2" JOBS=2 LEVEL=medium by default)
# Finished runs are reused, so a stopped sweep continues where it left off.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-runs/evidence-pendulum}
seeds=${SEEDS:-"0 1 2"}
jobs=${JOBS:-2}
level=${LEVEL:-medium}
dataset=src/O2RL.Algorithms/datasets/pendulum-v1/pendulum-v1-$level.hdf5
dotnet build src/O2RL.Cli -c Release -nologo -v quiet
o2rl="dotnet src/O2RL.Cli/bin/Release/net10.0/o2rl.dll"
# One thread per run and JOBS runs side by side use the cores better than one run on all of them.
export O2RL_THREADS=1
mkdir -p "$out/offline" "$out/finetune" "$out/logs"

source benchmarks/results/ocr-cft/evidence-common.sh

for s in $seeds; do
  for algo in cql iql td3bc; do
    emit "$out/offline/$algo-s$s" offline --algo "$algo" --env Pendulum-v1 --dataset "$dataset" --level "$level" --seed "$s"
  done
done

ckpt() { case $1 in cql) echo "$out/offline/cql-s$2/cql.safetensors";; iql) echo "$out/offline/iql-s$2/iql.safetensors";; td3bc) echo "$out/offline/td3bc-s$2/td3_bc.safetensors";; esac; }
# One queue: a fine-tuning run starts once the offline run it starts from has finished (done_of ALGO SEED names its summary.json); the runs
# from scratch need none and fill the cores meanwhile.
done_of() { echo "$out/offline/$1-s$2/summary.json"; }
for s in $seeds; do
  common=(--env Pendulum-v1 --dataset "$dataset" --level "$level" --seed "$s")
  emit --after "$(done_of cql $s)" "$out/finetune/cql-o2sac-s$s"     finetune --variant o2sac --from "$(ckpt cql $s)"   "${common[@]}" --label "CQL→O2SAC"
  emit --after "$(done_of td3bc $s)" "$out/finetune/td3bc-o2td3-s$s"   finetune --variant o2td3 --from "$(ckpt td3bc $s)" "${common[@]}" --label "TD3+BC→O2TD3"
  emit --after "$(done_of iql $s)" "$out/finetune/iql-o2ppo-s$s"     finetune --variant o2ppo --from "$(ckpt iql $s)"   "${common[@]}" --label "IQL→O2PPO"
  emit --after "$(done_of iql $s)" "$out/finetune/iql-o2sac-s$s"     finetune --variant o2sac --from "$(ckpt iql $s)"   "${common[@]}" --label "IQL→O2SAC (transfer)"
  emit --after "$(done_of td3bc $s)" "$out/finetune/td3bc-o2sac-s$s"   finetune --variant o2sac --from "$(ckpt td3bc $s)" "${common[@]}" --label "TD3+BC→O2SAC (transfer)"
  emit --after "$(done_of cql $s)" "$out/finetune/cql-naive-sac-s$s" finetune --variant o2sac --mode naive --from "$(ckpt cql $s)"   "${common[@]}" --label "CQL→SAC (naive)"
  emit --after "$(done_of td3bc $s)" "$out/finetune/td3bc-naive-td3-s$s" finetune --variant o2td3 --mode naive --from "$(ckpt td3bc $s)" "${common[@]}" --label "TD3+BC→TD3 (naive)"
  emit --after "$(done_of iql $s)" "$out/finetune/iql-naive-ppo-s$s" finetune --variant o2ppo --mode naive --from "$(ckpt iql $s)"   "${common[@]}" --label "IQL→PPO (naive)"
  emit "$out/finetune/scratch-sac-s$s"   finetune --variant o2sac --mode scratch "${common[@]}" --label "SAC (scratch)"
  emit "$out/finetune/scratch-td3-s$s"   finetune --variant o2td3 --mode scratch "${common[@]}" --label "TD3 (scratch)"
  emit "$out/finetune/scratch-ppo-s$s"   finetune --variant o2ppo --mode scratch "${common[@]}" --label "PPO (scratch)"
done
pool
finish "Pendulum-v1 ($level)"
