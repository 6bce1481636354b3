# SPDX-License-Identifier: MIT
"""w14_mpi4py.py — W14's peer: mpi4py.futures' MPIPoolExecutor, the way its
users write it, run as `mpiexec -n 4 python3 -m mpi4py.futures w14_mpi4py.py`
(rank 0 runs this, ranks 1-3 serve).  Rows as bench_mpi's:
  W14 no-op  ns per submit(...).result() of a no-op
  W14 map    2,000 x time.sleep(0.001) through executor.map, chunksize 1:
             ideal / taken x1000 (and a second row with chunksize 16)
"""
import argparse
import statistics
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def noop(x):
    return x


def sleep_1ms(x):
    time.sleep(0.001)
    return x


def row(workload, impl, values, cpu, note):
    values = sorted(values)
    print(f"{workload},{impl},{statistics.median(values):.1f},{values[0]:.1f},{values[-1]:.1f},"
          f"{cpu:.1f},{note}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--threads", type=int)  # compare.py's; the ranks are mpiexec's
    a = ap.parse_args()
    workers = MPI.COMM_WORLD.Get_size() - 1
    with MPIPoolExecutor() as pool:
        pool.submit(noop, 0).result()
        trips, c0 = [], time.process_time()
        for _ in range(a.reps):
            t = time.perf_counter()
            for i in range(a.items):
                assert pool.submit(noop, i).result() == i
            trips.append((time.perf_counter() - t) / a.items * 1e9)
        cpu = (time.process_time() - c0) / a.reps / a.items * 1e9
        row("W14 no-op", "mpi4py.futures", trips, cpu, "cpu_ns: rank 0's")
        for chunk in (1, 16):
            eff, c0 = [], time.process_time()
            for _ in range(a.reps):
                t = time.perf_counter()
                out = list(pool.map(sleep_1ms, range(a.tasks), chunksize=chunk))
                assert out == list(range(a.tasks))
                eff.append(a.tasks * 0.001 / workers / (time.perf_counter() - t) * 1000)
            cpu = (time.process_time() - c0) / a.reps / a.tasks * 1e9
            name = "mpi4py.futures" if chunk == 1 else "mpi4py.futures chunksize 16"
            t = time.perf_counter()
            for _ in range(200):
                time.sleep(0.001)
            sleep_ms = (time.perf_counter() - t) / 200 * 1000
            row("W14 map", name, eff, cpu,
                f"{a.tasks} x 1 ms; {workers} workers; chunksize {chunk}; a 1 ms sleep takes "
                f"{sleep_ms:.3f} ms here: {statistics.median(eff) / 1000 * sleep_ms:.3f} of that ideal")


if __name__ == "__main__":
    main()
