# SPDX-License-Identifier: MIT
"""w3_python.py — BENCH.md W3 peer: CPython's queue.Queue(1024) with threads,
1P/1C and 2P/2C, ns per item.  CSV rows like the other peers."""
import argparse
import queue
import threading
import time


def run(pairs, items):
    q = queue.Queue(1024)
    per = items // pairs
    totals = []

    def producer():
        for i in range(1, per + 1):
            q.put(i)

    def consumer():
        s = 0
        for _ in range(per):
            s += q.get()
        totals.append(s)

    threads = []
    for _ in range(pairs):
        threads.append(threading.Thread(target=consumer))
        threads.append(threading.Thread(target=producer))
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if sum(totals) != pairs * per * (per + 1) // 2:
        raise SystemExit("W3 python: items lost")
    return elapsed * 1e9 / (per * pairs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    for pairs in (1, 2):
        run(pairs, args.items // 4)
        samples = sorted(run(pairs, args.items) for _ in range(args.reps))
        print(f"W3 {pairs}P/{pairs}C,CPython queue.Queue,"
              f"{samples[len(samples) // 2]:.2f},{samples[0]:.2f},{samples[-1]:.2f}")


if __name__ == "__main__":
    main()
