# SPDX-License-Identifier: MIT
"""w3_python.py — docs/benchmarks.md W3 peer: CPython's queue.Queue(1024) with
threads, 1 producer / 1 consumer and 2 / 2, blocking put/get, ns per item,
the items' sum checked.  The shapes are W3's own: --threads is accepted for
a command line like every peer's and changes nothing here (Go's W3 peer
takes it as GOMAXPROCS; CPython's GIL runs one thread at a time whatever
it is).  CSV rows with the CPU time per item."""
import queue
import threading
import time

import pybench


def run(pairs, items):
    q = queue.Queue(1024)
    per = max(1, items // pairs)
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
        pybench.fail("W3 python: items lost")
    return elapsed * 1e9 / (per * pairs)


def main():
    args = pybench.parse(pybench.parser(200000, 5, "items per run"))
    for pairs in (1, 2):
        pybench.row(f"W3 {pairs}P/{pairs}C", "CPython queue.Queue",
                    lambda n, pairs=pairs: run(pairs, n), args.items, args.reps,
                    ops=max(1, args.items // pairs) * pairs)


if __name__ == "__main__":
    main()
