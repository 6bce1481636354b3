/* SPDX-License-Identifier: MIT */
/* test_cxx.cpp — weft used from a C++ program: the headers compile as C++,
 * the static initializers work for namespace-scope objects (and are
 * constant initialization), WEFT_WITH / WEFT_SCOPED release on every way out
 * (exceptions too), the objects work with std::thread, and the structs have
 * the layout the C library was built with.  No cmocka (a C library); each
 * failed check is printed and the exit status is the number of failures. */
#include "weft.h"

#include "cxx_layout.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char *what, const char *file, int line)
{
    if (!ok) {
        std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
        ++failures;
    }
}

void check_status(int got, int want, const char *what, const char *file, int line)
{
    if (got != want) {
        std::fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", file, line, what,
                     weft_status_name(got), weft_status_name(want));
        ++failures;
    }
}

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)
#define CHECK_STATUS(want, call) check_status((call), (want), #call, __FILE__, __LINE__)

/* Long enough never to pass on a loaded machine; a hang becomes a failure. */
const double PATIENCE = 60.0;

/* ---- static initializers ---------------------------------------------- */

#if __cplusplus >= 202002L
#define TEST_CONSTINIT constinit /* the compiler proves constant initialization */
#else
#define TEST_CONSTINIT
#endif

TEST_CONSTINIT weft_lock g_lock = WEFT_LOCK_INIT;
TEST_CONSTINIT weft_rlock g_rlock = WEFT_RLOCK_INIT;
TEST_CONSTINIT weft_condition g_cond = WEFT_CONDITION_INIT;
TEST_CONSTINIT weft_semaphore g_sem = WEFT_SEMAPHORE_INIT(0);
TEST_CONSTINIT weft_semaphore g_bounded = WEFT_BOUNDED_SEMAPHORE_INIT(2);
TEST_CONSTINIT weft_event g_event = WEFT_EVENT_INIT;
TEST_CONSTINIT weft_local g_local = WEFT_LOCAL_INIT(nullptr);

/* Before C++20: each initializer is a constant expression (these compile),
 * so the statics above, which use the same text, are constant-initialized:
 * filled in before any code runs, whatever the order of initialization. */
constexpr weft_lock k_lock = WEFT_LOCK_INIT;
constexpr weft_rlock k_rlock = WEFT_RLOCK_INIT;
constexpr weft_condition k_cond = WEFT_CONDITION_INIT;
constexpr weft_semaphore k_bounded = WEFT_BOUNDED_SEMAPHORE_INIT(2);
constexpr weft_event k_event = WEFT_EVENT_INIT;
constexpr weft_local k_local = WEFT_LOCAL_INIT(nullptr);
static_assert(k_lock.state_ == 0 && k_rlock.depth_ == 0 && k_cond.kind_ == 0, "free");
static_assert(k_bounded.value_ == 2 && k_bounded.bound_ == 2 && k_bounded.bounded_ == 1,
              "bounded semaphore at its bound");
static_assert(k_event.word_ == 0 && k_local.slot_ == 0, "unset");

/* C code copies and zero-fills these structs; C++ must see them as C does. */
#define TEST_PLAIN_TYPE(T)                                                     \
    static_assert(std::is_standard_layout<T>::value && std::is_trivial<T>::value, \
                  #T " is a plain C type");
WEFT_LAYOUT_TYPES_(TEST_PLAIN_TYPE)

/* ---- layout ------------------------------------------------------------- */

const weft_layout_entry layout_cxx[] = WEFT_LAYOUT_TABLE_;

void test_layout_matches_c()
{
    size_t n = sizeof layout_cxx / sizeof layout_cxx[0];
    CHECK(n == weft_layout_c_count);
    for (size_t i = 0; i < n && i < weft_layout_c_count; i++) {
        CHECK(std::strcmp(layout_cxx[i].what, weft_layout_c[i].what) == 0);
        if (layout_cxx[i].value != weft_layout_c[i].value) {
            std::fprintf(stderr, "layout differs: %s is %zu in C++, %zu in C\n",
                         layout_cxx[i].what, layout_cxx[i].value, weft_layout_c[i].value);
            ++failures;
        }
    }
}

/* ---- lock and WEFT_WITH ------------------------------------------------- */

int leave_with_by_return(weft_lock *lock)
{
    WEFT_WITH(lock) {
        if (weft_lock_locked(lock))
            return 1;
    }
    return 0;
}

void leave_scoped_by_throw(weft_lock *lock)
{
    WEFT_SCOPED(lock);
    if (weft_lock_locked(lock))
        throw std::runtime_error("leaving the scope");
}

void test_lock_counts_under_with()
{
    const int threads = 4, rounds = 20000;
    long counter = 0;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++)
        pool.emplace_back([&counter] {
            for (int i = 0; i < rounds; i++)
                WEFT_WITH(&g_lock) {
                    counter++;
                }
        });
    for (std::thread &t : pool)
        t.join();
    CHECK(counter == long(threads) * rounds);
    CHECK(!weft_lock_locked(&g_lock));
}

