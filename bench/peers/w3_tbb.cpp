/* SPDX-License-Identifier: MIT */
// w3_tbb.cpp — docs/benchmarks.md W3 peer: oneTBB concurrent_bounded_queue with
// capacity 1024, 1P/1C and 2P/2C (and NP/NC for --threads N above 2:
// w3_rows.h), ns per item, the consumers' checksum verified.  CSV rows
// through bench_peer_row (bench_util.h compiles as C++ too).
#include "w3_rows.h"

#include <tbb/concurrent_queue.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

static double run(int pairs, long items)
{
    tbb::concurrent_bounded_queue<std::uintptr_t> queue;
    queue.set_capacity(1024);
    long per = items >= pairs ? items / pairs : 1;
    std::atomic<std::uint64_t> total{0};
    std::vector<std::thread> threads;
    auto t0 = std::chrono::steady_clock::now();
    for (int p = 0; p < pairs; p++) {
        threads.emplace_back([&] {
            std::uint64_t sum = 0;
            for (long i = 0; i < per; i++) {
                std::uintptr_t v;
                queue.pop(v);
                sum += v;
            }
            total += sum;
        });
        threads.emplace_back([&] {
            for (long i = 1; i <= per; i++)
                queue.push(static_cast<std::uintptr_t>(i));
        });
    }
    for (auto &t : threads)
        t.join();
    auto ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    if (total != w3_expected(pairs, per)) {
        std::fprintf(stderr, "W3 tbb: items lost\n");
        std::exit(1);
    }
    return ns / static_cast<double>(per * pairs);
}

int main(int argc, char **argv)
{
    long items = 2000000;
    int reps = 9;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    w3_rows("oneTBB concurrent_bounded_queue", run, items, reps);
    return 0;
}
