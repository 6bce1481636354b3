/* SPDX-License-Identifier: MIT */
/* work_list.c — lock-free adding, serialised taking (see work_list.h). */
#include "work_list.h"

#include "lock_internal.h"
#include "weft/status.h"

#define GATE_CLOSED ((uint64_t)1)
#define GATE_ENTER ((uint64_t)2)
#define GATE_INSIDE ((uint64_t)0xfffffffe)
#define GATE_ADDED_ONE ((uint64_t)1 << 32)

#define MAILBOX_OPEN ((uintptr_t)1)

#define ROLE_HELD 1u
#define POKE 2u

/* A parked worker, on its own stack while it sleeps; claimed (by a waker,
 * or by itself) once unlinked from `idle`. */
struct weft_idle_worker {
    weft_list_node node;    /* in list->idle (idle_lock) */
    _Atomic uint32_t woken; /* set once claimed; the worker parks on it */
    bool counted;           /* its waker counted it in list->waking */
};

/* Woken workers on their way beyond which an adder or a poke wakes no more
 * (W7, 1000 tasks submitted to 1000 parked workers: the submitter's
 * wake-ups took 8-9 us each, 7.8-9.1 ms for the burst). */
#define WAKE_AHEAD 2

void weft__work_list_init(weft_work_list *list, long capacity)
{
    atomic_init(&list->stub.next, NULL);
    atomic_init(&list->tail, &list->stub);
    atomic_init(&list->gate, 0);
    weft_lock_init(&list->take_lock);
    list->head = &list->stub;
    atomic_init(&list->taken, 0);
    atomic_init(&list->sealed, false);
    atomic_init(&list->role, 0);
    atomic_init(&list->parked, 0);
    atomic_init(&list->waking, 0);
    atomic_init(&list->mailbox, 0);
    list->other = NULL;
    list->other_ctx = NULL;
    weft_lock_init(&list->idle_lock);
    weft__list_init(&list->idle);
    list->capacity = capacity > 0 ? capacity : 0;
    atomic_init(&list->room, list->capacity);
    atomic_init(&list->room_waiters, 0);
    list->room_changed = (weft_eventcount)WEFT_EVENTCOUNT_INIT;
}

static uint32_t added_count(weft_work_list *list)
{
    return (uint32_t)(atomic_load(&list->gate) >> 32);
}

/* Items are there (or being linked) that nobody has taken. */
static bool has_items(weft_work_list *list)
{
    return added_count(list) != atomic_load(&list->taken);
}

void weft__work_list_set_other_work(weft_work_list *list, const weft_other_work *other,
                                    void *ctx)
{
    list->other = other;
    list->other_ctx = ctx;
}

static bool role_held(weft_work_list *list) { return atomic_load(&list->role) & ROLE_HELD; }

static uint32_t pokes_of(uint32_t role) { return role >> 1; }

static bool other_work(weft_work_list *list)
{
    return list->other && list->other->present(list->other_ctx);
}

bool weft__work_list_closed(weft_work_list *list)
{
    return atomic_load(&list->gate) & GATE_CLOSED;
}

size_t weft__work_list_count(weft_work_list *list)
{
    /* An item can be taken before its adder has counted it. */
    int32_t n = (int32_t)(added_count(list) - atomic_load(&list->taken));
    return n > 0 ? (size_t)n : 0;
}

/* ---- idle workers ----------------------------------------------------------- */

static void unlink_idle(weft_work_list *list, struct weft_idle_worker *w)
{
    weft__list_remove(&w->node);
    atomic_fetch_sub(&list->parked, 1);
}

/* The newest parked worker, unlinked; NULL if none (idle_lock held). */
static struct weft_idle_worker *claim_idle(weft_work_list *list)
{
    weft_list_node *node = weft__list_first(&list->idle);
    if (!node)
        return NULL;
    struct weft_idle_worker *w = WEFT_LIST_ENTRY(node, struct weft_idle_worker, node);
    unlink_idle(list, w);
    return w;
}

static void wake(struct weft_idle_worker *w)
{
    atomic_store(&w->woken, 1);
    weft__unpark_one(&w->woken);
}

