/* SPDX-License-Identifier: MIT */
/* consumer_mpi.c — a program built against an installed weft-mpi: it
 * registers a task and reads the job's size (1: no MPI job, no MPI call). */
#include <weft.h>
#include <weft/mpi.h>

#include <stdio.h>

static void *twice(void *arg) { return (void *)((char *)arg + (size_t)arg); }

int main(int argc, char **argv)
{
    (void)argc;
    if (weft_mpi_register_task("twice", twice) != WEFT_OK || weft_mpi_world_size() != 1)
        return 1;
    printf("%s: weft-mpi linked\n", argv[0]);
    return 0;
}
