#!/usr/bin/env python3
"""compare.py — run weft's benchmarks and every peer of BENCH.md that is
available, one after another in one run, and print them side by side with
the ratio weft / peer (below 1 means weft is faster).  Also writes all rows
to a CSV file.

Usage: compare.py --build DIR [--quick] [--csv FILE]
"""
import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_rows(name, command):
    """Run one program; return its CSV rows (workload, impl, median, min, max)."""
    print(f"  running {name} ...", file=sys.stderr, flush=True)
    try:
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"  {name} failed: {e}", file=sys.stderr)
        return []
    rows = []
    for line in out.splitlines():
        parts = line.split(",")
        if len(parts) == 5 and parts[0].startswith("W"):
            try:
                rows.append((parts[0], parts[1], *map(float, parts[2:])))
            except ValueError:
                pass
    return rows


def weft_rows(build, quick, name):
    path = os.path.join(build, "bench", name)
    tmp = os.path.join(build, "bench", name + ".csv")
    args = [path, "--csv", tmp] + (["--quick"] if quick else [])
    run_rows(name, args)
    rows = []
    with open(tmp) as f:
        for r in csv.DictReader(f):
            rows.append((r["workload"], r["implementation"], float(r["median_ns"]),
                         float(r["min_ns"]), float(r["max_ns"])))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--csv", default=None)
    args = ap.parse_args()
    bench = os.path.join(args.build, "bench")
    items = ["--items", "100000", "--reps", "3"] if args.quick else []
    py_items = ["--items", "20000", "--reps", "3"] if args.quick else []

    rows = []
    rows += weft_rows(args.build, args.quick, "bench_sync")
    rows += weft_rows(args.build, args.quick, "bench_queue")
    rows += weft_rows(args.build, args.quick, "bench_pool")
    pool_items = ["--items", "100000", "--reps", "3"] if args.quick else []
    py_pool_items = ["--items", "5000", "--reps", "3"] if args.quick else []
    peers = [
        ("Go W3", [os.path.join(bench, "w3_go")] + items),
        ("Go W2", [os.path.join(bench, "w2_go")] + items),
        ("GLib W3", [os.path.join(bench, "w3_glib")] + items),
        ("GLib W1/W2", [os.path.join(bench, "w12_glib")] + pool_items),
        ("libuv W1/W2", [os.path.join(bench, "w12_uv")] + pool_items),
        ("OpenMP W1", [os.path.join(bench, "w1_omp")] + pool_items),
        ("oneTBB W3", [os.path.join(bench, "w3_tbb")] + items),
        ("oneTBB W1", [os.path.join(bench, "w1_tbb")] + pool_items),
        ("CPython W3", [sys.executable, os.path.join(HERE, "peers", "w3_python.py")] + py_items),
        ("CPython W1/W2",
         [sys.executable, os.path.join(HERE, "peers", "w12_python.py")] + py_pool_items),
    ]
    missing = []
    for name, command in peers:
        if command[0] != sys.executable and not os.path.exists(command[0]):
            missing.append(name)
            continue
        rows += run_rows(name, command)

    print()
    print(f"weft benchmarks — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cpus, {cpu_model()}")
    print("median [min..max] in ns (W6: speed-up x1000, higher is better; W7: ms);")
    print("ratio = weft / peer (below 1: weft is faster)")
    print()
    workloads = []
    for r in rows:
        if r[0] not in workloads:
            workloads.append(r[0])
    print(f"{'workload':<12} {'implementation':<34} {'median':>10} {'spread':>22} {'weft/peer':>10}")
    for w in workloads:
        group = [r for r in rows if r[0] == w]
        weft = next((r for r in group if r[1] == "weft"), None)
        for r in sorted(group, key=lambda r: (r[1] != "weft", r[2])):
            ratio = "" if r[1] == "weft" or not weft else f"{weft[2] / r[2]:.2f}"
            spread = f"[{r[3]:.1f}..{r[4]:.1f}]"
            print(f"{w:<12} {r[1]:<34} {r[2]:>10.1f} {spread:>22} {ratio:>10}")
        print()
    if missing:
        print("peers not built (run `make bench` as root to install them): " + ", ".join(missing))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["workload", "implementation", "median_ns", "min_ns", "max_ns"])
            out.writerows(rows)
        print(f"CSV: {args.csv}")


if __name__ == "__main__":
    main()
