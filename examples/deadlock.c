/* SPDX-License-Identifier: MIT */
/* deadlock.c — the guides' two-lock deadlock, and two ways out.
 *
 * Two threads each need locks A and B.  One takes A then B, the other B
 * then A: each can end up holding one lock and waiting forever for the
 * other.  This program never hangs: the first run takes the second lock
 * with a timeout, so a thread caught in the cycle gives up, says so, backs
 * off and retries.  The second run takes the locks in one global order (A
 * before B, everywhere), which makes the cycle impossible.
 *
 * Run with WEFT_DEBUG=1 and weft also reports the opposite orders as a
 * potential deadlock (a lock-order inversion), even in runs that got lucky.
 *
 * Usage: deadlock [rounds]   (default 200)
 */
#include <weft.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static weft_lock lock_a = WEFT_LOCK_INIT, lock_b = WEFT_LOCK_INIT;
static int rounds = 200;
static long shared_total;
static _Atomic int gave_up;

struct order {
    weft_lock *first, *second;
};

/* Take `first`, then try `second` for a moment; on timeout, release
 * `first`, back off and start again. */
static void *with_timeouts(void *arg)
{
    const struct order *o = arg;
    for (int i = 0; i < rounds; i++) {
        for (;;) {
            weft_lock_acquire(o->first);
            weft_sleep(0.0001); /* widen the window: the cycle forms often */
            if (weft_lock_acquire_timeout(o->second, 0.001) == WEFT_OK)
                break;
            weft_lock_release(o->first); /* caught in the cycle: back off */
            atomic_fetch_add(&gave_up, 1);
            /* unequal pauses, so that the two do not retry in step forever */
            weft_sleep(o->first == &lock_a ? 0.0001 : 0.0003);
        }
        shared_total++;
        weft_lock_release(o->second);
        weft_lock_release(o->first);
    }
    return NULL;
}

/* The fix: both threads take A before B. */
static void *in_order(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        weft_lock_acquire(&lock_a);
        weft_sleep(0.0001);
        weft_lock_acquire(&lock_b);
        shared_total++;
        weft_lock_release(&lock_b);
        weft_lock_release(&lock_a);
    }
    return NULL;
}

/* A weft call that failed: say which and why, and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1); /* not return: a running thread may use main's orders */
    }
}

static long run_pair(weft_thread_fn fn, void *arg1, void *arg2)
{
    shared_total = 0;
    weft_thread *t1, *t2;
    check(weft_thread_new(&t1, fn, arg1, NULL), "weft_thread_new");
    check(weft_thread_new(&t2, fn, arg2, NULL), "weft_thread_new");
    check(weft_thread_start(t1), "weft_thread_start");
    check(weft_thread_start(t2), "weft_thread_start");
    check(weft_thread_join(t1, NULL), "weft_thread_join");
    check(weft_thread_join(t2, NULL), "weft_thread_join");
    weft_thread_free(t1);
    weft_thread_free(t2);
    return shared_total;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (rounds < 1 || rounds > 100000) {
        fprintf(stderr, "usage: %s [rounds 1-100000]\n", argv[0]);
        return 2;
    }
    struct order ab = {&lock_a, &lock_b}, ba = {&lock_b, &lock_a};
    long total = run_pair(with_timeouts, &ab, &ba);
    printf("opposite orders, with timeouts: %ld of %d updates, %d times a thread backed off "
           "instead of deadlocking\n",
           total, 2 * rounds, atomic_load(&gave_up));
    total = run_pair(in_order, NULL, NULL);
    printf("one global order: %ld of %d updates, no back-off needed\n", total, 2 * rounds);
    return 0;
}
