/* SPDX-License-Identifier: MIT */
/* w14_pingpong.c — W14's floor: a raw 64-byte MPI ping-pong between ranks
 * 0 and 1 (MPI_Send / MPI_Recv), the transport alone, no pool.  Row:
 *   W14 no-op,MPI ping-pong (raw),median,min,max,cpu_ns,note   (ns per round trip)
 * Usage: mpiexec -n 4 w14_pingpong [--reps R] [--items N] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, reps = 3;
    long items = 200000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--items") == 0)
            items = atol(argv[i + 1]);
    }
    if (reps < 1 || reps > 64)
        reps = 3;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char buf[64] = {0};
    double v[64];
    clock_t c0 = clock();
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        for (long i = 0; i < items && rank < 2; i++) {
            if (rank == 0) {
                MPI_Send(buf, 64, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(buf, 64, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                MPI_Recv(buf, 64, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, 64, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
            }
        }
        v[r] = (MPI_Wtime() - t) / (double)items * 1e9;
    }
    if (rank == 0) {
        double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC / reps / (double)items * 1e9;
        qsort(v, (size_t)reps, sizeof *v, by_value);
        printf("W14 no-op,MPI ping-pong (raw),%.1f,%.1f,%.1f,%.1f,64 B MPI_Send/Recv rank 0<->1; "
               "the transport's floor\n", v[reps / 2], v[0], v[reps - 1], cpu);
    }
    MPI_Finalize();
    return 0;
}
