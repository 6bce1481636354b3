# SPDX-License-Identifier: MIT
"""w4567_python.py — BENCH.md peers in CPython: W4 (uncontended
threading.Lock), W5 (two threads adding to a counter under a Lock), W6 (the
seed's CPU-bound map over 8 values with threads and with processes, speed-up
x1000 against one thread), W7 (1000 x sleep(0.1) on a 1000-worker
ThreadPoolExecutor, ms), W9 (a no-op round trip through a 2-worker
ProcessPoolExecutor, fork context) and W10 (threading.Thread start + join).  Each run
checks its result.  CSV rows, like the C peers."""
import argparse
import concurrent.futures
import multiprocessing
import threading
import time


def w4(n):
    lock = threading.Lock()
    start = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return (time.perf_counter() - start) * 1e9 / n


def w5(n):
    lock = threading.Lock()
    count = [0]

    def add():
        for _ in range(n):
            with lock:
                count[0] += 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if count[0] != 2 * n:
        raise SystemExit(f"W5 python: count {count[0]}, expected {2 * n}")
    return elapsed * 1e9 / (2 * n)


def cpu_bound_task(number):
    return sum(i * i for i in range(number))


def w6(base, executor_class):
    numbers = [base + x for x in range(8)]
    start = time.perf_counter()
    serial = [cpu_bound_task(n) for n in numbers]
    one = time.perf_counter() - start
    with executor_class(max_workers=2) as pool:
        start = time.perf_counter()
        pooled = list(pool.map(cpu_bound_task, numbers))
        many = time.perf_counter() - start
    if pooled != serial:
        raise SystemExit("W6 python: results differ")
    return 1000 * one / many


def w7(n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        start = time.perf_counter()
        fs = [pool.submit(time.sleep, 0.1) for _ in range(n)]
        concurrent.futures.wait(fs)
        elapsed = time.perf_counter() - start
    if not all(f.done() and f.exception() is None for f in fs):
        raise SystemExit("W7 python: a task failed")
    return elapsed * 1000


def echo(x):
    return x


def w9(n):
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        pool.submit(echo, 0).result()  # the workers are up
        start = time.perf_counter()
        for i in range(n):
            if pool.submit(echo, i).result() != i:
                raise SystemExit("W9 python: wrong result")
        elapsed = time.perf_counter() - start
    return elapsed * 1e9 / n


def w10(n):
    start = time.perf_counter()
    for _ in range(n):
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
    return (time.perf_counter() - start) * 1e9 / n


def row(name, impl, fn, n, reps, warm=True):
    if warm:
        fn(n)
    s = sorted(fn(n) for _ in range(reps))
    print(f"{name},{impl},{s[len(s) // 2]:.2f},{s[0]:.2f},{s[-1]:.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000000, help="W4 pairs per run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--w6-base", type=int, default=10000000,
                        help="W6: the smallest n (the seed's 10_000_000)")
    args = parser.parse_args()
    row("W4", "CPython threading.Lock", w4, args.items, args.reps)
    row("W5", "CPython threading.Lock", w5, args.items // 10, args.reps)
    row("W10", "CPython Thread start+join", w10, max(1, args.items // 500), args.reps)
    row("W7", "CPython ThreadPoolExecutor", w7, 1000, args.reps)
    row("W9", "CPython ProcessPoolExecutor", w9, max(1, args.items // 1000), args.reps)
    row("W6", "CPython threads", lambda b: w6(b, concurrent.futures.ThreadPoolExecutor),
        args.w6_base, args.reps, warm=False)
    row("W6", "CPython processes", lambda b: w6(b, concurrent.futures.ProcessPoolExecutor),
        args.w6_base, args.reps, warm=False)


if __name__ == "__main__":
    main()
