#!/usr/bin/env bash
# The GPU checks in one go, for a machine with an NVIDIA GPU and PyTorch but no .NET SDK:
#   1. the devices found and `o2rl doctor` (every kernel against its reference on every device),
#   2. the CUDA (and, where present, OpenCL) conformance suite of the ILGPU backend,
#   3. `o2rl bench --device cuda --ocr-cft`, then the PyTorch anchor (eager, whole-update CUDA graph,
#      torch.compile + CUDA graph, torch.compile reduce-overhead), then `o2rl bench --device cuda` again,
#      so each side is measured between runs of the other, then ours with other settings (backward pairs as
#      two launches; Adam+Polyak, sample+draw and the noisy action as their parts; the setting before pass 10) and with each GEMM kernel forced,
#   4. where Nsight Compute is installed, the time of each kernel of one SAC update, and one GEMM in detail,
#   5. the quick demo (CQL → O2SAC and naive SAC on Pendulum) on CUDA,
# and prints the side-by-side table last.
#
# Prepare on a machine with the SDK (packs our build and the .NET runtime into .device/):
#   bash benchmarks/gpu/pack.sh
# then copy the repository with .device/ to the GPU machine and run there, from the repository root:
#   bash benchmarks/gpu/device-checks.sh RESULTS_DIR
# DEVICE_CHECKS_QUICK=1 leaves out the demo, the forced-kernel runs and the Nsight Compute profiles;
# ANCHOR_MODES=eager,graph,compile leaves out PyTorch's slowest mode to compile (reduce-overhead).
# Each step has its own time limit, cut to what is left of DEVICE_CHECKS_SECONDS (default 520) for the whole
# script, so one that hangs costs only its own numbers and the table is always printed.
set -uo pipefail
cd "$(dirname "$0")/../.."
results=${1:?usage: device-checks.sh RESULTS_DIR}
mkdir -p "$results"
[ -x .device/run ] || { echo "device-checks: .device/run is missing; pack the build first (see the header)" >&2; exit 2; }
step() { echo; echo "== $(date -u +%H:%M:%S) $*"; }
deadline=$((SECONDS + ${DEVICE_CHECKS_SECONDS:-520}))
# limit N: N seconds, or what is left before the deadline (at least 1)
limit() { local left=$((deadline - SECONDS)); [ "$left" -lt "$1" ] && echo $((left > 1 ? left : 1)) || echo "$1"; }

step "machine"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nproc; uname -r
  echo "driver libraries:"; ldconfig -p | grep -E "libcuda\.so|libOpenCL\.so" || echo "  (none in the loader cache)"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee "$results/machine.txt"

step "doctor"
timeout $(limit 180) .device/run cli doctor 2>&1 | tee "$results/doctor.txt"
if ! grep -qE '^\s+cuda\s' "$results/doctor.txt"; then
  # Diagnosis aid: if only the driver's versioned library is there and our fallback did not pick it up, say so
  # and carry on through an unversioned link, so the remaining checks still say something.
  lib=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
  if [ -n "$lib" ]; then
    echo "CUDA was not found although the loader knows $lib; going on with a libcuda.so link to it" | tee -a "$results/doctor.txt"
    mkdir -p "$results/lib" && ln -sf "$lib" "$results/lib/libcuda.so"
    export LD_LIBRARY_PATH=$(cd "$results/lib" && pwd):${LD_LIBRARY_PATH:-}
  fi
fi

step "ILGPU conformance on CUDA and OpenCL"
timeout $(limit 300) .device/run engine-tests -noColor \
  -class 'O2RL.Engine.Tests.Backends.CudaConformanceTests' \
  -class 'O2RL.Engine.Tests.Backends.OpenClConformanceTests' \
  -class 'O2RL.Engine.Tests.Backends.DevicesTests' > "$results/conformance.txt" 2>&1; echo "exit $?"
grep -E "\[FAIL\]|Total:" "$results/conformance.txt" | tail -15

step "ours (1): o2rl bench --device cuda --ocr-cft"
timeout $(limit 240) .device/run cli bench --device cuda --json --ocr-cft > "$results/ours-1.json" 2> "$results/ours-1.err"; echo "exit $?"; tail -3 "$results/ours-1.err"

