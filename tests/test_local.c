/* SPDX-License-Identifier: MIT */
/* test_local.c — weft_local against the Python behaviours (docs/python.md) "local". */
#include "testutil.h"

static atomic_int destroyed;
static void count_destroy(void *value)
{
    atomic_fetch_add(&destroyed, 1);
    free(value);
}

static int *boxed(int v)
{
    int *p = malloc(sizeof *p);
    *p = v;
    return p;
}

static weft_local data = WEFT_LOCAL_INIT(count_destroy);
static atomic_int other_saw;

static void read_in_other_thread(int index, void *arg)
{
    (void)index;
    (void)arg;
    atomic_store(&other_saw, weft_local_get(&data) == NULL ? 0 : 1);
}

/* local 1 [test_threading_local.test_threading_local] */
static void local_values_are_per_thread(void **state)
{
    (void)state;
    weft_local_set(&data, boxed(42));
    atomic_store(&other_saw, -1);
    bunch_join(bunch_start(1, read_in_other_thread, NULL));
    assert_int_equal(atomic_load(&other_saw), 0); /* Python: AttributeError */
    assert_int_equal(*(int *)weft_local_get(&data), 42);
    weft_local_delete(&data);
    assert_null(weft_local_get(&data));
}

static atomic_int own_value_errors;
static void set_then_read_own(int index, void *arg)
{
    (void)arg;
    weft_local_set(&data, boxed(index));
    nap(0.01); /* the slow __init__ of the Python test */
    int *mine = weft_local_get(&data);
    if (!mine || *mine != index)
        atomic_fetch_add(&own_value_errors, 1);
}

/* local 2 [test_threading_local.test_derived] */
static void local_ten_threads_each_see_their_own(void **state)
{
    (void)state;
    bunch_join(bunch_start(10, set_then_read_own, NULL));
    assert_int_equal(atomic_load(&own_value_errors), 0);
}

static atomic_int init_calls;
static void *make_default(void *arg)
{
    atomic_fetch_add(&init_calls, 1);
    return boxed(*(int *)arg);
}
static int default_value = 7;
static weft_local with_init = WEFT_LOCAL_INIT_WITH(make_default, &default_value, count_destroy);
static atomic_int init_errors;
static void touch_twice(int index, void *arg)
{
    (void)index;
    (void)arg;
    int *a = weft_local_get(&with_init);
    int *b = weft_local_get(&with_init);
    if (!a || a != b || *a != 7)
        atomic_fetch_add(&init_errors, 1);
}

/* local 3, 4 [test_threading_local.test_arguments, doctest]: the
 * per-thread __init__ with its constructor argument runs once per thread. */
static void local_init_runs_once_in_each_thread(void **state)
{
    (void)state;
    atomic_store(&init_calls, 0);
    bunch_join(bunch_start(4, touch_twice, NULL));
    assert_int_equal(atomic_load(&init_calls), 4);
    assert_int_equal(atomic_load(&init_errors), 0);
}

static void set_and_exit(int index, void *arg)
{
    (void)index;
    weft_local_set(arg, boxed(index));
}

/* local 6 [test_threading_local.test_local_refs] — values go when their
 * threads exit: with weft threads, before join returns. */
static void local_values_freed_when_threads_exit(void **state)
{
    (void)state;
    int counts[] = {20, 50, 100};
    for (int k = 0; k < 3; k++) {
        weft_local l;
        weft_local_init(&l, NULL, NULL, count_destroy);
        atomic_store(&destroyed, 0);
        bunch_join(bunch_start(counts[k], set_and_exit, &l)); /* raw threads */
        assert_int_equal(atomic_load(&destroyed), counts[k]);
        weft_local_destroy(&l);
    }
}

static void *set_in_weft_thread(void *arg)
{
    weft_local_set(arg, boxed(1));
    return NULL;
}

static void local_values_freed_before_weft_join_returns(void **state)
{
    (void)state;
    weft_local l = WEFT_LOCAL_INIT(count_destroy);
    atomic_store(&destroyed, 0);
    weft_thread *t[20];
    for (int i = 0; i < 20; i++) {
        weft_thread_new(&t[i], set_in_weft_thread, &l, NULL);
        weft_thread_start(t[i]);
    }
    for (int i = 0; i < 20; i++) {
        weft_thread_join(t[i], NULL);
        weft_thread_free(t[i]);
    }
    assert_int_equal(atomic_load(&destroyed), 20);
    weft_local_destroy(&l);
}

static weft_event parked_go = WEFT_EVENT_INIT;
static void set_and_park(int index, void *arg)
{
    weft_local_set(arg, boxed(index));
    weft_event_wait(&parked_go);
}

