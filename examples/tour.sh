#!/bin/sh
# SPDX-License-Identifier: MIT
# tour.sh BUILD_DIR — `make demo`: the guides' programs in C, in the order
# the guides teach them, each saying what it shows and how long it took.
set -e
bin="$1/examples"
step() {
    title="$1"; shift
    printf '\n== %s\n   $ %s\n' "$title" "$*"
    start=$(date +%s.%N)
    "$bin/$@"
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "   (%.2f s)\n", e - s }'
}
step "Sequential vs threads: five 1-second waits, one after another, then overlapped" \
    sequential_vs_threads 5 1.0
step "Threads: start and join two, then ten in a list" threads_basics 0.5
step "Subclassing Thread: a struct that embeds the thread" thread_subclass
step "Thread pools: map keeps input order, as_completed yields the first done" pool_basics 0.2
step "A race condition: updates lost without a lock, none with one" shared_counter 0.1
step "Synchronization: lock, RLock, semaphore, event, condition" synchronization 0.1
step "Deadlock: two locks in opposite orders, escaped with timeouts, fixed with one order" \
    deadlock 200
step "Thread-local data: per-request state no other thread sees" thread_local_request 8
step "Queues: sentinel, shutdown, task_done/join, priority" queues 20
if [ -x "$bin/download_images" ]; then
    step "I/O: 10 image downloads from a slow server, in a row and on a pool" \
        download_images 10 0.2
fi
step "Coroutines (asyncio): gather, create_task, to_thread, and a call that blocks the loop" \
    coro_basics 0.4
step "Coroutines: wait_for, a deadline scope, cancelling, uncancel, a task group that fails" \
    coro_timeouts 0.1
step "Coroutines or threads: 10000 concurrent sleeps, time and memory" coro_vs_threads 10000 0.5
step "Threads and coroutines: one queue from producer threads to consumer coroutines" \
    threads_and_coroutines 2000 100 0.01
step "Networking: an HTTP/1.1 server on coroutines, asked a few requests by a coroutine client" \
    http_server --demo
step "Networking: a chat server; every message goes through a worker thread and back on queues" \
    chat_server --demo
if [ -x "$bin/downloads_curl" ]; then
    step "Networking: 50 downloads, libcurl's multi-socket interface on coroutines, then a pool" \
        downloads_curl 50 100 20
fi
step "CPU-bound work: one thread, the thread pool, the process pool (no GIL in C)" \
    cpu_three_ways 100000000
if [ -x "$bin/mpi_map" ] && command -v mpiexec >/dev/null; then
    # Open MPI: as root, and with more ranks than CPUs, it must be told so.
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_rmaps_base_oversubscribe=1
    printf '\n== %s\n   $ mpiexec -n 4 mpi_map 100000000\n' \
        "Past one machine: the same map on the process pool, then on 3 MPI ranks"
    mpiexec -n 4 "$bin/mpi_map" 100000000
fi
printf '\nThe tour is over: the sources are in examples/, the guide in docs/guide.md.\n'
