#!/usr/bin/env python3
"""Side-by-side table of a device-checks.sh results folder: ours (o2rl bench, two runs) against PyTorch's modes.

usage: table.py RESULTS_DIR

Times are per call in ms: the median round of each run (ours: the mean of the two runs' medians, with the best
round of either beside it). Ratios are PyTorch's median over ours (above 1: ours is faster). The fraction of peak
divides the workload's GEMM FLOPs by the time and by the fp32 GEMM rate PyTorch measured on an 8192³ product.
"""
import json
import os
import sys

WORKLOADS = ["gemm_256_nn", "gemm_256_nt", "gemm_256_tn", "mlp_step", "sac_update", "td3_update"]
FLOP_KEYS = {"gemm_256_nn": "gemm_256_flops", "gemm_256_nt": "gemm_256_flops", "gemm_256_tn": "gemm_256_flops",
             "mlp_step": "mlp_step_flops", "sac_update": "sac_update_flops", "td3_update": "td3_update_flops"}
MODES = ["eager", "graph", "compile", "reduce-overhead"]


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_lines(path):
    records = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    records.append(json.loads(line))
    except OSError:
        pass
    return records


def fmt(value, digits=3):
    return "–" if value is None else f"{value:.{digits}f}"


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    folder = sys.argv[1]
    ours_runs = [r for r in (load_json(os.path.join(folder, n)) for n in ("ours-1.json", "ours-2.json")) if r]
    torch_records = load_lines(os.path.join(folder, "torch.jsonl"))
    peak = next((r["fp32_gemm_peak_gflops"] for r in torch_records if "fp32_gemm_peak_gflops" in r), None)
    torch_ms = {(r["workload"], r["mode"]): r.get("ms") for r in torch_records if "workload" in r and "ms" in r}
    errors = [r for r in torch_records if "error" in r]
    device = ours_runs[0]["device"] if ours_runs else "?"
    torch_device = next((r["device"] for r in torch_records if "device" in r), "?")
    if ours_runs and "gemm_settings" in ours_runs[0]:
        print(f"ours' GEMM setting: {ours_runs[0]['gemm_settings']}")
    print(f"ours: {device}; PyTorch: {next((r['library'] for r in torch_records if 'library' in r), '?')} on {torch_device}; "
          f"fp32 GEMM peak (8192³, TF32 off): {fmt(peak, 0)} GFLOP/s")
    print()
    print("| workload | ours median (best) | launches | ours, CUDA graph median (best) | " + " | ".join(f"PyTorch {m}" for m in MODES)
          + " | fastest PyTorch / fastest ours | ours, % of fp32 peak |")
    print("|---|---:|---:|---:|" + "---:|" * len(MODES) + "---:|---:|")
    for name in WORKLOADS:
        medians = [r[f"{name}_ms_median"] for r in ours_runs if f"{name}_ms_median" in r]
        bests = [r[f"{name}_ms"] for r in ours_runs if f"{name}_ms" in r]
        ours = sum(medians) / len(medians) if medians else None
        best = min(bests) if bests else None
        graph_medians = [r[f"{name}_graph_ms_median"] for r in ours_runs if f"{name}_graph_ms_median" in r]
        graph_bests = [r[f"{name}_graph_ms"] for r in ours_runs if f"{name}_graph_ms" in r]
        graph = sum(graph_medians) / len(graph_medians) if graph_medians else None
        graph_best = min(graph_bests) if graph_bests else None
        eager = ours
        if graph is not None and (ours is None or graph < ours):
            ours = graph
        launches = next((r.get(f"{name}_kernel_launches") for r in ours_runs if f"{name}_kernel_launches" in r), None)
        theirs = [torch_ms.get((name, m)) for m in MODES]
        present = [t for t in theirs if t is not None]
        ratio = min(present) / ours if present and ours else None
        flops = next((r.get(FLOP_KEYS[name]) for r in ours_runs if FLOP_KEYS[name] in r), None)
        fraction = flops / (ours * 1e-3) / 1e9 / peak * 100 if flops and ours and peak else None
        print(f"| {name} | {fmt(eager)} ({fmt(best)}) | {fmt(launches, 0)} | {fmt(graph)} ({fmt(graph_best)}) | " + " | ".join(fmt(t) for t in theirs)
              + f" | {fmt(ratio, 2)} | {fmt(fraction, 2)} |")
    extra = sorted({k[:-len('_ms_median')] for r in ours_runs for k in r if k.endswith("_ms_median") and not k.endswith("_graph_ms_median")} - set(WORKLOADS))
    if extra:
        print()
        print("| ours only | median (best) ms | launches |")
        print("|---|---:|---:|")
        for name in extra:
            r = next(r for r in ours_runs if f"{name}_ms_median" in r)
            print(f"| {name} | {fmt(r[f'{name}_ms_median'])} ({fmt(r.get(f'{name}_ms'))}) | {fmt(r.get(f'{name}_kernel_launches'), 0)} |")
    settings = sorted(n for n in os.listdir(folder) if n.startswith("ours-setting-") and n.endswith(".json"))
    settings = [(n[len("ours-setting-"):-len(".json")], load_json(os.path.join(folder, n))) for n in settings]
    settings = [(n, r) for n, r in settings if r]
    if settings:
        print()
        print("| ours, other setting (CUDA graph median, ms) | settings | " + " | ".join(WORKLOADS) + " |")
        print("|---|---|" + "---:|" * len(WORKLOADS))
        for label, r in [("default", ours_runs[0])] + settings if ours_runs else settings:
            cells = [fmt(r.get(f"{w}_graph_ms_median", r.get(f"{w}_ms_median"))) for w in WORKLOADS]
            print(f"| {label} | {r.get('gemm_settings', '?')} | " + " | ".join(cells) + " |")
    variants = [(k, load_json(os.path.join(folder, f"ours-kernel-{k}.json"))) for k in ("tiled", "tiled-small", "tiled-tiny", "split-k", "naive")]
    variants = [(k, r) for k, r in variants if r]
    if variants:
        print()
        print("| ours, GEMM kernel forced | " + " | ".join(WORKLOADS) + " |")
        print("|---|" + "---:|" * len(WORKLOADS))
        for kernel, r in variants:
            print(f"| {kernel} | " + " | ".join(fmt(r.get(f"{w}_ms_median")) for w in WORKLOADS) + " |")
    for r in ours_runs:
        for key in sorted(k for k in r if k.endswith("_graph_error") or k.endswith("_graph_matches_eager")):
            print(f"\nours {key}: {r[key]}")
    for r in errors:
        print(f"\nPyTorch {r['workload']} ({r['mode']}) failed: {r['error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
