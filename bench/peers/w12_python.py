# SPDX-License-Identifier: MIT
"""w12_python.py — BENCH.md W1 and W2 peer: CPython's ThreadPoolExecutor with
2 workers.  W1: submit N no-op tasks keeping every future, wait for all;
W2: submit one, wait for its result, repeat.  CSV rows."""
import argparse
import concurrent.futures
import time


def noop(x):
    return x


def w1(n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        start = time.perf_counter()
        fs = [pool.submit(noop, i) for i in range(n)]
        concurrent.futures.wait(fs)
        elapsed = time.perf_counter() - start
        if any(f.result() != i for i, f in enumerate(fs)):
            raise SystemExit("W1 python: wrong result")
    return elapsed * 1e9 / n


def w2(n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        start = time.perf_counter()
        for i in range(n):
            if pool.submit(noop, i).result() != i:
                raise SystemExit("W2 python: wrong result")
        elapsed = time.perf_counter() - start
    return elapsed * 1e9 / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=50000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    for name, fn, n in (("W1", w1, args.items), ("W2", w2, args.items // 5)):
        fn(max(1, n // 4))
        s = sorted(fn(n) for _ in range(args.reps))
        print(f"{name},CPython ThreadPoolExecutor,{s[len(s) // 2]:.2f},{s[0]:.2f},{s[-1]:.2f}")


if __name__ == "__main__":
    main()
