/* SPDX-License-Identifier: MIT */
// w1_tbb.cpp — docs/benchmarks.md W1 peer: oneTBB task_group (no future): run N no-op
// tasks, wait for all.  CSV rows through bench_peer_row (bench_util.h is C
// that C++ compiles too: the same command line, warm-up and CPU column as
// the C peers).
//
// Fairness:
// - Threads: tbb::global_control(max_allowed_parallelism, --threads) caps
//   TBB at the number of threads that run tasks in weft's pool (default 2).
//   TBB counts the submitting thread among them: it runs tasks while it
//   waits in task_group::wait.  The old version built a task_arena inside
//   every repetition; a program keeps its arena, here the implicit one.
// - The note says what fraction of the tasks ran inline on the submitting
//   thread (this_task_arena::current_thread_index() equal to the
//   submitter's), as OpenMP's row does.
#include "../bench_util.h"

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

// Over the repetitions of one size (the warm-up is another size).
static long totals_n, total_tasks, total_inline;

static void note_inline(long n, long inlined)
{
    if (n != totals_n) {
        totals_n = n;
        total_tasks = 0;
        total_inline = 0;
    }
    total_tasks += n;
    total_inline += inlined;
    std::snprintf(bench_note, sizeof bench_note, "inline on the submitter: %.1f%%",
                  100.0 * static_cast<double>(total_inline) / static_cast<double>(total_tasks));
}

static double w1(long n)
{
    std::atomic<long> done{0}, inlined{0};
    auto t0 = std::chrono::steady_clock::now();
    {
        int submitter = tbb::this_task_arena::current_thread_index();
        tbb::task_group group;
        for (long i = 0; i < n; i++)
            group.run([&] {
                if (tbb::this_task_arena::current_thread_index() == submitter)
                    inlined.fetch_add(1, std::memory_order_relaxed);
                done.fetch_add(1, std::memory_order_relaxed);
            });
        group.wait();
    }
    auto ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    if (done != n) {
        std::fprintf(stderr, "W1 tbb: tasks lost\n");
        std::exit(1);
    }
    note_inline(n, inlined.load());
    return ns / static_cast<double>(n);
}

int main(int argc, char **argv)
{
    long items = 1000000;
    int reps = 5;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    tbb::global_control threads(tbb::global_control::max_allowed_parallelism,
                                static_cast<std::size_t>(bench_threads));
    bench_peer_row("W1", "oneTBB task_group (no future)", w1, items, reps);
    return 0;
}
