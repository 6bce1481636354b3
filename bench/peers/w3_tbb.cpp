/* SPDX-License-Identifier: MIT */
// w3_tbb.cpp — BENCH.md W3 peer: oneTBB concurrent_bounded_queue with
// capacity 1024, 1P/1C and 2P/2C, ns per item.  CSV rows like the others.
#include <tbb/concurrent_queue.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

static double run(int pairs, long items)
{
    tbb::concurrent_bounded_queue<std::uintptr_t> queue;
    queue.set_capacity(1024);
    long per = items / pairs;
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
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::uint64_t n = static_cast<std::uint64_t>(per);
    if (total != static_cast<std::uint64_t>(pairs) * n * (n + 1) / 2) {
        std::fprintf(stderr, "W3 tbb: items lost\n");
        std::exit(1);
    }
    return ns / static_cast<double>(per * pairs);
}

int main(int argc, char **argv)
{
    long items = 2000000;
    int reps = 9;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--items"))
            items = std::atol(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--reps"))
            reps = std::atoi(argv[i + 1]);
    }
    if (reps < 1)
        return 2;
    for (int pairs = 1; pairs <= 2; pairs++) {
        run(pairs, items / 4);
        std::vector<double> s;
        for (int i = 0; i < reps; i++)
            s.push_back(run(pairs, items));
        std::sort(s.begin(), s.end());
        std::printf("W3 %dP/%dC,oneTBB concurrent_bounded_queue,%.2f,%.2f,%.2f\n", pairs, pairs,
                    s[s.size() / 2], s.front(), s.back());
    }
    return 0;
}
