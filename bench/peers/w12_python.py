# SPDX-License-Identifier: MIT
"""w12_python.py — docs/benchmarks.md W1 and W2 peer: CPython's ThreadPoolExecutor
with --threads workers (default 2, as weft's pool).  W1: submit N no-op
tasks keeping every future, wait for all, check every result; W2: submit
one, wait for its result, repeat.  The executor is built before the clock
(its threads start on the first submits, inside it, as in any Python
program).  CSV rows with the CPU time per task."""
import concurrent.futures
import time

import pybench


def noop(x):
    return x


def w1(n, threads):
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.perf_counter()
        fs = [pool.submit(noop, i) for i in range(n)]
        concurrent.futures.wait(fs)
        elapsed = time.perf_counter() - start
        if any(f.result() != i for i, f in enumerate(fs)):
            pybench.fail("W1 python: wrong result")
    return elapsed * 1e9 / n


def w2(n, threads):
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.perf_counter()
        for i in range(n):
            if pool.submit(noop, i).result() != i:
                pybench.fail("W2 python: wrong result")
        elapsed = time.perf_counter() - start
    return elapsed * 1e9 / n


def main():
    args = pybench.parse(pybench.parser(50000, 3, "W1 tasks per run (W2: a fifth)"))
    pybench.row("W1", "CPython ThreadPoolExecutor", lambda n: w1(n, args.threads), args.items,
                args.reps)
    pybench.row("W2", "CPython ThreadPoolExecutor", lambda n: w2(n, args.threads),
                max(1, args.items // 5), args.reps)

if __name__ == "__main__":
    main()
