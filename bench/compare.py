#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""compare.py — run weft's benchmarks and every peer of BENCH.md that is
available, one after another in one run, and print them side by side with
the ratio weft / peer (below 1 means weft is better; for W6, a speed-up,
the ratio is peer / weft so that the same holds).  Writes every row to a
CSV file, the table as Markdown, and a PNG chart of the ratios (gnuplot).

Usage: compare.py --build DIR [--quick | --scale N] [--reps N] [--rounds N]
                  [--csv FILE] [--markdown FILE] [--png FILE]

--quick is --scale 10 --reps 3 --rounds 1: a smoke run.  Without it, the
sizes are BENCH.md's, every program runs --rounds times (3) one after
another in turn, so that a slow minute of this shared machine falls on
every implementation alike, and each figure is the median of the rounds'
medians (each the median of a program's repetitions after a warm-up).  A program that fails (a wrong result, a
crash) is reported and makes the exit status 1.
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
HIGHER_IS_BETTER = {"W6"}
UNITS = {"W6": "speed-up x1000", "W7": "ms"}
ORDER = ["W1", "W2", "W3 1P/1C", "W3 2P/2C", "W4", "W5", "W6", "W7", "W9", "W10"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def parse_rows(text):
    """Rows "workload,implementation,median,min,max[,cpu_ns[,note]]" (see
    bench_util.h); the CPU time and the note are optional."""
    rows = []
    for line in text.splitlines():
        parts = line.split(",")
        if 5 <= len(parts) <= 7 and parts[0].startswith("W"):
            try:
                rows.append((parts[0], parts[1], *map(float, parts[2:5])))
            except ValueError:
                pass
    return rows


def run(name, command, failures):
    """Run one program; its standard output, or None if it failed."""
    print(f"  running {name} ...", file=sys.stderr, flush=True)
    try:
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or ""
        print(f"  {name} FAILED: {e}\n{detail}", file=sys.stderr)
        failures.append(name)
        return None


def run_rows(name, command, failures):
    """Run a peer; return its CSV rows (workload, impl, median, min, max)."""
    out = run(name, command, failures)
    if out is None:
        return []
    rows = parse_rows(out)
    if not rows:
        print(f"  {name} FAILED: printed no figures", file=sys.stderr)
        failures.append(name)
    return rows


def ratio(workload, weft, peer):
    """Below 1: weft is better."""
    if workload in HIGHER_IS_BETTER:
        return peer / weft
    return weft / peer


def scaled(n, scale):
    return str(max(1, n // scale))


def peer_commands(bench, scale, reps):
    """(name, command) for every peer; sizes are each program's defaults
    divided by `scale`."""
    def c_peer(binary, items):
        return [os.path.join(bench, binary), "--items", scaled(items, scale), "--reps", reps]

    def py_peer(script, *extra):
        return [sys.executable, os.path.join(HERE, "peers", script), "--reps", reps, *extra]

    return [
        ("Go W3", c_peer("w3_go", 2000000)),
        ("Go W2", c_peer("w2_go", 200000)),
        ("Go W4/W5", c_peer("w45_go", 20000000)),
        ("Go W6/W7", c_peer("w67_go", 10000000)),
        ("GLib W3", c_peer("w3_glib", 2000000)),
        ("GLib W1/W2", c_peer("w12_glib", 1000000)),
        ("GLib W4/W5", c_peer("w45_glib", 20000000)),
        ("libuv W1/W2", c_peer("w12_uv", 1000000)),
        ("libuv W4/W5", c_peer("w45_uv", 20000000)),
        ("OpenMP W1", c_peer("w1_omp", 1000000)),
        ("oneTBB W3", c_peer("w3_tbb", 2000000)),
        ("oneTBB W1", c_peer("w1_tbb", 1000000)),
        ("CPython W3", py_peer("w3_python.py", "--items", scaled(200000, scale))),
        ("CPython W1/W2", py_peer("w12_python.py", "--items", scaled(50000, scale))),
        ("CPython W4-W7/W9/W10", py_peer("w4567_python.py", "--items", scaled(2000000, scale),
                                      "--w6-base", scaled(10000000, scale))),
    ]


def weft_rows(build, scale, reps, name, failures):
    path = os.path.join(build, "bench", name)
    tmp = os.path.join(build, "bench", name + ".csv")
    if os.path.exists(tmp):
        os.remove(tmp)
    args = [path, "--csv", tmp, "--scale", str(scale)] + (["--reps", reps] if reps else [])
    if run(name, args, failures) is None:
        return []
    rows = []
    if os.path.exists(tmp):
        with open(tmp) as f:
            for r in csv.DictReader(f):
                rows.append((r["workload"], r["implementation"], float(r["median_ns"]),
                             float(r["min_ns"]), float(r["max_ns"])))
    return rows


def combine_rounds(samples):
    """One row per (workload, implementation) from the rounds' rows: the
    median of their medians, the lowest min and the highest max."""
    by_key = {}
    for w, impl, med, lo, hi in samples:
        by_key.setdefault((w, impl), []).append((med, lo, hi))
    rows = []
    for (w, impl), figures in by_key.items():
        medians = sorted(f[0] for f in figures)
        rows.append((w, impl, medians[len(medians) // 2], min(f[1] for f in figures),
                     max(f[2] for f in figures)))
    return rows


def grouped(rows):
    """[(workload, weft row or None, [peer rows, best first])] in BENCH order."""
    names = sorted({r[0] for r in rows}, key=lambda w: (ORDER.index(w) if w in ORDER else 99, w))
    out = []
    for w in names:
        group = [r for r in rows if r[0] == w]
        weft = next((r for r in group if r[1] == "weft"), None)
        peers = sorted((r for r in group if r[1] != "weft"),
                       key=lambda r: -r[2] if w in HIGHER_IS_BETTER else r[2])
        out.append((w, weft, peers))
    return out


def print_table(groups, header):
    print()
    print(header)
    print("median [min..max] in ns unless said (W6: speed-up x1000, higher is better; W7: ms);")
    print("ratio = weft / peer, below 1: weft is better (W6: peer / weft)")
    print()
    print(f"{'workload':<12} {'implementation':<34} {'median':>10} {'spread':>22} {'ratio':>8}")
    for w, weft, peers in groups:
        for r in ([weft] if weft else []) + peers:
            rat = "" if r is weft or not weft else f"{ratio(w, weft[2], r[2]):.2f}"
            spread = f"[{r[3]:.1f}..{r[4]:.1f}]"
            print(f"{w:<12} {r[1]:<34} {r[2]:>10.1f} {spread:>22} {rat:>8}")
        print()


def write_markdown(path, groups, header):
    with open(path, "w") as f:
        f.write(f"{header}\n\n")
        f.write("| workload | weft | peer | peer's figure | weft / peer |\n|---|---|---|---|---|\n")
        for w, weft, peers in groups:
            unit = UNITS.get(w, "ns")
            if not weft:
                continue
            for r in peers:
                f.write(f"| {w} ({unit}) | {weft[2]:.1f} | {r[1]} | {r[2]:.1f} | "
                        f"{ratio(w, weft[2], r[2]):.2f} |\n")


def write_chart(path, groups, header):
    """A bar per (workload, peer): the ratio, on a log scale."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found: no chart (make bench installs gnuplot-nox)", file=sys.stderr)
        return False
    data = path + ".dat"
    lines = []
    for w, weft, peers in groups:
        for r in peers if weft else []:
            label = f"{w} {r[1]}".replace('"', "'")
            lines.append(f"\"{label}\" {ratio(w, weft[2], r[2]):.6f}\n")
    bars = len(lines)
    with open(data, "w") as f:
        f.writelines(reversed(lines))  # gnuplot draws the first line lowest
    if not bars:
        return False
    height = max(480, 22 * bars + 160)
    script = f"""
set terminal pngcairo size 1100,{height} font 'sans,10' noenhanced
set output '{path}'
set title "weft / peer, log scale: below 1 (left of the line) weft is better\\n{header}"
set style fill solid 0.8
set logscale x 10
set xrange [0.0005:20]
set yrange [-1:{bars}]
set ytics nomirror
set grid xtics
set key off
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb 'black'
plot '{data}' using 2:0:(0.0005):2:($0-0.4):($0+0.4):ytic(1) with boxxyerror \
     lc rgb '#3b7dd8'
"""
    try:
        subprocess.run([gnuplot], input=script, text=True, check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"gnuplot failed: {e}\n{getattr(e, 'stderr', '')}", file=sys.stderr)
        return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true", help="--scale 10 --reps 3")
    ap.add_argument("--scale", type=int, default=None, help="divide every size by N")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per figure")
    ap.add_argument("--rounds", type=int, default=None,
                    help="run every program this many times in turn (default 3, 1 with --quick)")
    ap.add_argument("--csv", default=None)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--png", default=None)
    args = ap.parse_args()
    scale = args.scale or (10 if args.quick else 1)
    reps = args.reps or (3 if args.quick else None)
    if scale < 1 or (reps is not None and not 1 <= reps <= 64):
        ap.error("--scale must be >= 1 and --reps within 1..64")
    rounds = args.rounds or (1 if args.quick else 3)
    if rounds < 1:
        ap.error("--rounds must be >= 1")
    bench = os.path.join(args.build, "bench")
    failures, missing, samples = [], [], []
    for r in range(rounds):
        print(f"round {r + 1} of {rounds}", file=sys.stderr, flush=True)
        for name in ("bench_sync", "bench_queue", "bench_pool"):
            samples += weft_rows(args.build, scale, str(reps) if reps else None, name, failures)
        # Peers default to 5 repetitions unless told (the CPython ones to 3,
        # in the first round only: at 100x weft's times, their drift does
        # not change a ratio).
        for name, command in peer_commands(bench, scale, str(reps or 5)):
            python = command[0] == sys.executable
            if not python and not os.path.exists(command[0]):
                if r == 0:
                    missing.append(name)
                continue
            if python and r > 0:
                continue
            if reps is None and python:
                command[command.index("--reps") + 1] = "3"
            samples += run_rows(name, command, failures)
    rows = combine_rounds(samples)
    failures = sorted(set(failures))

    header = (f"weft benchmarks, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cpus, "
              f"{cpu_model()}" + (f", sizes / {scale}" if scale > 1 else ""))
    groups = grouped(rows)
    print_table(groups, header)
    if missing:
        print("peers not built (run `make bench` as root to install them): " + ", ".join(missing))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["workload", "implementation", "median_ns", "min_ns", "max_ns"])
            out.writerows(rows)
        print(f"CSV: {args.csv}")
    if args.markdown:
        write_markdown(args.markdown, groups, header)
        print(f"Markdown: {args.markdown}")
    if args.png and write_chart(args.png, groups, header):
        print(f"chart: {args.png}")
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
