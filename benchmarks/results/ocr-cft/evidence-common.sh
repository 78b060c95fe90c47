# Shared by the evidence scripts of this folder (sourced after they set o2rl, out and jobs): a queue of o2rl runs
# executed JOBS at a time, and the reports and curves at the end. Each run's output goes to $out/logs/<folder>.log.

# emit [--after FILE]... FOLDER COMMAND ARGS...: queue one o2rl command (as a small script, arguments quoted) unless
# FOLDER already finished (summary.json). A FOLDER that was started but not finished (a stopped session, a crash) is
# continued with `o2rl COMMAND --resume FOLDER` from its last checkpoint instead of being started over. --after FILE
# holds the run back until FILE exists (e.g. the summary.json of the offline run whose policy it fine-tunes), so a
# script can queue everything at once and a core never waits for a stage to finish on every seed. ONLY=REGEX (bash =~
# on the folder name, e.g. '^(iql|td3bc)-(o2sac-)?s[0-9]+$') queues only the matching runs: re-running a few rows after
# a change.
queue=$(mktemp -d)
queued=0
# The queue folder goes with the script, also when it stops early (an error under set -e, Ctrl-C, a kill).
trap 'rm -rf "$queue"' EXIT
emit() {
  local after=()
  while [ "$1" = --after ]; do after+=("$2"); shift 2; done
  local folder=$1; shift
  [ -f "$folder/summary.json" ] && return 0
  local name; name=$(basename "$folder")
  if [ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]]; then return 0; fi
  mkdir -p "$out/logs"
  local log; log=$(printf '%q' "$out/logs/$name.log")
  # Numbered in the order queued: the pool starts runs in that order as their inputs appear.
  queued=$((queued + 1))
  local job; job="$queue/$(printf '%05d' "$queued")-$name"
  { echo "cd $(printf '%q' "$PWD")"; printf '%s ' $o2rl
    if [ -f "$folder/run.json" ]; then
      printf '%q ' "$1" --resume "$folder" --quiet; echo ">> $log 2>&1 || echo \"failed: $name (see $out/logs/$name.log)\""
    else
      rm -rf "$folder"
      printf '%q ' "$@" --out "$folder" --quiet; echo "> $log 2>&1 || echo \"failed: $name (see $out/logs/$name.log)\""
    fi; } > "$job.sh"
  if [ ${#after[@]} -gt 0 ]; then printf '%s\n' "${after[@]}" > "$job.after"; fi
}
# pool: runs the queue JOBS at a time, each run as soon as a worker is free and its --after files exist, in the order
# queued; reports failures with their log, and names the runs whose inputs never appeared (their producer failed).
pool() {
  mkdir -p "$queue/running"
  local worker
  for ((worker = 0; worker < jobs; worker++)); do pool_worker & done
  wait
  local job
  for job in "$queue"/*.sh; do
    [ -e "$job" ] || continue
    echo "not run: $(basename "${job%.sh}" | cut -d- -f2-) (waits for $(paste -sd ' ' "${job%.sh}.after"), which no run made)"
    rm -f "$job" "${job%.sh}.after"
  done
}
pool_worker() {
  local job ready input idle=""
  while true; do
    local ran=""
    for job in "$queue"/*.sh; do
      [ -e "$job" ] || continue
      ready=1
      if [ -f "${job%.sh}.after" ]; then
        while IFS= read -r input; do [ -e "$input" ] || { ready=""; break; }; done < "${job%.sh}.after"
      fi
      [ -n "$ready" ] || continue
      # A rename is atomic: of two workers that pick the same run, one moves it and the other moves on.
      mv "$job" "$queue/running/" 2>/dev/null || continue
      bash "$queue/running/$(basename "$job")"
      rm -f "$queue/running/$(basename "$job")" "${job%.sh}.after"
      ran=1; break
    done
    if [ -n "$ran" ]; then idle=""; continue; fi
    compgen -G "$queue/*.sh" > /dev/null || return 0
    # Nothing is ready: wait while a run that may make a missing input is going. With none going, scan once more
    # (a run may have finished between the scan and this check), then leave the rest to pool's report.
    if compgen -G "$queue/running/*.sh" > /dev/null; then idle=""; sleep 1; continue; fi
    [ -n "$idle" ] && return 0
    idle=1
  done
}

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
