/* SPDX-License-Identifier: MIT */
// w1_tbb.cpp — BENCH.md W1 peer: oneTBB task_group in a 2-thread arena (no
// future): run N no-op tasks, wait for all.  CSV rows.
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static double w1(long n)
{
    tbb::task_arena arena(2);
    std::atomic<long> done{0};
    auto t0 = std::chrono::steady_clock::now();
    arena.execute([&] {
        tbb::task_group group;
        for (long i = 0; i < n; i++)
            group.run([&] { done.fetch_add(1, std::memory_order_relaxed); });
        group.wait();
    });
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    if (done != n) {
        std::fprintf(stderr, "W1 tbb: tasks lost\n");
        std::exit(1);
    }
    return ns / static_cast<double>(n);
}

int main(int argc, char **argv)
{
    long items = 1000000;
    int reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--items"))
            items = std::atol(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--reps"))
            reps = std::atoi(argv[i + 1]);
    }
    if (reps < 1)
        return 2;
    w1(items / 4 + 1);
    std::vector<double> s;
    for (int i = 0; i < reps; i++)
        s.push_back(w1(items));
    std::sort(s.begin(), s.end());
    std::printf("W1,oneTBB task_group (no future),%.2f,%.2f,%.2f\n", s[s.size() / 2], s.front(),
                s.back());
    return 0;
}