/* local 7 [test_threading_local.test_cycle_collection, test_derived_cycle_dealloc]:
 * destroying a local frees every thread's value; a local made afterwards
 * starts empty. */
static void local_destroy_frees_all_values(void **state)
{
    (void)state;
    weft_local l = WEFT_LOCAL_INIT(count_destroy);
    weft_local_set(&l, boxed(-1));
    atomic_store(&destroyed, 0);
    bunch *b = bunch_start(3, set_and_park, &l);
    nap(0.05);
    assert_int_equal(weft_local_destroy(&l), WEFT_OK);
    assert_int_equal(atomic_load(&destroyed), 4);
    weft_event_set(&parked_go);
    bunch_join(b);
    assert_int_equal(atomic_load(&destroyed), 4); /* nothing destroyed twice */
    weft_local fresh = WEFT_LOCAL_INIT(count_destroy);
    assert_null(weft_local_get(&fresh));
    assert_null(weft_local_get(&l)); /* reusable, and empty */
}

static void local_set_replaces_and_destroys_old(void **state)
{
    (void)state;
    weft_local l = WEFT_LOCAL_INIT(count_destroy);
    atomic_store(&destroyed, 0);
    int *first = boxed(1);
    weft_local_set(&l, first);
    weft_local_set(&l, first); /* same pointer: kept */
    assert_int_equal(atomic_load(&destroyed), 0);
    weft_local_set(&l, boxed(2));
    assert_int_equal(atomic_load(&destroyed), 1);
    assert_int_equal(*(int *)weft_local_get(&l), 2);
    weft_local_delete(&l);
    assert_int_equal(atomic_load(&destroyed), 2);
    assert_int_equal(weft_local_delete(&l), WEFT_OK);
    weft_local_destroy(&l);
}

/* Beyond pthread keys: no fixed limit on the number of locals. */
static void local_many_locals(void **state)
{
    (void)state;
    enum { COUNT = 3000 };
    weft_local *locals = calloc(COUNT, sizeof *locals);
    for (int i = 0; i < COUNT; i++) {
        weft_local_init(&locals[i], NULL, NULL, count_destroy);
        assert_int_equal(weft_local_set(&locals[i], boxed(i)), WEFT_OK);
    }
    for (int i = 0; i < COUNT; i++)
        assert_int_equal(*(int *)weft_local_get(&locals[i]), i);
    atomic_store(&destroyed, 0);
    for (int i = 0; i < COUNT; i++)
        weft_local_destroy(&locals[i]);
    assert_int_equal(atomic_load(&destroyed), COUNT);
    free(locals);
}

static void local_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_local_init(NULL, NULL, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_local_set(NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_local_delete(NULL), WEFT_EINVAL);
    assert_int_equal(weft_local_destroy(NULL), WEFT_EINVAL);
    assert_null(weft_local_get(NULL));
}

/* Stress: 8 threads x 100k get/set on two locals; each sees only its own. */
static weft_local stress_a = WEFT_LOCAL_INIT(NULL), stress_b = WEFT_LOCAL_INIT(NULL);
static atomic_int stress_errors;
static void local_hammer(int index, void *arg)
{
    (void)arg;
    uintptr_t base = (uintptr_t)(index + 1) << 20;
    for (uintptr_t i = 1; i <= STRESS_OPS; i++) {
        weft_local_set(&stress_a, (void *)(base + i));
        weft_local_set(&stress_b, (void *)(base + i + 1));
        if ((uintptr_t)weft_local_get(&stress_a) != base + i ||
            (uintptr_t)weft_local_get(&stress_b) != base + i + 1)
            atomic_fetch_add(&stress_errors, 1);
    }
}

static void local_stress_values_never_cross_threads(void **state)
{
    (void)state;
    bunch_join(bunch_start(STRESS_THREADS, local_hammer, NULL));
    assert_int_equal(atomic_load(&stress_errors), 0);
    weft_local_destroy(&stress_a);
    weft_local_destroy(&stress_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(local_values_are_per_thread),
        cmocka_unit_test(local_ten_threads_each_see_their_own),
        cmocka_unit_test(local_init_runs_once_in_each_thread),
        cmocka_unit_test(local_values_freed_when_threads_exit),
        cmocka_unit_test(local_values_freed_before_weft_join_returns),
        cmocka_unit_test(local_destroy_frees_all_values),
        cmocka_unit_test(local_set_replaces_and_destroys_old),
        cmocka_unit_test(local_many_locals),
        cmocka_unit_test(local_bad_input),
        cmocka_unit_test(local_stress_values_never_cross_threads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    weft_local_destroy(&data);
    weft_local_destroy(&with_init);
    return rc;
}
