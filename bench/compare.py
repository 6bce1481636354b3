#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""compare.py — run weft's benchmarks and every peer of docs/benchmarks.md that is
available, in turn, in one run, and print them side by side with the ratio
weft / peer (below 1 means weft is better; for W6, a speed-up, the ratio is
peer / weft so that the same holds), the CPU time per operation beside the
wall time, and how far apart two CPUs were when each program ran.  Writes
every row to a CSV file, the table as Markdown, and PNG charts (gnuplot).

Usage: compare.py --build DIR [--quick | --scale N] [--reps N] [--rounds N]
                  [--threads N | --sweep [--sweep-max N]] [--busy | --busy-too]
                  [--only NAMES] [--timeout S] [--net | --no-net] [--net-duration S]
                  [--net-connections A,B,C] [--net-rounds N] [--csv FILE]
                  [--markdown FILE] [--png FILE] [--sweep-png FILE]

The rules every program runs under, weft's and the peers' alike:
  - the same sizes (docs/benchmarks.md's, divided by --scale), the same warm-up (one
    run on a quarter of the work) and the same number of timed repetitions,
    --reps (5; 3 with --quick), CPython's peers included;
  - every program runs --rounds times (3; 1 with --quick or --sweep), and
    the order alternates between rounds (ABBA): round 1 runs the programs
    weft first, round 2 in the reverse order, round 3 forward again..., so
    that a slow minute of a shared machine does not always fall on the same
    side.  A figure is the median of the rounds' medians (each the median
    of a program's repetitions), with the lowest min and the highest max;
  - W8 (n tasks each sleeping 1 s, then all awaited; 100k and 1M, divided
    by --scale) is the exception to the repetitions: every implementation
    runs each size once per program run, in a fresh child process of its
    own (the program run again), and reports the child's wall time (its
    own clock, from the first spawn), CPU per task and peak RSS (wait4's
    ru_maxrss, in a "W8 <n> RSS" row): a fresh process has nothing to warm
    up, and a second run in the same process would not start from nothing.
    The rounds give the median and spread;
  - `--threads N` (2, docs/benchmarks.md's, unless told) is passed to every program,
    and GOMAXPROCS, OMP_NUM_THREADS and UV_THREADPOOL_SIZE are set to N in
    its environment.  A program that refuses the flag (a peer not updated
    yet) is run again without it, and its rows say so in their note;
  - before each program, bench/c2c_probe (two threads ping-ponging an
    atomic word, ~20 ms x 5, not pinned) measures the core-to-core round
    trip; its median is printed beside that program's rows (c2c ns) and
    the run's min/median/max in the header: a slow figure beside a slow
    probe is a slow minute, beside a fast one a slow design.

Columns: median [min..max] of wall time per operation (ns unless said: W6
is a speed-up x1000, higher is better; W7 and W8 are in ms, W8's RSS rows in
MB), cpu/op (the program's
user + system CPU time per operation over its timed repetitions: a design
that spins a second core to win a round trip shows it here), the ratio, the
probe, and the program's note (e.g. how often a lock changed hands).

Other runs:
  --quick      --scale 10 --reps 3 --rounds 1: a smoke run (CI runs it);
               like every run it fails only when a program fails (a wrong
               result, a crash, no figures), never on a timing.
  --threads N  run every multi-threaded workload with N threads.
  --sweep      run everything at 1, 2, 4, ... threads up to 4x the CPU
               count (and the CPU count itself), --rounds 1 unless told;
               prints ns/op against threads and charts it (--sweep-png,
               default results-sweep.png beside --png): one panel per
               workload, one line per implementation, log scale.
               --sweep-max N stops the sweep at N threads.
  --busy       start one CPU-bound competitor process per CPU before the
               programs (and stop them after, also on Ctrl-C or an error),
               and run the same workloads on that busy machine: rows have
               busy=1.
  --busy-too   both, idle and busy, each round idle then busy: the table
               shows the two figures side by side with weft / best peer
               for each, so "weft / best peer no worse than idle" can be
               checked.
  --only A,B   run only the programs whose name contains one of these
               (e.g. --only bench_sync,GLib; W11's switch: --only bench_switch;
               the coroutines' W8, W11 yield and W13: --only coro,fanout,greenlet);
               c2c_probe always runs.
  --timeout S  a program running longer than S seconds counts as failed
               (no limit unless told).

The net part, W12 (an HTTP/1.1 keep-alive server under wrk and h2load):
bench/http_bench.py, run once after the rounds (it has its own rounds,
--net-rounds, 1 unless told), prints its own table (requests/s, p50/p99,
the server's CPU per 1,000 requests, RSS, what was the bound) and the
targets; its rows join the table, the CSV and the chart.  --quick keeps
it short (2 s runs, 100 connections); --net runs it alone, --no-net leaves
it out; --net-duration S, --net-connections A,B,C and --net-rounds N go to
it.  It is left out of --sweep and busy runs (its server and client each
own a CPU), and with --only unless a name matches "W12 http".

Outputs: --csv FILE (columns workload, implementation, median_ns, min_ns,
max_ns, cpu_ns, note, c2c_ns, threads, busy: one row per workload,
implementation, thread count and condition), --markdown FILE (the table),
--png FILE (the ratios, a bar each), --sweep-png FILE.  A program that fails
is reported and makes the exit status 1; peers not built are listed.
"""
import argparse
import contextlib
import csv
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HIGHER_IS_BETTER = {"W6", "W6 uneven", "W14 map"}
UNITS = {"W6": "speed-up x1000", "W6 uneven": "speed-up x1000", "W7 first pool": "ms",
         "W7 reused pool": "ms", "W14 map": "efficiency x1000"}
# W8's rows are named by their size ("W8 100k", "W8 1M", "W8 10k" at --scale
# 10), each with an "... RSS" twin: they sort after W7, smaller sizes first.
ORDER = ["W1", "W2", "W3 1P/1C", "W3 2P/2C", "W4", "W5", "W6", "W6 uneven", "W7 first pool",
         "W7 reused pool", "W8", "W9", "W10", "W11 switch", "W11 yield", "W12", "W13",
         "W14 no-op", "W14 map"]
# W12's rows (bench/http_bench.py) are named "W12 <client> <connections>"
# (ns per request: 1 / throughput), "... CPU" (the server's CPU ns per
# request), "W12 wrk <connections> p99" (us) and "W12 <connections> RSS/conn"
# (bytes per idle connection): they sort by connections, then client, then kind.
W12_CLIENTS = ("wrk", "h2load")
W12_KINDS = {"": "ns per request (1/throughput)", "CPU": "server CPU ns per request",
             "p99": "us", "RSS/conn": "RSS bytes per idle connection"}
HTTP_BENCH = os.path.join(HERE, "http_bench.py")
NET_NAME = "W12 http (bench/http_bench.py)"
DEFAULT_THREADS = 2  # docs/benchmarks.md's
# bench_switch (W11's raw switch) times its peers, swapcontext and Boost.Context,
# in its own repetitions: they are rows of its CSV, not programs of their own.
WEFT_PROGRAMS = ("bench_sync", "bench_queue", "bench_pool", "bench_switch", "bench_coro",
                 "bench_fanout")
THREAD_VARS = ("GOMAXPROCS", "OMP_NUM_THREADS", "UV_THREADPOOL_SIZE")
# What a program that does not know --threads says (argparse, Go's flag).
NO_THREADS_FLAG = ("unrecognized arguments", "flag provided but not defined")
# A competitor of --busy: a CPU-bound loop that also ends by itself once
# compare.py is gone (its parent changes), should it be killed too hard to
# stop it.
SPINNER = ("import os\n"
           "p = os.getppid()\n"
           "while os.getppid() == p:\n"
           "    for _ in range(1000000):\n"
           "        pass\n")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def to_float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def make_row(fields):
    """A row dict from "workload,implementation,median,min,max[,cpu_ns[,note]]"
    fields (see bench_util.h), or None; the CPU time and the note are
    optional and may be empty (a note's commas, should it have any, are
    kept as semicolons)."""
    if len(fields) > 7:  # a note with commas in it
        fields = fields[:6] + [";".join(fields[6:])]
    if not 5 <= len(fields) <= 7 or not fields[0].startswith("W"):
        return None
    figures = [to_float(x) for x in fields[2:5]]
    if None in figures:
        return None
    return {"workload": fields[0], "impl": fields[1], "median": figures[0],
            "min": figures[1], "max": figures[2],
            "cpu": to_float(fields[5]) if len(fields) > 5 else None,
            "note": fields[6].strip() if len(fields) > 6 else ""}


def parse_rows(text):
    rows = []
    for line in text.splitlines():
        row = make_row(line.strip().split(","))
        if row:
            rows.append(row)
    return rows


class Program:
    """One program to run: a weft bench program (rows in its --csv file) or
    a peer (rows on its standard output)."""

    def __init__(self, name, command, weft_csv=None):
        self.name, self.command, self.weft_csv = name, command, weft_csv

    @property
    def python(self):
        return self.command is not None and self.command[0] == sys.executable

    def available(self):
        """A peer whose command is None (a Python module missing) is not."""
        if self.command is None:
            return False
        return self.python or self.weft_csv is not None or os.path.exists(self.command[0])


def scaled(n, scale):
    return str(max(1, n // scale))


# Where a Python peer's module may be: the Python running compare.py, then
# Debian's (python3-greenlet installs there; the python3 found first on PATH
# may be another, e.g. pyenv's).
PYTHONS = (sys.executable, "/usr/bin/python3")


def python_with(module):
    """The first of PYTHONS that imports `module`, or None."""
    for python in PYTHONS:
        if not os.path.exists(python):
            continue
        try:
            subprocess.run([python, "-c", f"import {module}"], check=True, timeout=60,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return python
        except (OSError, subprocess.SubprocessError):
            continue
    return None


def peer_commands(bench, scale, reps):
    """(name, command) for every peer; sizes are each program's defaults
    divided by `scale`."""
    def c_peer(binary, items):
        return [os.path.join(bench, binary), "--items", scaled(items, scale), "--reps", reps]

    def py_peer(script, *extra, python=sys.executable):
        if python is None:
            return None
        return [python, os.path.join(HERE, "peers", script), "--reps", reps, *extra]

    # W8's sizes (100k, 1M: docs/benchmarks.md's, divided by --scale), as
    # bench_coro runs them.
    fanout = f"{scaled(100000, scale)},{scaled(1000000, scale)}"

    return [
        ("Go W3", c_peer("w3_go", 2000000)),
        ("Go W1/W2", c_peer("w12_go", 1000000)),
        ("Go W4/W5", c_peer("w45_go", 20000000)),
        ("Go W6/W7", c_peer("w67_go", 10000000)),
        ("GLib W3", c_peer("w3_glib", 2000000)),
        ("GLib W1/W2", c_peer("w12_glib", 1000000)),
        ("GLib W4/W5", c_peer("w45_glib", 20000000)),
        ("libuv W1/W2", c_peer("w12_uv", 1000000)),
        ("libuv W4/W5", c_peer("w45_uv", 20000000)),
        ("OpenMP W1", c_peer("w1_omp", 1000000)),
        ("oneTBB W3", c_peer("w3_tbb", 2000000)),
        ("moodycamel W3", c_peer("w3_moodycamel", 2000000)),
        ("ck_ring W3", c_peer("w3_ck", 2000000)),
        ("oneTBB W1", c_peer("w1_tbb", 1000000)),
        ("Go W8/W11 yield/W13 (coro_go)", c_peer("coro_go", 1000000) +
         ["--yields", scaled(2000000, scale), "--fanout", fanout]),
        ("CPython W3", py_peer("w3_python.py", "--items", scaled(200000, scale))),
        ("CPython W1/W2", py_peer("w12_python.py", "--items", scaled(50000, scale))),
        ("CPython W4-W7/W9/W10", py_peer("w4567_python.py", "--items", scaled(2000000, scale),
                                      "--w6-base", scaled(10000000, scale))),
        ("CPython W8/W11 yield/W13 (coro_python)",
         py_peer("coro_python.py", "--items", scaled(50000, scale), "--yields",
                 scaled(200000, scale), "--fanout", fanout)),
        ("greenlet W11 yield", py_peer("w11b_greenlet.py", "--items", scaled(1000000, scale),
                                       python=python_with("greenlet"))),
    ] + mpi_commands(bench, scale, reps)


def mpi_commands(bench, scale, reps):
    """W14's programs, each under mpiexec -n 4 (bench/peers/mpi_launch.py):
    weft's MPI pool and process pool, the raw ping-pong, mpi4py.futures.
    None where weft-mpi was not built (no MPI) or mpi4py is missing."""
    try:
        with open(os.path.join(bench, "mpiexec.txt")) as f:
            mpiexec = f.read().strip()
    except OSError:
        return []
    launch = [sys.executable, os.path.join(HERE, "peers", "mpi_launch.py"), mpiexec]
    python = python_with("mpi4py")
    return [
        ("W14 weft (bench_mpi)", launch + [os.path.join(bench, "bench_mpi"), "--reps", reps,
                                           "--items", scaled(20000, scale),
                                           "--tasks", scaled(2000, scale)]),
        ("W14 MPI ping-pong", launch + [os.path.join(bench, "w14_pingpong"), "--reps", reps,
                                        "--items", scaled(200000, scale)]),
        ("W14 mpi4py.futures", launch + [python, "-m", "mpi4py.futures",
                                         os.path.join(HERE, "peers", "w14_mpi4py.py"),
                                         "--reps", reps, "--items", scaled(2000, scale),
                                         "--tasks", scaled(2000, scale)] if python else None),
    ]


def all_programs(build, scale, reps):
    """weft's programs, then the peers: the forward order of a round."""
    bench = os.path.join(build, "bench")
    programs = []
    for name in WEFT_PROGRAMS:
        programs.append(Program(name, [os.path.join(bench, name), "--scale", str(scale),
                                       "--reps", reps],
                                weft_csv=os.path.join(bench, name + ".csv")))
    for name, command in peer_commands(bench, scale, reps):
        programs.append(Program(name, command))
    return programs


class Runner:
    def __init__(self, build, timeout):
        self.failures, self.no_threads = [], set()
        self.probes = {0: [], 1: []}  # every probe's figure, idle and busy
        self.timeout = timeout
        self.probe = os.path.join(build, "bench", "c2c_probe")
        self.probe_missing = not os.path.exists(self.probe)
        if self.probe_missing:
            print(f"  {self.probe} not built: no core-to-core figures", file=sys.stderr)

    def fail(self, name, why, detail=""):
        print(f"  {name} FAILED: {why}\n{detail}", file=sys.stderr)
        self.failures.append(name)

    def c2c(self, busy):
        """The core-to-core round trip now, ns (the probe's median), or None."""
        if self.probe_missing:
            return None
        try:
            out = subprocess.run([self.probe], check=True, capture_output=True, text=True,
                                 timeout=60).stdout
            fields = out.strip().split(",")
            figure = float(fields[1]) if fields[0] == "c2c_ns" else None
            self.probes[busy].append(figure)
            return figure
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
            self.fail("c2c_probe", e, getattr(e, "stderr", "") or "")
            return None

    def execute(self, name, command, env):
        """The completed process, or None if it could not run."""
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=self.timeout)
        except (OSError, subprocess.SubprocessError) as e:
            self.fail(name, e)
            return None
        return done

    def run(self, program, threads, busy, c2c):
        """Run one program at `threads`; its rows, tagged."""
        print(f"  running {program.name} (threads {threads}{', busy' if busy else ''}, "
              f"c2c {fmt(c2c)} ns) ...", file=sys.stderr, flush=True)
        env = dict(os.environ, **{v: str(threads) for v in THREAD_VARS})
        command = program.command + ["--threads", str(threads)]
        note = ""
        if program.weft_csv:
            if os.path.exists(program.weft_csv):
                os.remove(program.weft_csv)
            command += ["--csv", program.weft_csv]
        done = self.execute(program.name, command, env)
        if done is not None and done.returncode == 2 and any(
                s in done.stderr for s in NO_THREADS_FLAG):
            # A peer not yet given --threads: its own default, said in the note.
            self.no_threads.add(program.name)
            note = "ran without --threads (not accepted)"
            i = command.index("--threads")
            done = self.execute(program.name, command[:i] + command[i + 2:], env)
        if done is None:
            return []
        if done.returncode != 0:
            self.fail(program.name, f"exit status {done.returncode}", done.stderr)
            return []
        if program.weft_csv:
            rows = []
            if os.path.exists(program.weft_csv):
                with open(program.weft_csv) as f:
                    for r in csv.reader(f):
                        row = make_row(r)
                        if row:
                            rows.append(row)
        else:
            rows = parse_rows(done.stdout)
        if not rows:
            self.fail(program.name, "printed no figures", done.stderr)
        for r in rows:
            r.update(c2c=c2c, threads=threads, busy=busy, program=program.name)
            if note:
                r["note"] = f"{r['note']}; {note}" if r["note"] else note
        return rows


def net_command(args, build, rows_file):
    """bench/http_bench.py's command line for this run's options."""
    command = [sys.executable, HTTP_BENCH, "--build", build, "--rows", rows_file]
    if args.quick:
        command.append("--quick")
    for flag, value in (("--duration", args.net_duration),
                        ("--connections", args.net_connections),
                        ("--rounds", args.net_rounds)):
        if value is not None:
            command += [flag, str(value)]
    return command


def run_net(runner, args, build, threads):
    """The net part (W12): bench/http_bench.py runs every HTTP server under
    wrk and h2load and prints its own table as it goes; its rows (a file it
    writes) join the others.  It is stopped with SIGTERM, so that it stops
    its servers, on a timeout or when compare.py itself is stopped."""
    rows_file = os.path.join(build, "bench", "http_bench.csv")
    with contextlib.suppress(FileNotFoundError):
        os.remove(rows_file)
    c2c = runner.c2c(0)
    print(f"  running {NET_NAME} (c2c {fmt(c2c)} ns) ...", file=sys.stderr, flush=True)
    sys.stdout.flush()
    proc = subprocess.Popen(net_command(args, build, rows_file), stdin=subprocess.DEVNULL)
    try:
        status = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        runner.fail(NET_NAME, f"ran past {args.timeout} s")
        status = None
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if status not in (None, 0):
        runner.fail(NET_NAME, f"exit status {status} (a check failed: its output above)")
    rows = []
    if os.path.exists(rows_file):
        with open(rows_file) as f:
            for fields in csv.reader(f):
                row = make_row(fields)
                if row:
                    row.update(c2c=c2c, threads=threads, busy=0, program=NET_NAME)
                    rows.append(row)
    if not rows and status == 0:
        print(f"  {NET_NAME}: no rows (no load generator or no server available)",
              file=sys.stderr)
    return rows


@contextlib.contextmanager
def competitors(count):
    """`count` CPU-bound processes running while inside; killed and reaped
    on the way out, whatever the way."""
    procs = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen([sys.executable, "-c", SPINNER],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        time.sleep(0.3)  # the interpreters are up and spinning
        yield
    finally:
        for p in procs:
            with contextlib.suppress(OSError):
                p.kill()
        for p in procs:
            p.wait()


def ratio(workload, weft, peer):
    """Below 1: weft is better."""
    if not weft or not peer:
        return None
    if workload in HIGHER_IS_BETTER:
        return peer / weft
    return weft / peer


def combine_rounds(samples):
    """One row per (workload, implementation, threads, busy) from the
    rounds' rows: the median of their medians (with the note of the round
    that gave it), the lowest min, the highest max, the median of the
    rounds' CPU times and probe figures (empty ones left out)."""
    by_key = {}
    for r in samples:
        by_key.setdefault((r["workload"], r["impl"], r["threads"], r["busy"]), []).append(r)
    rows = []
    for rounds in by_key.values():
        rounds.sort(key=lambda r: r["median"])
        middle = dict(rounds[len(rounds) // 2])
        # A speed-up (W6) has no operation to divide CPU time by, and the
        # programs count theirs per different units: its CPU figure is the
        # note's "CPU N x the one-thread run's" where a program gives it.
        speed_up = middle["workload"] in HIGHER_IS_BETTER
        middle.update(min=min(r["min"] for r in rounds), max=max(r["max"] for r in rounds),
                      cpu=None if speed_up else median(r["cpu"] for r in rounds),
                      c2c=median(r["c2c"] for r in rounds), rounds=len(rounds))
        rows.append(middle)
    return rows


def fanout_size(w):
    """The tasks of a W8 row's name ("W8 100k RSS": 100000), or None."""
    parts = w.split()
    if len(parts) < 2 or parts[0] != "W8":
        return None
    size = parts[1]
    scale = {"k": 1000, "M": 1000000}.get(size[-1:], 1)
    try:
        return int(size.rstrip("kM")) * scale
    except ValueError:
        return None


def w12_parts(w):
    """(connections, client, kind) of a W12 row's name, or None:
    "W12 wrk 1000 p99" -> (1000, "wrk", "p99"), "W12 100 RSS/conn" ->
    (100, "", "RSS/conn")."""
    parts = w.split()
    if len(parts) < 2 or parts[0] != "W12":
        return None
    client = parts[1] if parts[1] in W12_CLIENTS else ""
    rest = parts[2:] if client else parts[1:]
    if not rest or not rest[0].isdigit():
        return None
    return int(rest[0]), client, " ".join(rest[1:])


def unit_of(w, default="ns"):
    """A workload's unit: UNITS's, W8's (ms; its RSS rows MB), W12's, or
    `default`."""
    if fanout_size(w) is not None:
        return "MB" if w.endswith(" RSS") else "ms"
    w12 = w12_parts(w)
    if w12 is not None:
        return W12_KINDS.get(w12[2], default)
    return UNITS.get(w, default)


def workload_key(w):
    size = fanout_size(w)
    if size is not None:
        return (ORDER.index("W8"), size, w)
    w12 = w12_parts(w)
    if w12 is not None:
        n, client, kind = w12
        kinds = list(W12_KINDS)
        return (ORDER.index("W12"), n, (W12_CLIENTS + ("",)).index(client),
                kinds.index(kind) if kind in kinds else 99, w)
    return (ORDER.index(w) if w in ORDER else 99, 0, w)


def best_first(workload, rows):
    return sorted(rows, key=lambda r: -r["median"] if workload in HIGHER_IS_BETTER
                  else r["median"])


def grouped(rows, conditions):
    """[(workload, [(implementation, {busy: row})...])] in BENCH order,
    weft first, then the peers best first (by the first condition)."""
    out = []
    for w in sorted({r["workload"] for r in rows}, key=workload_key):
        impls = {}
        for r in rows:
            if r["workload"] == w:
                impls.setdefault(r["impl"], {})[r["busy"]] = r
        first = conditions[0]
        peers = best_first(w, [c[first] for i, c in impls.items() if i != "weft" and first in c])
        names = (["weft"] if "weft" in impls else []) + [r["impl"] for r in peers]
        names += sorted(i for i in impls if i not in names)
        out.append((w, [(i, impls[i]) for i in names]))
    return out


def best_peer(w, impls, busy):
    peers = [c[busy] for i, c in impls if i != "weft" and busy in c]
    return best_first(w, peers)[0] if peers else None


def fmt(x, digits=1):
    return "" if x is None else f"{x:.{digits}f}"


COND_NAME = {0: "idle", 1: "busy"}


def print_table(groups, conditions, header=None):
    print()
    if header:
        print(header)
    print("median [min..max] in ns per operation unless said (W6: speed-up x1000, higher is "
          "better; W7, W8: ms; W8 ... RSS: peak MB; W12 <client> <connections>: ns per request "
          "(1/throughput), ... CPU: the server's CPU ns per request, ... p99: us, RSS/conn: "
          "bytes per idle connection); cpu/op: CPU ns per operation (user + system; W7, W8: per "
          "task; W12: the server's, per request);")
    print("ratio = weft / peer, below 1: weft is better (W6: peer / weft); c2c: core-to-core "
          "round trip measured just before the program, ns")
    print()
    if len(conditions) == 1:
        width = max([11] + [len(w) for w, _ in groups])  # W12's names are long
        print(f"{'workload':<{width}} {'implementation':<34} {'median':>10} {'spread':>22} "
              f"{'cpu/op':>10} {'ratio':>7} {'c2c':>8}  note")
        for w, impls in groups:
            weft = dict(impls).get("weft", {})
            for impl, c in impls:
                r = c.get(conditions[0])
                if not r:
                    continue
                wr = weft.get(conditions[0])
                rat = "" if impl == "weft" else fmt(ratio(w, wr and wr["median"], r["median"]), 2)
                spread = f"[{r['min']:.1f}..{r['max']:.1f}]"
                print(f"{w:<{width}} {impl:<34} {r['median']:>10.1f} {spread:>22} "
                      f"{fmt(r['cpu']):>10} {rat:>7} {fmt(r['c2c'], 0):>8}  {r['note']}")
            print()
        return
    print(f"{'':<11} {'':<34} {'---------------- idle ----------------':>38}   "
          f"{'---------------- busy ----------------':>38}")
    print(f"{'workload':<11} {'implementation':<34} {'median':>10} {'cpu/op':>10} {'ratio':>7} "
          f"{'c2c':>7}   {'median':>10} {'cpu/op':>10} {'ratio':>7} {'c2c':>7}  note")
    for w, impls in groups:
        weft = dict(impls).get("weft", {})
        for impl, c in impls:
            cells, notes = [], []
            for busy in conditions:
                r, wr = c.get(busy), weft.get(busy)
                if not r:
                    cells.append(f"{'-':>10} {'':>10} {'':>7} {'':>7}")
                    continue
                rat = "" if impl == "weft" else fmt(ratio(w, wr and wr["median"], r["median"]), 2)
                cells.append(f"{r['median']:>10.1f} {fmt(r['cpu']):>10} {rat:>7} "
                             f"{fmt(r['c2c'], 0):>7}")
                if r["note"]:
                    notes.append(f"{COND_NAME[busy]}: {r['note']}")
            if len({n.split(": ", 1)[1] for n in notes}) == 1 and len(notes) == len(conditions):
                notes = [notes[0].split(": ", 1)[1]]  # the same note idle and busy
            print(f"{w:<11} {impl:<34} {cells[0]}   {cells[1]}  {' | '.join(notes)}")
        print()
    print("weft / best peer, idle and busy (below 1: weft is better; "
          "'no worse' when busy's ratio <= idle's):")
    for w, impls in groups:
        weft = dict(impls).get("weft", {})
        line, rats = [], {}
        for busy in conditions:
            p, wr = best_peer(w, impls, busy), weft.get(busy)
            rats[busy] = ratio(w, wr and wr["median"], p and p["median"])
            line.append(f"{COND_NAME[busy]} {fmt(rats[busy], 2) or '-':>6} "
                        f"({p['impl'] if p else 'no peer'})")
        verdict = ""
        if None not in rats.values():
            verdict = "no worse" if rats[1] <= rats[0] else f"worse x{rats[1] / rats[0]:.2f}"
        print(f"  {w:<11} {line[0]:<46} {line[1]:<46} {verdict}")
    print()


def print_sweep(rows, threads_list, conditions):
    """ns/op by thread count, a line per (workload, implementation, condition)."""
    print("sweep: median per operation by thread count (ns unless said)")
    print(f"{'workload':<11} {'implementation':<34} {'':<5}" +
          "".join(f"{t:>10}" for t in threads_list))
    table = {}
    for r in rows:
        table.setdefault((r["workload"], r["impl"], r["busy"]), {})[r["threads"]] = r["median"]
    for (w, impl, busy) in sorted(table, key=lambda k: (workload_key(k[0]), k[1] != "weft",
                                                        k[1], k[2])):
        if busy not in conditions:
            continue
        figures = table[(w, impl, busy)]
        print(f"{w:<11} {impl:<34} {COND_NAME[busy]:<5}" +
              "".join(f"{fmt(figures.get(t)):>10}" for t in threads_list))
    print()


def write_markdown(path, groups, conditions, header, sweep=None):
    with open(path, "w") as f:
        f.write(header.replace("\n", "\n\n") + "\n\n")
        f.write("Figures per operation, ns unless said; cpu/op: CPU time (user + system) per "
                "operation; weft / this: below 1, weft is better; c2c: core-to-core round trip "
                "just before the program ran, ns.\n\n")
        cols = []
        for busy in conditions:
            tag = f" ({COND_NAME[busy]})" if len(conditions) > 1 else ""
            cols += [f"median{tag}", f"min..max{tag}", f"cpu/op{tag}", f"weft / this{tag}",
                     f"c2c{tag}"]
        f.write("| workload | implementation | " + " | ".join(cols) + " | note |\n")
        f.write("|---" * (len(cols) + 3) + "|\n")
        for w, impls in groups:
            unit = unit_of(w)
            weft = dict(impls).get("weft", {})
            for impl, c in impls:
                cells, notes = [], []
                for busy in conditions:
                    r, wr = c.get(busy), weft.get(busy)
                    if not r:
                        cells += [""] * 5
                        continue
                    rat = "" if impl == "weft" else fmt(ratio(w, wr and wr["median"],
                                                             r["median"]), 2)
                    cells += [f"{r['median']:.1f}", f"{r['min']:.1f}..{r['max']:.1f}",
                              fmt(r["cpu"]), rat, fmt(r["c2c"], 0)]
                    if r["note"]:
                        notes.append((f"{COND_NAME[busy]}: " if len(conditions) > 1 else "")
                                     + r["note"])
                name = f"**{impl}**" if impl == "weft" else impl
                f.write(f"| {w} ({unit}) | {name} | " + " | ".join(cells) +
                        f" | {'; '.join(notes)} |\n")
        if sweep:
            rows, threads_list = sweep
            f.write("\n### Sweep: median per operation by thread count\n\n")
            f.write("| workload | implementation | condition | " +
                    " | ".join(f"{t} threads" for t in threads_list) + " |\n")
            f.write("|---" * (len(threads_list) + 3) + "|\n")
            table = {}
            for r in rows:
                table.setdefault((r["workload"], r["impl"], r["busy"]), {})[r["threads"]] = r
            for key in sorted(table, key=lambda k: (workload_key(k[0]), k[1] != "weft", k[1],
                                                    k[2])):
                w, impl, busy = key
                f.write(f"| {w} ({unit_of(w)}) | {impl} | {COND_NAME[busy]} | " +
                        " | ".join(fmt(table[key][t]["median"]) if t in table[key] else ""
                                   for t in threads_list) + " |\n")


def run_gnuplot(script, path):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found: no chart (make bench installs gnuplot-nox)", file=sys.stderr)
        return False
    try:
        subprocess.run([gnuplot], input=script, text=True, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"gnuplot failed on {path}: {e}\n{getattr(e, 'stderr', '')}", file=sys.stderr)
        return False
    return True


def quoted(text):
    return text.replace('"', "'").replace("\\", "/")


def chart_title(text, width=110):
    """`text` quoted for a gnuplot title, its lines broken at spaces."""
    lines = [x for line in text.split("\n") for x in textwrap.wrap(line, width)]
    return "\\n".join(quoted(x) for x in lines)


def write_chart(path, groups, conditions, header):
    """A bar per (workload, peer[, condition]): the ratio, on a log scale;
    busy bars in orange."""
    data = path + ".dat"
    lines = []
    for w, impls in groups:
        weft = dict(impls).get("weft", {})
        for impl, c in impls:
            if impl == "weft":
                continue
            for busy in conditions:
                r, wr = c.get(busy), weft.get(busy)
                rat = ratio(w, wr and wr["median"], r and r["median"])
                if rat is None:
                    continue
                label = f"{w} {impl}" + (f" ({COND_NAME[busy]})" if len(conditions) > 1 else "")
                lines.append(f"\"{quoted(label)}\" {rat:.6f} {busy}\n")
    bars = len(lines)
    if not bars:
        return False
    with open(data, "w") as f:
        f.writelines(reversed(lines))  # gnuplot draws the first line lowest
    height = max(480, 22 * bars + 160)
    script = f"""
set terminal pngcairo size 1100,{height} font 'sans,10' noenhanced
set output '{path}'
set title "weft / peer, log scale: below 1 (left of the line) weft is better\\n{chart_title(header, 70)}"
set style fill solid 0.8
set logscale x 10
set xrange [0.0005:20]
set yrange [-1:{bars}]
set ytics nomirror
set grid xtics
set key off
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb 'black'
plot '{data}' using 2:0:(0.0005):2:($0-0.4):($0+0.4):($3 > 0 ? 0xe07b39 : 0x3b7dd8):ytic(1) \\
     with boxxyerror lc rgb variable
"""
    return run_gnuplot(script, path)


def write_sweep_chart(path, rows, threads_list, conditions, header):
    """One panel per workload: median per operation against threads (both
    log scales), a line per implementation; busy runs dashed."""
    workloads = sorted({r["workload"] for r in rows}, key=workload_key)
    if not workloads:
        return False
    data = path + ".dat"
    blocks, plots = [], []
    for w in workloads:
        impls = sorted({r["impl"] for r in rows if r["workload"] == w},
                       key=lambda i: (i != "weft", i))
        panel = []
        for colour, impl in enumerate(impls):
            for busy in conditions:
                points = sorted((r["threads"], r["median"]) for r in rows
                                if r["workload"] == w and r["impl"] == impl and r["busy"] == busy
                                and r["median"] > 0)
                if not points:
                    continue
                index = len(blocks)
                blocks.append("".join(f"{t} {m:.6g}\n" for t, m in points))
                title = impl + (" (busy)" if busy else "")
                width = 3 if impl == "weft" else 1.5
                panel.append(f"'{data}' index {index} using 1:2 with linespoints "
                             f"lw {width} pt 7 ps 0.6 dt {2 if busy else 1} "
                             f"lc {colour + 1} title \"{quoted(title)}\"")
        if panel:
            unit = unit_of(w, "ns per operation")
            better = " (higher is better)" if w in HIGHER_IS_BETTER else ""
            plots.append((w, unit + better, panel))
    with open(data, "w") as f:
        f.write("\n\n".join(blocks))
    cols = min(3, len(plots))
    nrows = math.ceil(len(plots) / cols)
    xmax = max(threads_list) * 1.5
    lines = max(len(p[2]) for p in plots)  # the key below a panel: a line each
    script = [f"set terminal pngcairo size {560 * cols},{(330 + 14 * lines) * nrows + 80} "
              "font 'sans,9' "
              "noenhanced",
              f"set output '{path}'",
              f"set multiplot layout {nrows},{cols} title \"ns/op against threads (log scales)"
              f"\\n{chart_title(header)}\"",
              "set logscale xy", "set grid", f"set xrange [0.8:{xmax}]",
              "set xtics (" + ", ".join(f"'{t}' {t}" for t in threads_list) + ")",
              "set xlabel 'threads'", "set key below font ',8' samplen 2"]
    for w, unit, panel in plots:
        script += [f"set title \"{quoted(w)}\"", f"set ylabel \"{quoted(unit)}\"",
                   "plot " + ", \\\n     ".join(panel)]
    script.append("unset multiplot")
    return run_gnuplot("\n".join(script) + "\n", path)


def sweep_counts(cpus, limit):
    counts, t = [], 1
    while t <= min(4 * cpus, limit):
        counts.append(t)
        t *= 2
    if cpus <= limit and cpus not in counts:
        counts.append(cpus)
    return sorted(counts)


def probe_summary(figures):
    figures = sorted(x for x in figures if x is not None)
    if not figures:
        return "not measured"
    return f"{figures[0]:.0f} / {median(figures):.0f} / {figures[-1]:.0f} ns"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true", help="--scale 10 --reps 3 --rounds 1")
    ap.add_argument("--scale", type=int, default=None, help="divide every size by N")
    ap.add_argument("--reps", type=int, default=None,
                    help="timed repetitions per figure, for every program (5; 3 with --quick)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="run every program this many times, the order alternating "
                         "(3; 1 with --quick or --sweep)")
    ap.add_argument("--threads", type=int, default=None,
                    help=f"threads of every multi-threaded workload ({DEFAULT_THREADS})")
    ap.add_argument("--sweep", action="store_true",
                    help="run at 1, 2, 4 ... threads up to 4x the CPU count")
    ap.add_argument("--sweep-max", type=int, default=None, help="the sweep's highest count")
    ap.add_argument("--busy", action="store_true",
                    help="run with one CPU-bound competitor process per CPU")
    ap.add_argument("--busy-too", action="store_true", help="run idle and busy, side by side")
    ap.add_argument("--only", default=None,
                    help="comma-separated parts of program names: run only those")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds a program may run before it counts as failed (no limit)")
    ap.add_argument("--net", action="store_true",
                    help="run only the net part, W12 (bench/http_bench.py)")
    ap.add_argument("--no-net", action="store_true", help="leave the net part (W12) out")
    ap.add_argument("--net-duration", type=int, default=None,
                    help="W12: whole seconds of each wrk run (5; 2 with --quick)")
    ap.add_argument("--net-connections", default=None,
                    help="W12: comma-separated connection counts (100,1000,10000; 100 with "
                         "--quick)")
    ap.add_argument("--net-rounds", type=int, default=None,
                    help="W12: rounds, the order alternating (1)")
    ap.add_argument("--csv", default=None)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--png", default=None)
    ap.add_argument("--sweep-png", default=None,
                    help="the sweep's chart (default: results-sweep.png beside --png)")
    args = ap.parse_args()
    scale = args.scale or (10 if args.quick else 1)
    reps = args.reps or (3 if args.quick else 5)
    if scale < 1 or not 1 <= reps <= 64:
        ap.error("--scale must be >= 1 and --reps within 1..64")
    rounds = args.rounds or (1 if args.quick or args.sweep else 3)
    if rounds < 1:
        ap.error("--rounds must be >= 1")
    if args.sweep and args.threads:
        ap.error("--sweep and --threads: choose one")
    if args.busy and args.busy_too:
        ap.error("--busy-too already runs busy")
    if args.net and args.no_net:
        ap.error("--net and --no-net: choose one")
    cpus = os.cpu_count() or 1
    base_threads = args.threads or DEFAULT_THREADS
    if not 1 <= base_threads <= 1024:
        ap.error("--threads must be within 1..1024")
    threads_list = sweep_counts(cpus, min(args.sweep_max or 1024, 1024)) if args.sweep \
        else [base_threads]
    if not threads_list:
        ap.error("--sweep-max must be >= 1")
    if base_threads not in threads_list:
        base_threads = cpus if cpus in threads_list else threads_list[-1]
    conditions = [0, 1] if args.busy_too else [1] if args.busy else [0]
    sweep_png = args.sweep_png or (os.path.join(os.path.dirname(args.png), "results-sweep.png")
                                   if args.sweep and args.png else None)

    for out in (args.csv, args.markdown, args.png, sweep_png):
        if out and os.path.dirname(out):
            os.makedirs(os.path.dirname(out), exist_ok=True)

    programs = [] if args.net else all_programs(args.build, scale, str(reps))
    # The net part (W12) owns both CPUs (a server pinned on one, its client on
    # the other): it runs once, after the rounds, and not in a sweep or on a
    # busy machine, where competitors would take the CPUs it pins.
    net = not args.no_net
    if args.only:
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        programs = [p for p in programs if any(w in p.name.lower() for w in wanted)]
        net = net and (args.net or any(w in NET_NAME.lower() for w in wanted))
    if net and (args.sweep or args.busy or args.busy_too):
        print("the net part (W12) is left out of --sweep, --busy and --busy-too runs: its "
              "server and client each own a CPU (run it with --net)", file=sys.stderr)
        net = False
    missing = [p.name for p in programs if not p.available()]
    programs = [p for p in programs if p.available()]

    # A SIGTERM unwinds like Ctrl-C, so that the competitors are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runner = Runner(args.build, args.timeout)
    samples = []
    for ti, threads in enumerate(threads_list if programs else []):
        for r in range(rounds):
            # ABBA: the programs forward in one round, reversed in the next
            # (and from one thread count to the next); with --busy-too, idle
            # then busy in one round, busy then idle in the next.
            forward = (ti + r) % 2 == 0
            for busy in conditions if forward else conditions[::-1]:
                order = programs if forward else programs[::-1]
                print(f"threads {threads}, round {r + 1} of {rounds}, "
                      f"{COND_NAME[busy]}{f' ({cpus} competitors)' if busy else ''}, "
                      f"{'forward' if order is programs else 'reverse'} order",
                      file=sys.stderr, flush=True)
                with competitors(cpus if busy else 0):
                    for program in order:
                        samples += runner.run(program, threads, busy, runner.c2c(busy))
    if net:
        samples += run_net(runner, args, args.build, base_threads)
    rows = combine_rounds(samples)
    failures = sorted(set(runner.failures))

    header = (f"weft benchmarks, {time.strftime('%Y-%m-%d')}, {cpus} cpus, {cpu_model()}, "
              + (f"threads {', '.join(map(str, threads_list))}" if args.sweep
                 else f"{base_threads} threads")
              + f", {reps} repetitions each (every program), {rounds} round(s) in alternating "
              "order" + (f", sizes / {scale}" if scale > 1 else "")
              + (f", busy: {cpus} CPU-bound competitors" if args.busy or args.busy_too else ""))
    probe_line = "core-to-core round trip (c2c_probe) min / median / max over the run: " + \
        "; ".join((f"{COND_NAME[b]} " if len(conditions) > 1 else "") +
                  probe_summary(runner.probes[b]) for b in conditions)
    header_full = f"{header}\n{probe_line}"

    base_rows = [r for r in rows if r["threads"] == base_threads]
    groups = grouped(base_rows, conditions)
    if args.sweep:
        print()
        print(header_full)
        print_sweep(rows, threads_list, conditions)
        print(f"the table at {base_threads} threads:", end="")
    print_table(groups, conditions, None if args.sweep else header_full)
    if runner.no_threads:
        print("did not accept --threads (ran at their own default; said in their notes): " +
              ", ".join(sorted(runner.no_threads)))
    if missing:
        print("peers not built (run `make bench` as root to install them): " + ", ".join(missing))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["workload", "implementation", "median_ns", "min_ns", "max_ns",
                          "cpu_ns", "note", "c2c_ns", "threads", "busy"])
            for r in sorted(rows, key=lambda r: (r["threads"], r["busy"],
                                                 workload_key(r["workload"]),
                                                 r["impl"] != "weft", r["impl"])):
                out.writerow([r["workload"], r["impl"], f"{r['median']:.2f}", f"{r['min']:.2f}",
                              f"{r['max']:.2f}", fmt(r["cpu"], 2), r["note"],
                              fmt(r["c2c"], 1), r["threads"], r["busy"]])
        print(f"CSV: {args.csv}")
    if args.markdown:
        write_markdown(args.markdown, groups, conditions, header_full,
                       (rows, threads_list) if args.sweep else None)
        print(f"Markdown: {args.markdown}")
    if args.png and write_chart(args.png, groups, conditions, header_full):
        print(f"chart: {args.png}")
    if sweep_png and write_sweep_chart(sweep_png, rows, threads_list, conditions, header_full):
        print(f"sweep chart: {sweep_png}")
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
