/* SPDX-License-Identifier: MIT */
/* event.c — Event.
 *
 * The word holds the flag in bit 0 and, above it, a count of set() calls.
 * A waiter remembers the count when it starts; it returns as soon as the
 * flag is set or the count has moved, so a set() immediately undone by a
 * clear() still releases everyone who was waiting (CPython gh-57711).
 */
#include "weft/event.h"

#include "park.h"
#include "weft/status.h"

#include <stdio.h>

#define FLAG 1u

int weft_event_init(weft_event *event)
{
    if (!event)
        return WEFT_EINVAL;
    atomic_init(&event->word_, 0);
    atomic_init(&event->sleepers_, 0);
    return WEFT_OK;
}

int weft_event_destroy(weft_event *event)
{
    if (!event)
        return WEFT_EINVAL;
    return atomic_load(&event->sleepers_) ? WEFT_ESTATE : WEFT_OK;
}

int weft_event_set(weft_event *event)
{
    if (!event)
        return WEFT_EINVAL;
    uint32_t w = atomic_load_explicit(&event->word_, memory_order_relaxed);
    do {
        if (w & FLAG)
            return WEFT_OK;
    } while (!atomic_compare_exchange_weak(&event->word_, &w, (w + 2) | FLAG));
    if (atomic_load(&event->sleepers_))
        weft__unpark_all(&event->word_);
    return WEFT_OK;
}

int weft_event_clear(weft_event *event)
{
    if (!event)
        return WEFT_EINVAL;
    atomic_fetch_and_explicit(&event->word_, ~FLAG, memory_order_relaxed);
    return WEFT_OK;
}

bool weft_event_is_set(const weft_event *event)
{
    return event && (atomic_load_explicit(&event->word_, memory_order_acquire) & FLAG);
}

static bool set_since(uint32_t now, uint32_t start)
{
    return (now & FLAG) || (now >> 1) != (start >> 1);
}

struct waiting {
    weft_event *event;
    uint32_t start; /* the word when the wait began */
};

/* Set since the wait began; else sleep while the word stays as it is. */
static bool set_yet(void *ctx, uint32_t *expected)
{
    const struct waiting *w = ctx;
    *expected = atomic_load(&w->event->word_);
    return set_since(*expected, w->start);
}

static int wait_until(weft_event *event, int64_t deadline)
{
    uint32_t start = atomic_load_explicit(&event->word_, memory_order_acquire);
    if (start & FLAG)
        return WEFT_OK;
    struct waiting w = {event, start};
    weft_wait_spec spec = {
        .ready = set_yet,
        .ctx = &w,
        .word = &event->word_,
        .cancellable = true,
        .cancel_beats_deadline = true};
    atomic_fetch_add(&event->sleepers_, 1);
    int rc = weft__wait_for(&spec, deadline);
    atomic_fetch_sub(&event->sleepers_, 1);
    return rc;
}

int weft_event_wait(weft_event *event)
{
    if (!event)
        return WEFT_EINVAL;
    return wait_until(event, WEFT_NO_DEADLINE);
}

int weft_event_wait_timeout(weft_event *event, double timeout)
{
    int64_t deadline;
    if (!event)
        return WEFT_EINVAL;
    int rc = weft__deadline_after(timeout, &deadline);
    return rc ? rc : wait_until(event, deadline);
}

int weft_event_repr(const weft_event *event, char *buf, size_t size)
{
    return snprintf(buf, size, "<weft_event at %p: %s>", (const void *)event,
                    weft_event_is_set(event) ? "set" : "unset");
}
