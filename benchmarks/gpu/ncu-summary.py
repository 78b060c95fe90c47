#!/usr/bin/env python3
"""Summarises an Nsight Compute raw CSV (one row per profiled kernel launch): total time, and time by launch shape.

usage: ncu-summary.py NCU_RAW.csv

Kernels are grouped by (name, grid, block): ILGPU's kernel names are generic, and the grid tells a GEMM of one shape
from another. Times are gpu__time_duration (device time of each kernel alone, replayed by the profiler).
"""
import csv
import sys
from collections import defaultdict


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    rows = list(csv.DictReader(lines))
    rows = [r for r in rows if r.get("gpu__time_duration.sum", "").replace(".", "", 1).replace(",", "").isdigit()]
    if not rows:
        print("no kernel rows in the profile")
        return 1
    groups = defaultdict(lambda: [0, 0.0, ""])
    total = 0.0
    for r in rows:
        ns = float(r["gpu__time_duration.sum"].replace(",", ""))
        key = (r.get("Kernel Name", "?")[:40], r.get("launch__grid_size", "?"), r.get("launch__block_size", "?"))
        g = groups[key]
        g[0] += 1
        g[1] += ns
        g[2] = f'{r.get("sm__warps_active.avg.pct_of_peak_sustained_active", "?")}% occ, {r.get("launch__registers_per_thread", "?")} regs'
        total += ns
    print(f"{len(rows)} kernels, {total / 1e3:.1f} µs of device time in all (sum of kernels run alone)")
    print("| kernel | grid | block | launches | µs total | µs each | notes |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for (name, grid, block), (count, ns, notes) in sorted(groups.items(), key=lambda kv: -kv[1][1])[:20]:
        print(f"| {name} | {grid} | {block} | {count} | {ns / 1e3:.1f} | {ns / 1e3 / count:.1f} | {notes} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
