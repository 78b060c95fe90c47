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

# emit FOLDER ARGS...: queue one o2rl command (as a small script, arguments quoted) unless FOLDER already finished
# (summary.json); pool runs the queue JOBS at a time and reports failures with their log.
queue=$(mktemp -d)
emit() {
  local folder=$1; shift
  [ -f "$folder/summary.json" ] && return 0
  rm -rf "$folder"
  local name; name=$(basename "$folder")
  { echo "cd $(printf '%q' "$PWD")"; printf '%s ' $o2rl; printf '%q ' "$@" --out "$folder" --quiet
    echo "> $(printf '%q' "$out/logs/$name.log") 2>&1 || echo \"failed: $name (see $out/logs/$name.log)\""; } > "$queue/$name.sh"
}
pool() { find "$queue" -name '*.sh' -print0 | sort -z | xargs -0 -r -P "$jobs" -n 1 bash; rm -f "$queue"/*.sh; }

for s in $seeds; do
  for algo in cql iql td3bc; do
    emit "$out/offline/$algo-s$s" offline --algo "$algo" --env Pendulum-v1 --dataset "$dataset" --level "$level" --seed "$s"
  done
done
pool

ckpt() { case $1 in cql) echo "$out/offline/cql-s$2/cql.safetensors";; iql) echo "$out/offline/iql-s$2/iql.safetensors";; td3bc) echo "$out/offline/td3bc-s$2/td3_bc.safetensors";; esac; }
for s in $seeds; do
  common=(--env Pendulum-v1 --dataset "$dataset" --level "$level" --seed "$s")
  emit "$out/finetune/cql-o2sac-s$s"     finetune --variant o2sac --from "$(ckpt cql $s)"   "${common[@]}" --label "CQL→O2SAC"
  emit "$out/finetune/td3bc-o2td3-s$s"   finetune --variant o2td3 --from "$(ckpt td3bc $s)" "${common[@]}" --label "TD3+BC→O2TD3"
  emit "$out/finetune/iql-o2ppo-s$s"     finetune --variant o2ppo --from "$(ckpt iql $s)"   "${common[@]}" --label "IQL→O2PPO"
  emit "$out/finetune/iql-o2sac-s$s"     finetune --variant o2sac --from "$(ckpt iql $s)"   "${common[@]}" --label "IQL→O2SAC (transfer)"
  emit "$out/finetune/td3bc-o2sac-s$s"   finetune --variant o2sac --from "$(ckpt td3bc $s)" "${common[@]}" --label "TD3+BC→O2SAC (transfer)"
  emit "$out/finetune/cql-naive-sac-s$s" finetune --variant o2sac --mode naive --from "$(ckpt cql $s)"   "${common[@]}" --label "CQL→SAC (naive)"
  emit "$out/finetune/td3bc-naive-td3-s$s" finetune --variant o2td3 --mode naive --from "$(ckpt td3bc $s)" "${common[@]}" --label "TD3+BC→TD3 (naive)"
  emit "$out/finetune/iql-naive-ppo-s$s" finetune --variant o2ppo --mode naive --from "$(ckpt iql $s)"   "${common[@]}" --label "IQL→PPO (naive)"
  emit "$out/finetune/scratch-sac-s$s"   finetune --variant o2sac --mode scratch "${common[@]}" --label "SAC (scratch)"
  emit "$out/finetune/scratch-td3-s$s"   finetune --variant o2td3 --mode scratch "${common[@]}" --label "TD3 (scratch)"
  emit "$out/finetune/scratch-ppo-s$s"   finetune --variant o2ppo --mode scratch "${common[@]}" --label "PPO (scratch)"
done
pool
rm -rf "$queue"

$o2rl report "$out/offline" --out "$out/offline.md"
$o2rl report "$out/finetune" --finetune --out "$out/finetune.md"
$o2rl report "$out/finetune" --finetune --json --out "$out/finetune.json"
plot() { local name=$1; shift; local folders=(); for p in "$@"; do folders+=("$out"/finetune/$p-s*); done
  $o2rl plot "${folders[@]}" --out "$out/curves-$name.png" --title "Pendulum-v1 ($level): $name"; }
plot sac-family cql-o2sac iql-o2sac td3bc-o2sac cql-naive-sac scratch-sac
plot td3-family td3bc-o2td3 td3bc-naive-td3 scratch-td3
plot ppo-family iql-o2ppo iql-naive-ppo scratch-ppo
cat "$out/finetune.md"