/* Wake the newest parked worker, counted in `waking` (it stops counting
 * itself before it looks for work); false if none is parked. */
static bool wake_counted(weft_work_list *list)
{
    weft__lock_take(&list->idle_lock);
    struct weft_idle_worker *w = claim_idle(list);
    if (w) {
        w->counted = true;
        atomic_fetch_add(&list->waking, 1);
    }
    weft_lock_release(&list->idle_lock);
    if (w)
        wake(w);
    return w != NULL;
}

/* Wake one parked worker, if any, unless somebody is already looking for
 * work or on the way to (WAKE_AHEAD).  The common case (a worker spins, or
 * none is parked) reads two words.  Sequentially consistent against the
 * woken worker, which stops counting itself, then looks: an item added
 * before this read of `waking` is seen by a worker counted in it. */
static void wake_one_if_idle(weft_work_list *list)
{
    if (!atomic_load(&list->parked) || role_held(list) ||
        atomic_load(&list->waking) >= WAKE_AHEAD)
        return;
    wake_counted(list);
}

/* A worker took an item and more are there: wake two parked workers for
 * them (one if only one is left, as any adder would), whoever else is on
 * the way: the wake-ups spread as a tree. */
static void pass_wake_on(weft_work_list *list)
{
    if (weft__work_list_count(list) < 2) {
        wake_one_if_idle(list);
        return;
    }
    for (int i = 0; i < 2 && atomic_load(&list->parked); i++)
        if (!wake_counted(list))
            return;
}

void weft__work_list_poke(weft_work_list *list)
{
    /* The role's holder is told by the count (an add only then: a pool
     * whose workers are all busy pays two reads per push). */
    if (role_held(list) && (atomic_fetch_add(&list->role, POKE) & ROLE_HELD))
        return;
    /* Nobody holds it: wake a parked worker, whoever takes the role next
     * (it may run its own deque's task and never look).  While two are on
     * their way, none: each looks at the other work as it takes (took_one)
     * or steals when woken for nothing. */
    if (atomic_load(&list->parked) && atomic_load(&list->waking) < WAKE_AHEAD)
        wake_counted(list);
}

void weft__work_list_wake_all(weft_work_list *list)
{
    weft__lock_take(&list->idle_lock);
    struct weft_idle_worker *w;
    while ((w = claim_idle(list)))
        wake(w); /* its node stays valid until it sees `woken` */
    weft_lock_release(&list->idle_lock);
}

static bool woken(void *worker, uint32_t *expected)
{
    struct weft_idle_worker *w = worker;
    *expected = 0;
    return atomic_load(&w->woken);
}

/* Park until an item is there, the list is sealed, or a waker chose us;
 * false without parking if other work is there.  Registered first, then
 * one more look: an adder links its item (a poker its work) before it
 * looks for parked workers, so one of the two sees the other. */
static bool park_idle(weft_work_list *list)
{
    struct weft_idle_worker self;
    atomic_init(&self.woken, 0);
    self.counted = false;
    weft__lock_take(&list->idle_lock);
    weft__list_push_front(&list->idle, &self.node);
    atomic_fetch_add(&list->parked, 1);
    weft_lock_release(&list->idle_lock);
    bool other = false;
    if (has_items(list) || atomic_load(&list->sealed) || (other = other_work(list))) {
        weft__lock_take(&list->idle_lock);
        bool claimed = !weft__list_linked(&self.node);
        if (!claimed)
            unlink_idle(list, &self);
        weft_lock_release(&list->idle_lock);
        if (!claimed)
            return !other;
    }
    /* Asleep, or chosen by a waker that has yet to set `woken`: the node
     * must stay on this stack until it has.  Not cancellable: a cancelled
     * task's worker still waits for work here. */
    weft_wait_spec spec = {.ready = woken, .ctx = &self, .word = &self.woken};
    weft__wait_for(&spec, WEFT_NO_DEADLINE);
    if (self.counted)
        atomic_fetch_sub(&list->waking, 1); /* before it looks: see wake_one_if_idle */
    return true;
}

