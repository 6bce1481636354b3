# SPDX-License-Identifier: MIT
"""pybench.py — what the CPython peers share (imported from beside them),
the Python side of bench/bench_util.h: the command line --items N --reps R
--threads T, the harness rule (one warm-up run on a quarter of the work,
then R timed repetitions) and the CSV row

    workload,implementation,median_ns,min_ns,max_ns,cpu_ns,note

whose wall figures are per operation and whose cpu_ns is the process's user
+ system CPU time (resource.getrusage, with its reaped child processes')
per operation over the timed repetitions."""
import argparse
import resource
import sys

MAX_REPS = 64
MAX_THREADS = 1024
DEFAULT_THREADS = 2  # docs/benchmarks.md's two threads unless told

# A row's note, set by a workload while it runs (free text; commas become
# semicolons); printed with the row and cleared.
note = ""

# A workload's own count over the timed repetitions (events out of ops,
# e.g. lock hand-overs out of adds); row() zeroes it after the warm-up.
tally = {"events": 0, "ops": 0}


def parser(items, reps, items_help):
    """The shared command line; a peer may add its own options."""
    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=items, help=items_help)
    p.add_argument("--reps", type=int, default=reps, help="timed repetitions after the warm-up")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help="worker threads of a pool / threads of a contended lock")
    return p


def parse(p):
    """Parse and check; exit 2 with the usage on a bad value."""
    args = p.parse_args()
    if args.items < 1 or not 1 <= args.reps <= MAX_REPS or not 1 <= args.threads <= MAX_THREADS:
        p.error(f"--items >= 1, --reps 1..{MAX_REPS}, --threads 1..{MAX_THREADS}")
    return args


def cpu_ns():
    """The process's CPU time so far, user + system, in ns, with that of
    its children that have been waited for: a ProcessPoolExecutor's
    workers (W6, W9) are joined when their pool shuts down inside the
    timed run, so their CPU counts as the threads' does.  A program
    without child processes gets RUSAGE_SELF alone."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        u = resource.getrusage(who)
        total += u.ru_utime + u.ru_stime
    return total * 1e9


def fail(message):
    """A wrong result: exit 1 (a fast wrong answer must not pass)."""
    sys.exit(message)


def print_row(workload, impl, samples, cpu):
    """One CSV row: median, min and max of samples, cpu (None: not
    measured) and the note, which it clears."""
    global note
    s = sorted(samples)
    cpu_text = "" if cpu is None else f"{cpu:.2f}"
    print(f"{workload},{impl},{s[len(s) // 2]:.2f},{s[0]:.2f},{s[-1]:.2f},{cpu_text},"
          f"{note.replace(',', ';')}", flush=True)
    note = ""


def row(workload, impl, fn, n, reps, ops=None):
    """Warm fn up on a quarter of the work (fn(n // 4 + 1)), time fn(n)
    reps times (it returns its own figure, e.g. ns per operation) and print
    the row with the CPU time per operation, `ops` operations per timed run
    (n unless told)."""
    global note
    fn(n // 4 + 1)
    note = ""
    tally["events"] = tally["ops"] = 0
    start = cpu_ns()
    samples = [fn(n) for _ in range(reps)]
    print_row(workload, impl, samples, (cpu_ns() - start) / ((ops or n) * reps))