void test_with_releases_at_the_end_and_on_return()
{
    int runs = 0;
    WEFT_WITH(&g_lock) {
        CHECK(weft_lock_locked(&g_lock));
        runs++;
    }
    CHECK(runs == 1);
    CHECK(!weft_lock_locked(&g_lock));

    CHECK(leave_with_by_return(&g_lock) == 1);
    CHECK(!weft_lock_locked(&g_lock));
}

void test_with_and_scoped_release_on_exceptions()
{
    bool caught = false;
    try {
        WEFT_WITH(&g_lock) {
            throw std::runtime_error("leaving the block");
        }
    } catch (const std::runtime_error &) {
        caught = true;
    }
    CHECK(caught);
    CHECK(!weft_lock_locked(&g_lock));

    caught = false;
    try {
        leave_scoped_by_throw(&g_lock);
    } catch (const std::runtime_error &) {
        caught = true;
    }
    CHECK(caught);
    CHECK(!weft_lock_locked(&g_lock));
}

void test_with_break_scoped_block_and_null()
{
    int runs = 0;
    for (int i = 0; i < 3; i++)
        WEFT_WITH(&g_lock) {
            runs++;
            break; /* leaves the WEFT_WITH, not the loop around it */
        }
    CHECK(runs == 3);
    CHECK(!weft_lock_locked(&g_lock));

    {
        WEFT_SCOPED(&g_lock);
        CHECK(weft_lock_locked(&g_lock));
    }
    CHECK(!weft_lock_locked(&g_lock));

    weft_lock *none = nullptr;
    bool ran = false;
    WEFT_WITH(none) {
        ran = true;
    }
    CHECK(!ran);
}

/* ---- rlock -------------------------------------------------------------- */

void test_rlock_nests_and_belongs_to_its_owner()
{
    WEFT_WITH(&g_rlock) {
        WEFT_WITH(&g_rlock) {
            CHECK(weft_rlock_recursion_count(&g_rlock) == 2);
        }
        CHECK(weft_rlock_recursion_count(&g_rlock) == 1);
        int other_try = -1, other_release = -1;
        std::thread other([&] {
            other_try = weft_rlock_try_acquire(&g_rlock);
            other_release = weft_rlock_release(&g_rlock);
        });
        other.join();
        CHECK_STATUS(WEFT_ETIMEDOUT, other_try);
        CHECK_STATUS(WEFT_ENOTOWNER, other_release);
        CHECK(weft_rlock_is_owned(&g_rlock));
    }
    CHECK(!weft_rlock_locked(&g_rlock));

    try {
        WEFT_WITH(&g_rlock) {
            WEFT_SCOPED(&g_rlock);
            throw std::logic_error("two levels");
        }
    } catch (const std::logic_error &) {
    }
    CHECK(!weft_rlock_locked(&g_rlock));
    CHECK(weft_rlock_recursion_count(&g_rlock) == 0);
}

/* ---- condition ---------------------------------------------------------- */

int flag_is_set(void *arg) { return *static_cast<int *>(arg) != 0; }

void test_condition_wakes_every_waiter()
{
    const int waiters = 6;
    int go = 0, woke = 0, ready = 0;
    std::vector<int> status(waiters, -1);
    std::vector<std::thread> pool;
    for (int t = 0; t < waiters; t++)
        pool.emplace_back([&, t] {
            WEFT_WITH(&g_cond) {
                ready++;
                weft_condition_notify_all(&g_cond);
                status[t] = weft_condition_wait_for_timeout(&g_cond, flag_is_set, &go, PATIENCE);
                woke++;
            }
        });
    int all_ready = -1;
    WEFT_WITH(&g_cond) {
        all_ready = weft_condition_wait_for_timeout(
            &g_cond, [](void *arg) -> int { return *static_cast<int *>(arg) == waiters; },
            &ready, PATIENCE);
        go = 1;
        CHECK_STATUS(WEFT_OK, weft_condition_notify_all(&g_cond));
    }
    for (std::thread &t : pool)
        t.join();
    CHECK_STATUS(WEFT_OK, all_ready);
    for (int s : status)
        CHECK_STATUS(WEFT_OK, s);
    CHECK(woke == waiters);
    CHECK(!weft_condition_locked(&g_cond));
    CHECK_STATUS(WEFT_ENOTOWNER, weft_condition_notify(&g_cond, 1));
}