/* ---- adding ------------------------------------------------------------------- */

/* Reserving a place in a bounded list. */
struct reserving {
    weft_work_list *list;
    int rc;
};

static inline bool take_room(weft_work_list *list)
{
    long room = atomic_load(&list->room);
    while (room > 0)
        if (atomic_compare_exchange_weak(&list->room, &room, room - 1))
            return true;
    return false;
}

/* A place taken, or the list closed (r->rc says which). */
static bool room_or_closed(void *reserving, uint32_t *expected)
{
    (void)expected;
    struct reserving *r = reserving;
    r->rc = take_room(r->list) ? WEFT_OK
            : atomic_load(&r->list->gate) & GATE_CLOSED ? WEFT_ESHUTDOWN
                                                        : WEFT_EAGAIN;
    return r->rc != WEFT_EAGAIN;
}

static int reserve_room(weft_work_list *list, int64_t deadline)
{
    if (take_room(list))
        return WEFT_OK; /* the fast path, inline */
    struct reserving r = {list, WEFT_OK};
    if (room_or_closed(&r, NULL))
        return r.rc;
    if (weft__deadline_passed(deadline))
        return WEFT_EFULL;
    /* Counted before the wait's looks at the room: give_room adds room,
     * then reads the count, so one of the two sees the other. */
    atomic_fetch_add(&list->room_waiters, 1);
    weft_wait_spec spec = {.ready = room_or_closed, .ctx = &r, .ec = &list->room_changed};
    int rc = weft__wait_for(&spec, deadline);
    atomic_fetch_sub(&list->room_waiters, 1);
    return rc == WEFT_OK ? r.rc : rc == WEFT_ETIMEDOUT ? WEFT_EFULL : rc;
}

static void give_room(weft_work_list *list)
{
    atomic_fetch_add(&list->room, 1);
    if (atomic_load(&list->room_waiters))
        weft__eventcount_notify_one(&list->room_changed);
}

/* Hand the item to the polling spinner, if one polls now and the list is
 * empty: an adder's items are taken in the order it added them, so one
 * must not overtake its own item still queued.  An item handed over as the
 * list closes still runs: the spinner takes it before it looks at anything
 * else, and close's callers wait for the workers. */
static bool hand_to_spinner(weft_work_list *list, weft_work_node *node)
{
    uintptr_t open = MAILBOX_OPEN;
    if (atomic_load_explicit(&list->mailbox, memory_order_relaxed) != open ||
        (atomic_load_explicit(&list->gate, memory_order_relaxed) & GATE_CLOSED) ||
        has_items(list))
        return false;
    atomic_store_explicit(&node->next, NULL, memory_order_relaxed);
    return atomic_compare_exchange_strong(&list->mailbox, &open, (uintptr_t)node);
}

int weft__work_list_add(weft_work_list *list, weft_work_node *node, int64_t deadline)
{
    if (hand_to_spinner(list, node))
        return WEFT_OK;
    if (list->capacity) {
        int rc = reserve_room(list, deadline);
        if (rc != WEFT_OK)
            return rc;
    }
    /* Entering and the closer's flag are both sequentially consistent: the
     * closer either sees us inside and waits, or we see the flag.  The item
     * is counted as it enters, before it is linked: "no items" must mean
     * every item that entered was taken, or hand_to_spinner could let an
     * adder's next item overtake this one (counted after linking, another
     * adder's linked-but-uncounted item could be taken meanwhile, making
     * the counts equal with this one still queued: seen under TSan as a
     * worker taking an adder's items out of order). */
    if (atomic_fetch_add(&list->gate, GATE_ENTER + GATE_ADDED_ONE) & GATE_CLOSED) {
        atomic_fetch_sub(&list->gate, GATE_ENTER + GATE_ADDED_ONE);
        if (list->capacity)
            give_room(list);
        return WEFT_ESHUTDOWN;
    }
    atomic_store_explicit(&node->next, NULL, memory_order_relaxed);
    weft_work_node *prev = atomic_exchange(&list->tail, node);
    atomic_store_explicit(&prev->next, node, memory_order_release);
    atomic_fetch_sub(&list->gate, GATE_ENTER);
    wake_one_if_idle(list);
    return WEFT_OK;
}

