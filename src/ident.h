/* SPDX-License-Identifier: MIT */
/* ident.h — the calling thread's weft identity (used by RLock ownership and
 * by the thread layer).  Idents are never 0 and never reused; the process's
 * main thread is always ident 1. */
#ifndef WEFT_IDENT_H
#define WEFT_IDENT_H

#include <stdint.h>

#define WEFT_MAIN_IDENT 1

/* The calling thread's ident, assigned on first use. */
uint64_t weft__self_ident(void);

/* A fresh ident, for a thread about to start. */
uint64_t weft__ident_new(void);

/* Make `ident` the calling thread's (first thing a new weft thread does). */
void weft__ident_adopt(uint64_t ident);

#endif
