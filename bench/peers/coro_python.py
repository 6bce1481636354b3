# SPDX-License-Identifier: MIT
"""coro_python.py — docs/benchmarks.md's coroutine workloads (issue 16) with
CPython's asyncio (its default event loop), the peers of bench/bench_coro.c.

W11 yield (W11(b)): two tasks that `await asyncio.sleep(0)` in turn (asyncio's
    documented way to let the other tasks run), gathered; ns per yield.  Each
    task notes whether the other ran since its own last yield: fewer than half
    of the yields handing over fails, and the note says what share did.
W13: `await asyncio.create_task(empty())`, one task at a time; ns per task,
    every result checked.
W8 <n>: `await asyncio.gather(*(asyncio.sleep(1) for _ in range(n)))`, in a
    fresh interpreter (this script run again with --w8-child n), as for every
    W8 implementation: the wall time from the gather's first coroutine to its
    return (the child's own clock: the interpreter's start is excluded), ms;
    the child's CPU per task; and, in the "W8 <n> RSS" row, its peak resident
    set (os.wait4's ru_maxrss), MB (10^6 bytes).  One child run per size per
    program run (a fresh process has nothing to warm up; compare.py's rounds
    give the spread); the note gives the bytes per task above an empty run's.

The loop is asyncio.run's, one per timed run (made and closed outside the
clock, inside the CPU time, as weft_run's loop is).  Options: pybench's, with
--items (W13 tasks), --yields (W11 yields), --fanout (W8 sizes, comma-separated).
"""
import argparse
import asyncio
import os
import subprocess
import sys
import time

import pybench


def size_label(n):
    if n >= 1000000 and n % 1000000 == 0:
        return f"{n // 1000000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


async def ping_pong(per):
    state = {"last": -1, "handed": 0}

    async def yielder(me):
        for _ in range(per):
            state["last"] = me
            await asyncio.sleep(0)
            if state["last"] != me:
                state["handed"] += 1

    start = time.perf_counter()
    await asyncio.gather(yielder(0), yielder(1))
    elapsed = time.perf_counter() - start
    return elapsed, state["handed"]


def w11_yield(n):
    per = max(1, n // 2)
    elapsed, handed = asyncio.run(ping_pong(per))
    if 2 * handed < 2 * per:
        pybench.fail(f"W11 yield python: only {handed} of {2 * per} yields let the other task run")
    pybench.tally["events"] += handed
    pybench.tally["ops"] += 2 * per
    pybench.note = ("yields that let the other run: "
                    f"{100 * pybench.tally['events'] / pybench.tally['ops']:.1f}%")
    return elapsed * 1e9 / (2 * per)


async def empty(i):
    return i


async def spawn_await(n):
    start = time.perf_counter()
    for i in range(n):
        if await asyncio.create_task(empty(i)) != i:
            pybench.fail("W13 python: a task's result is wrong")
    return time.perf_counter() - start


def w13(n):
    return asyncio.run(spawn_await(n)) * 1e9 / n


async def fan_out(n):
    start = time.perf_counter()
    results = await asyncio.gather(*(asyncio.sleep(1) for _ in range(n)))
    elapsed = time.perf_counter() - start
    if len(results) != n or (n and elapsed < 1.0):
        pybench.fail(f"W8 python: {len(results)} of {n} sleeps, ended after {elapsed:.3f} s")
    return elapsed


def run_child(n, threads):
    """(wall ns, CPU ns, peak RSS bytes) of a fresh interpreter's fan-out."""
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--w8-child", str(n),
                              "--threads", str(threads)], stdout=subprocess.PIPE, text=True)
    out = child.stdout.read()
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        pybench.fail(f"W8 python: the child of {n} sleeps exited with {child.returncode}")
    try:
        wall = float(out.strip())
    except ValueError:
        pybench.fail(f"W8 python: the child printed {out!r}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1e9, usage.ru_maxrss * 1024.0


def w8_rows(n, empty_rss, threads):
    wall, cpu, rss = run_child(n, threads)
    label, impl = f"W8 {size_label(n)}", "CPython asyncio gather(sleep(1))"
    note = (f"peak RSS {rss / 1e6:.1f} MB; {(rss - empty_rss) / n:.0f} bytes per task above an "
            f"empty run's {empty_rss / 1e6:.1f} MB")
    pybench.note = note
    pybench.print_row(label, impl, [wall / 1e6], cpu / n)
    pybench.note = note
    pybench.print_row(f"{label} RSS", impl, [rss / 1e6], None)


def main():
    p = pybench.parser(50000, 3, "W13 tasks per run")
    p.add_argument("--yields", type=int, default=200000, help="W11 yields per run")
    p.add_argument("--fanout", default="100000,1000000", help="W8 sizes, comma-separated")
    p.add_argument("--w8-child", type=int, default=None, help=argparse.SUPPRESS)
    args = pybench.parse(p)
    if args.w8_child is not None:
        print(f"{asyncio.run(fan_out(args.w8_child)) * 1e9:.0f}")
        return
    try:
        sizes = [int(s) for s in args.fanout.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1 or args.yields < 2:
        p.error("--fanout N[,N...] with N >= 1, --yields >= 2")
    per = max(1, args.yields // 2)
    pybench.row("W11 yield", "CPython asyncio sleep(0)", w11_yield, args.yields, args.reps,
                ops=2 * per)
    pybench.row("W13", "CPython asyncio create_task + await", w13, args.items, args.reps)
    empty_rss = run_child(0, args.threads)[2]
    for n in sizes:
        w8_rows(n, empty_rss, args.threads)


if __name__ == "__main__":
    main()