/* ---- taking ------------------------------------------------------------------- */

enum { TAKE_EMPTY, TAKE_OK, TAKE_MIDWAY };

/* Vyukov's pop, with the take lock held.  MIDWAY: an adder has swapped the
 * tail but not linked its item yet; it will in a moment. */
static int pop_locked(weft_work_list *list, weft_work_node **out)
{
    weft_work_node *head = list->head;
    weft_work_node *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &list->stub) {
        if (!next)
            return atomic_load(&list->tail) == head ? TAKE_EMPTY : TAKE_MIDWAY;
        list->head = head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (!next) {
        if (atomic_load(&list->tail) != head)
            return TAKE_MIDWAY;
        /* head is the last item: put the stub behind it to take it. */
        atomic_store_explicit(&list->stub.next, NULL, memory_order_relaxed);
        weft_work_node *prev = atomic_exchange(&list->tail, &list->stub);
        atomic_store_explicit(&prev->next, &list->stub, memory_order_release);
        next = atomic_load_explicit(&head->next, memory_order_acquire);
        if (!next)
            return TAKE_MIDWAY;
    }
    list->head = next;
    *out = head;
    return TAKE_OK;
}

static int try_take(weft_work_list *list, weft_work_node **node)
{
    weft__lock_take(&list->take_lock);
    int rc = pop_locked(list, node);
    if (rc == TAKE_OK)
        atomic_store_explicit(&list->taken, atomic_load_explicit(&list->taken,
                                                                 memory_order_relaxed) + 1,
                              memory_order_seq_cst);
    weft_lock_release(&list->take_lock);
    return rc;
}

/* Take the spinner's role, noting the pokes so far: those that come while
 * it is held are its holder's to see.  (Those before: the holder looks at
 * the other work after taking the role, in take or in the pool's steal.) */
static bool become_spinner(weft_work_list *list, weft_work_taker *taker)
{
    uint32_t role = atomic_load(&list->role);
    while (!(role & ROLE_HELD))
        if (atomic_compare_exchange_weak(&list->role, &role, role | ROLE_HELD)) {
            taker->pokes = pokes_of(role);
            return true;
        }
    return false;
}

void weft__work_list_claim_spinner(weft_work_list *list, weft_work_taker *taker)
{
    if (!taker->spinning &&
        !(atomic_load_explicit(&list->role, memory_order_relaxed) & ROLE_HELD))
        taker->spinning = become_spinner(list, taker);
}

/* Give the role up.  Unless the holder goes to look at the other work
 * itself (`looking`), pokes it was sent while it held the role go to a
 * parked worker: poke() left them to the holder, which is busy now.  One
 * read-modify-write of the role word: a poke either counts before it (and
 * is seen here) or finds the role given up (and wakes a worker itself). */
static void drop_role(weft_work_list *list, weft_work_taker *taker, bool looking)
{
    if (!taker->spinning)
        return;
    taker->spinning = false;
    uint32_t role = atomic_fetch_and(&list->role, ~ROLE_HELD);
    if (!looking && pokes_of(role) != taker->pokes && atomic_load(&list->parked))
        wake_counted(list);
}

void weft__work_list_release_spinner(weft_work_list *list, weft_work_taker *taker)
{
    bool held = taker->spinning;
    drop_role(list, taker, false);
    /* A submit may have left its item to us: hand it to a parked worker. */
    if (held && has_items(list))
        wake_one_if_idle(list);
}

/* An item is taken (from the list: queued; else from the mailbox). */
static int took_one(weft_work_list *list, weft_work_taker *taker, bool queued)
{
    drop_role(list, taker, false);
    if (queued && list->capacity)
        give_room(list);
    /* Work is left that this worker cannot run now: pass the wake-up on,
     * so that parked workers run it.  Parked workers looked at first: with
     * every worker awake (W1's steady state) the counts' line, which every
     * add writes, is not pulled over at each take.  Work elsewhere (a
     * deque) wakes one whoever holds the role: a poke held back by
     * WAKE_AHEAD counts on the workers on their way to look here. */
    if (atomic_load(&list->parked)) {
        if (has_items(list))
            pass_wake_on(list);
        else if (other_work(list))
            wake_counted(list);
    }
    return WEFT_OK;
}

