#!/usr/bin/env bash
# Runs every test project and ends with one line "N passed, N failed, N skipped".
# First installs, when run as root with apt available, the system libraries some tests need (they skip with a
# stated reason where a library is absent): MuJoCo 2.2.2, PoCL (OpenCL on the CPU) and fonts for plots.
# Usage: bash tests/run-tests.sh [extra arguments for each test run, e.g. --filter-class ...]
set -uo pipefail
cd "$(dirname "$0")/.."

bash tests/install-test-deps.sh || echo "note: could not install optional test libraries; the tests that need them will skip"

configuration=${O2RL_TEST_CONFIGURATION:-Release}
dotnet build O2RL.Native.sln -c "$configuration" -nologo -v quiet || { echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0; skipped=0; status=0
for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  log=$(mktemp)
  echo "== $name"
  dotnet test --project "$project" -c "$configuration" --no-build "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # Microsoft.Testing.Platform prints "total: N / failed: N / succeeded: N / skipped: N" at the end of a run.
  p=$(grep -E '^\s*succeeded:' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  f=$(grep -E '^\s*failed:' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  s=$(grep -E '^\s*skipped:' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 8 ]; then
    status=1
    [ "${f:-0}" -eq 0 ] && failed=$((failed + 1))   # the run itself failed (crash, build), count it
  fi
  rm -f "$log"
done
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
