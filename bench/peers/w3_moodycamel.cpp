/* SPDX-License-Identifier: MIT */
// w3_moodycamel.cpp — docs/benchmarks.md W3 peer: moodycamel's BlockingConcurrentQueue
// (header-only C++, Debian libconcurrentqueue-dev), 1P/1C and 2P/2C (and
// NP/NC for --threads N above 2: w3_rows.h), ns per item, the consumers'
// checksum verified.  CSV rows through bench_peer_row.
//
// Written as its README advises for speed: each producer enqueues through
// its own ProducerToken and each consumer takes with wait_dequeue through
// its own ConsumerToken (the token-less calls look the producer's sub-queue
// up per item).  The queue is unbounded, like GLib's GAsyncQueue: it has no
// blocking enqueue on a full queue, so docs/benchmarks.md's capacity of 1024 cannot be
// expressed and the label says so; 1024 is the initial capacity it is made
// with.  Its blocking side is its own LightweightSemaphore (a short spin,
// then a kernel semaphore).  Order is FIFO per producer only, which the
// checksum does not depend on.
#include "w3_rows.h"

#include <blockingconcurrentqueue.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

static double run(int pairs, long items)
{
    moodycamel::BlockingConcurrentQueue<std::uintptr_t> queue(1024);
    long per = items >= pairs ? items / pairs : 1;
    std::atomic<std::uint64_t> total{0};
    std::vector<std::thread> threads;
    auto t0 = std::chrono::steady_clock::now();
    for (int p = 0; p < pairs; p++) {
        threads.emplace_back([&] {
            moodycamel::ConsumerToken token(queue);
            std::uint64_t sum = 0;
            for (long i = 0; i < per; i++) {
                std::uintptr_t v;
                queue.wait_dequeue(token, v);
                sum += v;
            }
            total += sum;
        });
        threads.emplace_back([&] {
            moodycamel::ProducerToken token(queue);
            for (long i = 1; i <= per; i++)
                if (!queue.enqueue(token, static_cast<std::uintptr_t>(i))) {
                    std::fprintf(stderr, "W3 moodycamel: enqueue failed\n");
                    std::exit(1);
                }
        });
    }
    for (auto &t : threads)
        t.join();
    auto ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    if (total != w3_expected(pairs, per)) {
        std::fprintf(stderr, "W3 moodycamel: items lost\n");
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
    w3_rows("moodycamel BlockingConcurrentQueue (unbounded)", run, items, reps);
    return 0;
}
