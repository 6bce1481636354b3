/* SPDX-License-Identifier: MIT */
/* consumer.c — a user program built against an installed weft.  Its
 * argument says how it was built (pkg-config or CMake), for the output. */
#include <weft.h>

#include <stdio.h>

static weft_lock lock = WEFT_LOCK_INIT;
static long counter;

static void *add(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        weft_lock_acquire(&lock);
        counter++;
        weft_lock_release(&lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "consumer";
    weft_thread *t[4];
    for (int i = 0; i < 4; i++) {
        weft_thread_new(&t[i], add, NULL, NULL);
        weft_thread_start(t[i]);
    }
    for (int i = 0; i < 4; i++) {
        weft_thread_join(t[i], NULL);
        weft_thread_free(t[i]);
    }
    printf("install check: built with %s: counter=%ld (weft %s)\n", how, counter,
           WEFT_VERSION);
    return counter == 4000 ? 0 : 1;
}