int weft__work_list_take(weft_work_list *list, weft_work_taker *taker, weft_work_node **node,
                        bool wait)
{
    weft_work_taker one_off = {.spinning = false};
    bool parked = false, may_spin = taker != NULL, looked = false;
    uint32_t pokes = 0;
    if (!taker)
        taker = &one_off;
    weft_backoff backoff = WEFT_BACKOFF_INIT;
    weft_poll poll = WEFT_POLL_INIT;
    for (;;) {
        int rc = try_take(list, node);
        if (rc == TAKE_OK)
            return took_one(list, taker, true);
        if (rc == TAKE_EMPTY && atomic_load(&list->sealed)) {
            weft__work_list_release_spinner(list, taker);
            return WEFT_ESHUTDOWN;
        }
        if (!wait && rc == TAKE_EMPTY)
            return WEFT_EEMPTY; /* a spinner stays one */
        if (parked && rc == TAKE_EMPTY)
            return WEFT_EAGAIN; /* woken for nothing: the caller looks around */
        if (rc == TAKE_MIDWAY) {
            /* The adder is between its exchange and its link, a few
             * instructions that never block, and leaves no word to park
             * on: spin, and yield only if it was preempted there. */
            weft__backoff_pause_or_yield(&backoff);
            continue;
        }
        if (may_spin && !taker->spinning && (taker->spinning = become_spinner(list, taker)))
            poll = (weft_poll)WEFT_POLL_INIT;
        if (taker->spinning && !looked) {
            /* Idle, as a poker can see (the role is held): take the pokes'
             * count, look at the other work once, then watch the pokes. */
            pokes = pokes_of(atomic_load(&list->role));
            looked = true;
            if (other_work(list)) {
                drop_role(list, taker, true);
                return WEFT_EAGAIN;
            }
        }
        if (taker->spinning) {
            /* Look with reads only (the counts, the mailbox); take the
             * lock once something is there. */
            atomic_store(&list->mailbox, MAILBOX_OPEN);
            bool more = weft__poll_pause(&poll);
            while (more && !has_items(list) && !atomic_load(&list->sealed) &&
                   pokes_of(atomic_load_explicit(&list->role, memory_order_relaxed)) == pokes &&
                   atomic_load_explicit(&list->mailbox, memory_order_relaxed) == MAILBOX_OPEN)
                more = weft__poll_pause(&poll);
            uintptr_t handed = atomic_exchange(&list->mailbox, 0);
            if (handed != MAILBOX_OPEN) {
                *node = (weft_work_node *)handed;
                return took_one(list, taker, false);
            }
            if (more && pokes_of(atomic_load(&list->role)) != pokes) {
                drop_role(list, taker, true);
                return WEFT_EAGAIN; /* work elsewhere: the caller looks */
            }
            if (more)
                continue;
            drop_role(list, taker, true); /* park_idle looks again */
        }
        if (!park_idle(list))
            return WEFT_EAGAIN; /* other work came: the caller looks */
        parked = true;
    }
}

/* ---- closing ------------------------------------------------------------------- */

void weft__work_list_close(weft_work_list *list)
{
    atomic_fetch_or(&list->gate, GATE_CLOSED);
    /* The submitters inside are linking one item each, a few instructions
     * that never block: spin (yielding to one preempted there) rather than
     * park, which would make every add check for a closer to wake. */
    weft_backoff backoff = WEFT_BACKOFF_INIT;
    while (atomic_load(&list->gate) & GATE_INSIDE)
        weft__backoff_pause_or_yield(&backoff);
    if (list->other)
        list->other->quiesce(list->other_ctx);
    atomic_store(&list->sealed, true);
    weft__work_list_wake_all(list);
    if (list->capacity)
        weft__eventcount_notify_all(&list->room_changed);
}
