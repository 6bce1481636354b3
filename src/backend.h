/* SPDX-License-Identifier: MIT */
/* backend.h — WEFT_BACKEND, the mark of the few internal functions that
 * libweft.so exports for the weft-mpi library (src/mpi/): an executor
 * backend built from this same tree, and so of the same version, but in a
 * library of its own, so that the core needs no MPI.  They are declared in
 * no public header, and programs must not call them;
 * tests/exported_symbols.py checks that exactly these are exported. */
#ifndef WEFT_BACKEND_H
#define WEFT_BACKEND_H

#if defined(__GNUC__) || defined(__clang__)
#define WEFT_BACKEND __attribute__((visibility("default")))
#else
#define WEFT_BACKEND
#endif

#endif