step "PyTorch anchor"
PYTHONUNBUFFERED=1 timeout $(limit 270) python3 benchmarks/anchors/torch-gpu/anchor.py --modes "${ANCHOR_MODES:-eager,graph,compile,reduce-overhead}" --out "$results/torch.jsonl" > "$results/torch.log" 2>&1; echo "exit $?"
grep -E "Error|error" "$results/torch.log" | tail -5

step "ours (2): o2rl bench --device cuda"
timeout $(limit 100) .device/run cli bench --device cuda --json > "$results/ours-2.json" 2> "$results/ours-2.err"; echo "exit $?"; tail -3 "$results/ours-2.err"

step "ours with other settings: backward pairs as two launches; Adam+Polyak, sample+draw and the noisy action as their parts; the setting before pass 10"
O2RL_GEMM_PAIR=0 timeout $(limit 40) .device/run cli bench --device cuda --only gemm,mlp_step,sac_update,td3_update --json > "$results/ours-setting-pair-off.json" 2> "$results/ours-setting-pair-off.err"; echo "pair off: exit $?"
O2RL_FUSE_STEP_OPS=0 timeout $(limit 40) .device/run cli bench --device cuda --only gemm,mlp_step,sac_update,td3_update --json > "$results/ours-setting-step-ops-off.json" 2> "$results/ours-setting-step-ops-off.err"; echo "step ops off: exit $?"
O2RL_GEMM_PAIR=0 O2RL_GEMM_PANEL_DEPTH=16 O2RL_SPLITK_BLOCKS_PER_SM=4 timeout $(limit 40) .device/run cli bench --device cuda --only gemm,mlp_step,sac_update,td3_update --json > "$results/ours-setting-before-pass10.json" 2> "$results/ours-setting-before-pass10.err"; echo "before pass 10: exit $?"

step "ours with each GEMM kernel forced (O2RL_GEMM_KERNEL)"
[ -n "${DEVICE_CHECKS_QUICK:-}" ] && echo "skipped (DEVICE_CHECKS_QUICK)" || for kernel in tiled tiled-small tiled-tiny split-k naive; do
  O2RL_GEMM_KERNEL=$kernel timeout $(limit 60) .device/run cli bench --device cuda --json > "$results/ours-kernel-$kernel.json" 2> "$results/ours-kernel-$kernel.err"
  echo "$kernel: exit $?"
done

step "Nsight Compute: the kernels of one SAC update, and one 256³ GEMM in detail"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /usr/local/cuda/nsight-compute*/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "${DEVICE_CHECKS_QUICK:-}" ]; then
  echo "skipped (DEVICE_CHECKS_QUICK)"
elif [ -n "$ncu" ]; then
  # One update's launches, as ours (1) counted them; --launch-skip lands inside the timing warm-up (a few hundred
  # launches of set-up, then the updates).
  launches=$(python3 -c "import json, sys; print(int(json.load(open(sys.argv[1]))['sac_kernel_launches']))" "$results/ours-1.json" 2>/dev/null || echo 123)
  timeout $(limit 120) "$ncu" --clock-control none --target-processes all --launch-skip 3000 --launch-count "$launches" --csv --page raw \
    --metrics gpu__time_duration.sum,launch__grid_size,launch__block_size,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed \
    .device/run cli bench --device cuda --only sac_update --rounds 1 > "$results/ncu-sac.csv" 2>&1; echo "sac: exit $?"
  [ -n "${DEVICE_CHECKS_QUICK:-}" ] || timeout $(limit 90) "$ncu" --clock-control none --target-processes all --launch-skip 200 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats --section MemoryWorkloadAnalysis \
    .device/run cli bench --device cuda --only gemm --rounds 1 > "$results/ncu-gemm.txt" 2>&1; echo "gemm: exit $?"
  python3 benchmarks/gpu/ncu-summary.py "$results/ncu-sac.csv" 2>&1 | tail -25
else
  echo "no ncu on this machine"
fi

step "demo --quick on CUDA"
if [ -n "${DEVICE_CHECKS_QUICK:-}" ]; then echo "skipped (DEVICE_CHECKS_QUICK)"; else
timeout $(limit 200) .device/run cli demo --quick --device cuda --out "$results/demo" --json > "$results/demo.json" 2> "$results/demo.log"; echo "exit $?"
tail -4 "$results/demo.log"; cat "$results/demo.json"
fi

step "table"
python3 benchmarks/gpu/table.py "$results" | tee "$results/table.md"
