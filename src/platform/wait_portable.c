/* SPDX-License-Identifier: MIT */
/* wait_portable.c — weft__pf_wait/wake without futexes, for systems that lack
 * them (selected with -DWEFT_PORTABLE_WAIT=ON).
 *
 * Waiters are hashed by address into buckets of a mutex and a condition
 * variable on the monotonic clock.  A waker changes the word first, then
 * takes the bucket's mutex and broadcasts, so a waiter that checked the word
 * under that mutex cannot miss the wake-up.  Addresses sharing a bucket only
 * cause spurious wake-ups, which every caller tolerates. */
#define _POSIX_C_SOURCE 200809L
#include "platform.h"
#include "weft/status.h"

#include <pthread.h>
#include <time.h>

#define BUCKETS 64

static struct bucket {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    unsigned waiters;
} buckets[BUCKETS];

static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

static void bucket_init(struct bucket *b)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&b->mutex, NULL);
    pthread_cond_init(&b->cond, &attr);
    pthread_condattr_destroy(&attr);
    b->waiters = 0;
}

static void buckets_init(void)
{
    for (int i = 0; i < BUCKETS; i++)
        bucket_init(&buckets[i]);
}

/* A bucket's mutex held by another thread at a fork would stay held in the
 * child: weft's fork handlers take them all last before a fork (a weft lock
 * taken before may need them), release them first after it, and start the
 * child's afresh (its only thread waits nowhere). */
void weft__pf_wait_atfork(int phase)
{
    pthread_once(&buckets_once, buckets_init);
    for (int i = 0; i < BUCKETS; i++) {
        if (phase == 0)
            pthread_mutex_lock(&buckets[i].mutex);
        else if (phase == 1)
            pthread_mutex_unlock(&buckets[i].mutex);
        else
            bucket_init(&buckets[i]);
    }
}

static struct bucket *bucket_of(const void *addr)
{
    pthread_once(&buckets_once, buckets_init);
    uintptr_t h = (uintptr_t)addr;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15u;
    return &buckets[(h >> 20) % BUCKETS];
}

int weft__pf_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ns)
{
    struct bucket *b = bucket_of(word);
    int rc = WEFT_OK;
    pthread_mutex_lock(&b->mutex);
    if (atomic_load(word) == expected) {
        b->waiters++;
        if (deadline_ns == WEFT_PF_NO_DEADLINE) {
            pthread_cond_wait(&b->cond, &b->mutex);
        } else {
            struct timespec ts = {
                .tv_sec = (time_t)(deadline_ns / 1000000000),
                .tv_nsec = (long)(deadline_ns % 1000000000),
            };
            pthread_cond_timedwait(&b->cond, &b->mutex, &ts);
        }
        b->waiters--;
    }
    pthread_mutex_unlock(&b->mutex);
    if (deadline_ns != WEFT_PF_NO_DEADLINE && weft__pf_now_ns() >= deadline_ns)
        rc = WEFT_ETIMEDOUT;
    return rc;
}

void weft__pf_wake(_Atomic uint32_t *word, int32_t n)
{
    (void)n;
    struct bucket *b = bucket_of(word);
    pthread_mutex_lock(&b->mutex);
    if (b->waiters)
        pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mutex);
}