/* ---- semaphore, event, local -------------------------------------------- */

void test_semaphores_from_static_initializers()
{
    CHECK(weft_semaphore_value(&g_bounded) == 2);
    WEFT_WITH(&g_bounded) {
        CHECK(weft_semaphore_value(&g_bounded) == 1);
    }
    CHECK_STATUS(WEFT_OK, weft_semaphore_try_acquire(&g_bounded));
    CHECK_STATUS(WEFT_OK, weft_semaphore_try_acquire(&g_bounded));
    CHECK_STATUS(WEFT_ETIMEDOUT, weft_semaphore_try_acquire(&g_bounded));
    CHECK_STATUS(WEFT_OK, weft_semaphore_release_n(&g_bounded, 2));
    CHECK_STATUS(WEFT_EINVAL, weft_semaphore_release(&g_bounded)); /* above its bound */
    CHECK(weft_semaphore_value(&g_bounded) == 2);

    const int items = 500;
    std::thread producer([] {
        for (int i = 0; i < items; i++)
            weft_semaphore_release(&g_sem);
    });
    int taken = 0;
    for (int i = 0; i < items; i++)
        taken += weft_semaphore_acquire_timeout(&g_sem, PATIENCE) == WEFT_OK;
    producer.join();
    CHECK(taken == items);
    CHECK(weft_semaphore_value(&g_sem) == 0);
}

void test_event_and_local_from_static_initializers()
{
    CHECK(!weft_event_is_set(&g_event));
    CHECK_STATUS(WEFT_ETIMEDOUT, weft_event_wait_timeout(&g_event, 0));
    int mine = 1, theirs = 2;
    CHECK_STATUS(WEFT_OK, weft_local_set(&g_local, &mine));
    void *seen_there = &mine;
    std::thread setter([&] {
        seen_there = weft_local_get(&g_local);
        weft_local_set(&g_local, &theirs);
        weft_event_set(&g_event);
    });
    CHECK_STATUS(WEFT_OK, weft_event_wait_timeout(&g_event, PATIENCE));
    setter.join();
    CHECK(weft_event_is_set(&g_event));
    CHECK(seen_there == nullptr);
    CHECK(weft_local_get(&g_local) == &mine);
    CHECK_STATUS(WEFT_OK, weft_local_delete(&g_local));
}

/* ---- queue -------------------------------------------------------------- */

void *as_item(std::uintptr_t n) { return reinterpret_cast<void *>(n); }
std::uintptr_t as_number(void *item) { return reinterpret_cast<std::uintptr_t>(item); }

void test_queue_carries_every_item_once()
{
    weft_queue *q = nullptr;
    CHECK_STATUS(WEFT_OK, weft_queue_new(&q, 8));
    if (!q)
        return;
    const int producers = 3, consumers = 2, per_producer = 3000;
    std::vector<std::thread> pool;
    for (int p = 0; p < producers; p++)
        pool.emplace_back([=] {
            for (int i = 1; i <= per_producer; i++)
                weft_queue_put_timeout(q, as_item(std::uintptr_t(p) * per_producer + i),
                                       PATIENCE);
        });
    std::vector<std::uintptr_t> sums(consumers, 0), counts(consumers, 0);
    std::vector<int> last(consumers, -1);
    std::vector<std::thread> takers;
    for (int c = 0; c < consumers; c++)
        takers.emplace_back([&, c] {
            void *item = nullptr;
            int rc;
            while ((rc = weft_queue_get_timeout(q, &item, PATIENCE)) == WEFT_OK) {
                sums[c] += as_number(item);
                counts[c]++;
                weft_queue_task_done(q);
            }
            last[c] = rc;
        });
    for (std::thread &t : pool)
        t.join();
    CHECK_STATUS(WEFT_OK, weft_queue_join_timeout(q, PATIENCE));
    CHECK_STATUS(WEFT_OK, weft_queue_shutdown(q, false));
    for (std::thread &t : takers)
        t.join();
    std::uintptr_t n = std::uintptr_t(producers) * per_producer;
    CHECK(counts[0] + counts[1] == n);
    CHECK(sums[0] + sums[1] == n * (n + 1) / 2);
    for (int rc : last)
        CHECK_STATUS(WEFT_ESHUTDOWN, rc);
    CHECK_STATUS(WEFT_OK, weft_queue_free(q));

    weft_queue *lifo = nullptr;
    CHECK_STATUS(WEFT_OK, weft_lifo_queue_new(&lifo, 0));
    for (std::uintptr_t i = 1; i <= 3; i++)
        weft_queue_put(lifo, as_item(i));
    void *item = nullptr;
    for (std::uintptr_t want = 3; want >= 1; want--) {
        CHECK_STATUS(WEFT_OK, weft_queue_get_nowait(lifo, &item));
        CHECK(as_number(item) == want);
    }
    CHECK_STATUS(WEFT_EEMPTY, weft_queue_get_nowait(lifo, &item));
    CHECK_STATUS(WEFT_OK, weft_queue_free(lifo));
}

