# SPDX-License-Identifier: MIT
"""w4567_python.py — docs/benchmarks.md peers in CPython, each run checking its result:

W4  uncontended threading.Lock acquire + release; ns per pair.  A thread
    has been started (and joined) before it: W4 measures a lock in a
    concurrent program, never the single-threaded state.
W5  --threads threads (default 2) each add 1 to a counter under one Lock n
    times; ns per add, the count checked.  They all start together: each
    waits at a barrier and then on an event that is set after the clock
    starts.  The note says how often the lock changed hands (a last-owner
    variable read and written under the lock).
W10 threading.Thread start + join; ns.
W7  1000 tasks each sleeping 0.1 s on a 1000-worker ThreadPoolExecutor;
    wall ms, cpu_ns per task, every task's sleep timed (>= 0.1 s).  "W7
    first pool": a new executor each run (its threads start inside the
    clock); "W7 reused pool": one executor's later rounds, after a first
    full round has started its 1000 threads.
W9  a no-op round trip through a ProcessPoolExecutor of --threads workers
    (fork context); ns per trip, the pool up before the clock.  cpu_ns
    counts the workers' CPU (reaped when the pool shuts down inside each
    run), their start and exit included: the note says so.
W6  the seed's CPU-bound map, sum(i*i for i in range(n)) over 8 values,
    with a ThreadPoolExecutor and with a ProcessPoolExecutor of --threads
    workers, against one thread right before: speed-up x1000; cpu_ns per
    task run (8 in sequence and 8 over the pool each repetition).

Every row: one warm-up run on a quarter of the work, then --reps timed
runs; CSV rows with the CPU time per operation (see pybench.py)."""
import concurrent.futures
import multiprocessing
import threading
import time

import pybench

W7_WORKERS = 1000
TENTH_NS = 100_000_000


def w4(n):
    lock = threading.Lock()
    start = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return (time.perf_counter() - start) * 1e9 / n


def w5(n, threads):
    lock = threading.Lock()
    state = {"count": 0, "hand_overs": 0, "last": -1}
    ready = threading.Barrier(threads + 1)
    go = threading.Event()

    def add(me):
        ready.wait()
        go.wait()
        for _ in range(n):
            with lock:
                state["count"] += 1
                if state["last"] != me:
                    if state["last"] >= 0:
                        state["hand_overs"] += 1
                    state["last"] = me

    workers = [threading.Thread(target=add, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    ready.wait()
    start = time.perf_counter()
    go.set()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - start
    adds = threads * n
    if state["count"] != adds:
        pybench.fail(f"W5 python: count {state['count']}, expected {adds}")
    pybench.tally["events"] += state["hand_overs"]
    pybench.tally["ops"] += adds
    pybench.note = ("hand-overs per 10 adds: "
                    f"{10 * pybench.tally['events'] / pybench.tally['ops']:.3g}")
    return elapsed * 1e9 / adds


def cpu_bound_task(number):
    return sum(i * i for i in range(number))


def w6(base, executor_class, threads):
    numbers = [base + x for x in range(8)]
    start = time.perf_counter()
    serial = [cpu_bound_task(n) for n in numbers]
    one = time.perf_counter() - start
    with executor_class(max_workers=threads) as pool:
        start = time.perf_counter()
        pooled = list(pool.map(cpu_bound_task, numbers))
        many = time.perf_counter() - start
    if pooled != serial:
        pybench.fail("W6 python: results differ")
    return 1000 * one / many


def sleep_tenth():
    """Sleep 0.1 s; how long the sleep really lasted, in ns."""
    t0 = time.perf_counter_ns()
    time.sleep(0.1)
    return time.perf_counter_ns() - t0


def w7_round(pool, n):
    """n sleeps on pool, all waited for and checked; wall ms."""
    start = time.perf_counter()
    fs = [pool.submit(sleep_tenth) for _ in range(n)]
    concurrent.futures.wait(fs)
    elapsed = time.perf_counter() - start
    for i, f in enumerate(fs):
        if f.exception() is not None or f.result() < TENTH_NS:
            pybench.fail(f"W7 python: task {i} failed or slept less than 0.1 s")
    return elapsed * 1000


def w7_first(n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=W7_WORKERS) as pool:
        return w7_round(pool, n)


def echo(x):
    return x


def w9(n, threads):
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=threads, mp_context=context) as pool:
        pool.submit(echo, 0).result()  # the workers are up
        start = time.perf_counter()
        for i in range(n):
            if pool.submit(echo, i).result() != i:
                pybench.fail("W9 python: wrong result")
        elapsed = time.perf_counter() - start
    pybench.note = "cpu_ns includes starting and stopping the worker processes"
    return elapsed * 1e9 / n


def w10(n):
    start = time.perf_counter()
    for _ in range(n):
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
    return (time.perf_counter() - start) * 1e9 / n


def main():
    p = pybench.parser(2000000, 3, "W4 pairs per run (W5: a tenth per thread)")
    p.add_argument("--w6-base", type=int, default=10000000,
                   help="W6: the smallest n (the seed's 10_000_000)")
    args = pybench.parse(p)
    threads, reps = args.threads, args.reps
    started = threading.Thread(target=lambda: None)  # W4's rule: a thread has run
    started.start()
    started.join()
    pybench.row("W4", "CPython threading.Lock", w4, args.items, reps)
    per_thread = max(1, args.items // 10)
    pybench.row("W5", "CPython threading.Lock", lambda n: w5(n, threads), per_thread, reps,
                ops=per_thread * threads)
    pybench.row("W10", "CPython Thread start+join", w10, max(1, args.items // 500), reps)
    pybench.row("W7 first pool", "CPython ThreadPoolExecutor", w7_first, W7_WORKERS, reps)
    with concurrent.futures.ThreadPoolExecutor(max_workers=W7_WORKERS) as pool:
        w7_round(pool, W7_WORKERS)  # the first round: all 1000 threads started
        pybench.row("W7 reused pool", "CPython ThreadPoolExecutor",
                    lambda n: w7_round(pool, n), W7_WORKERS, reps)
    pybench.row("W9", "CPython ProcessPoolExecutor", lambda n: w9(n, threads),
                max(1, args.items // 1000), reps)
    for label, executor in (("CPython threads", concurrent.futures.ThreadPoolExecutor),
                            ("CPython processes", concurrent.futures.ProcessPoolExecutor)):
        pybench.row("W6", label, lambda b, e=executor: w6(b, e, threads), args.w6_base, reps,
                    ops=16)


if __name__ == "__main__":
    main()
