/* SPDX-License-Identifier: MIT */
/* local_internal.h — thread-exit cleanup of weft_local values. */
#ifndef WEFT_LOCAL_INTERNAL_H
#define WEFT_LOCAL_INTERNAL_H

/* Destroy every weft_local value of the calling thread.  weft threads call
 * it before they report themselves finished, so that join() returns after
 * the values are gone (as in Python); other threads get it from an OS
 * thread-exit hook. */
void weft__local_thread_exit(void);

#endif