/* ---- thread pool and futures -------------------------------------------- */

long g_pool_counter = 0; /* guarded by g_lock */

void *square_and_count(void *arg)
{
    WEFT_WITH(&g_lock) {
        g_pool_counter++;
    }
    std::uintptr_t n = as_number(arg);
    return as_item(n * n);
}

void *refuse(void *arg)
{
    return weft_fail(WEFT_EINVAL, "refused %d", static_cast<int>(as_number(arg)));
}

void test_thread_pool_futures()
{
    weft_thread_pool_options options{};
    options.max_workers = 4;
    options.thread_name_prefix = "cxx";
    weft_executor *pool = nullptr;
    CHECK_STATUS(WEFT_OK, weft_thread_pool_new(&pool, &options));
    if (!pool)
        return;
    const std::uintptr_t tasks = 200;
    std::vector<weft_future *> futures(tasks, nullptr);
    for (std::uintptr_t i = 0; i < tasks; i++)
        CHECK_STATUS(WEFT_OK, weft_executor_submit(pool, square_and_count, as_item(i), &futures[i]));
    weft_future *failing = nullptr;
    CHECK_STATUS(WEFT_OK, weft_executor_submit(pool, refuse, as_item(7), &failing));
    futures.push_back(failing);

    CHECK_STATUS(WEFT_OK, weft_wait(futures.data(), futures.size(), PATIENCE,
                                    WEFT_ALL_COMPLETED, nullptr));
    for (std::uintptr_t i = 0; i < tasks; i++) {
        void *result = nullptr;
        CHECK_STATUS(WEFT_OK, weft_future_result_timeout(futures[i], 0, &result));
        CHECK(as_number(result) == i * i);
        CHECK(weft_future_get_state(futures[i]) == WEFT_FUTURE_FINISHED);
    }
    void *result = nullptr;
    CHECK_STATUS(WEFT_EFAILED, weft_future_result(failing, &result));
    CHECK_STATUS(WEFT_EINVAL, weft_future_error_code(failing));
    CHECK(std::strcmp(weft_future_error_message(failing), "refused 7") == 0);
    for (weft_future *f : futures)
        weft_future_release(f);

    CHECK_STATUS(WEFT_OK, weft_executor_shutdown(pool, true, false));
    CHECK_STATUS(WEFT_ESHUTDOWN, weft_executor_submit(pool, square_and_count, as_item(1), nullptr));
    CHECK_STATUS(WEFT_OK, weft_executor_free(pool));
    WEFT_WITH(&g_lock) {
        CHECK(g_pool_counter == long(tasks));
    }
}

} /* namespace */

int main()
{
    test_layout_matches_c();
    test_lock_counts_under_with();
    test_with_releases_at_the_end_and_on_return();
    test_with_and_scoped_release_on_exceptions();
    test_with_break_scoped_block_and_null();
    test_rlock_nests_and_belongs_to_its_owner();
    test_condition_wakes_every_waiter();
    test_semaphores_from_static_initializers();
    test_event_and_local_from_static_initializers();
    test_queue_carries_every_item_once();
    test_thread_pool_futures();
    if (failures)
        std::fprintf(stderr, "test_cxx: %d check(s) failed\n", failures);
    else
        std::printf("test_cxx: all checks passed (C++ %ld)\n", static_cast<long>(__cplusplus));
    return failures ? 1 : 0;
}
