/* SPDX-License-Identifier: MIT */
/* lock_fork.h — a module's global lock across fork() (lock.c). */
#ifndef WEFT_LOCK_FORK_H
#define WEFT_LOCK_FORK_H

#include "lifecycle.h"
#include "weft/lock.h"

/* The usual fork hook body for one of weft's own locks, by phase
 * (WEFT_FORK_*): prepare takes it (waiting as long as needed, never
 * cancelled), the parent releases it, the child makes it new and free (the
 * thread that held it in the parent did not cross).  A hook that must also
 * fix its state in the child does so after this call, alone in the child. */
void weft_lock_atfork(weft_lock *lock, int phase);

#endif
