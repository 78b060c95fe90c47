# Shared by the evidence scripts of this folder (sourced after they set o2rl, out and jobs): a queue of o2rl runs
# executed JOBS at a time, and the reports and curves at the end. Each run's output goes to $out/logs/<folder>.log.

# emit FOLDER COMMAND ARGS...: queue one o2rl command (as a small script, arguments quoted) unless FOLDER already
# finished (summary.json). A FOLDER that was started but not finished (a stopped session, a crash) is continued with
# `o2rl COMMAND --resume FOLDER` from its last checkpoint instead of being started over. pool runs the queue JOBS at a
# time and reports failures with their log. ONLY=REGEX (bash =~ on the folder name, e.g. '^(iql|td3bc)-(o2sac-)?s[0-9]+$')
# queues only the matching runs: re-running a few rows after a change.
queue=$(mktemp -d)
# The queue folder goes with the script, also when it stops early (an error under set -e, Ctrl-C, a kill).
trap 'rm -rf "$queue"' EXIT
emit() {
  local folder=$1; shift
  [ -f "$folder/summary.json" ] && return 0
  local name; name=$(basename "$folder")
  if [ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]]; then return 0; fi
  mkdir -p "$out/logs"
  local log; log=$(printf '%q' "$out/logs/$name.log")
  { echo "cd $(printf '%q' "$PWD")"; printf '%s ' $o2rl
    if [ -f "$folder/run.json" ]; then
      printf '%q ' "$1" --resume "$folder" --quiet; echo ">> $log 2>&1 || echo \"failed: $name (see $out/logs/$name.log)\""
    else
      rm -rf "$folder"
      printf '%q ' "$@" --out "$folder" --quiet; echo "> $log 2>&1 || echo \"failed: $name (see $out/logs/$name.log)\""
    fi; } > "$queue/$name.sh"
}
pool() { find "$queue" -name '*.sh' -print0 | sort -z | xargs -0 -r -P "$jobs" -n 1 bash; rm -f "$queue"/*.sh; }

# finish TITLE: the offline and fine-tuning tables (Markdown and JSON) and one PNG per actor family, titled "TITLE: family".
finish() {
  local title=$1
  $o2rl report "$out/offline" --out "$out/offline.md"
  $o2rl report "$out/finetune" --finetune --out "$out/finetune.md"
  $o2rl report "$out/finetune" --finetune --json --out "$out/finetune.json"
  $o2rl report "$out/finetune" --per-seed --out "$out/finetune-per-seed.md"
  plot() { local name=$1; shift; local folders=(); for p in "$@"; do folders+=("$out"/finetune/$p-s*); done
    $o2rl plot "${folders[@]}" --out "$out/curves-$name.png" --title "$title: $name"; }
  plot sac-family cql-o2sac iql-o2sac td3bc-o2sac cql-naive-sac scratch-sac
  plot td3-family td3bc-o2td3 td3bc-naive-td3 scratch-td3
  plot ppo-family iql-o2ppo iql-naive-ppo scratch-ppo
  cat "$out/finetune.md"
}
