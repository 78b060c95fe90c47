#!/usr/bin/env bash
# Installs the system libraries the test suite can use, if missing: MuJoCo 2.2.2 (MuJoCo environments),
# PoCL + the OpenCL loader (the ILGPU OpenCL backend on the CPU), DejaVu fonts (text in PNG plots).
# Needs root and apt; otherwise it says so and the dependent tests skip with their reason.
set -uo pipefail
packages=(libmujoco2.2.2 libmujoco-samples pocl-opencl-icd ocl-icd-opencl-dev fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: missing ${missing[*]}; run as root with apt to install them (tests that need them will skip)"
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
