#!/bin/sh
# SPDX-License-Identifier: MIT
# mpi_run.sh MPIEXEC N|0|death PROGRAM — run an MPI test program.
#   N      under `mpiexec -n N`
#   0      on its own, no launcher (MPI's singleton: spawned workers only)
#   death  under `mpiexec -n 4 PROGRAM --kill-a-rank`: a task kills its
#          serving rank; the launcher must end the job with a failure
#          within 60 s (pass), not let it finish or hang (fail)
# Open MPI refuses root without its two variables and more ranks than CPUs
# without oversubscribing; a CI machine has both.  LeakSanitizer is told to
# ignore what Open MPI itself keeps until exit, ThreadSanitizer a lock
# order inside Open MPI's TCP transport (tests/mpi_*.supp).
set -u
mpiexec=$1 mode=$2 program=$3
here=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Components stay loaded, so that LeakSanitizer can name what Open MPI keeps.
export OMPI_MCA_mca_base_component_disable_dlclose=1
# Shared memory between the ranks of a job; TCP on loopback only between
# a job and the workers it spawns (shared memory does not cross jobs).
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# Open MPI is built without frame pointers: only the slow unwinder gets
# past its frames, so that the suppressions can name its libraries.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/mpi_lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$here/mpi_tsan.supp"
case $mode in
0)     exec "$program" ;;
death) start=$(date +%s)
       timeout 90 "$mpiexec" -n 4 "$program" --kill-a-rank >mpi_rank_death.log 2>&1
       rc=$? took=$(( $(date +%s) - start ))
       echo "mpiexec ended with status $rc after ${took}s"
       if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $took -gt 60 ]; then
           cat mpi_rank_death.log; echo "FAIL: the job should have ended with an error"; exit 1
       fi
       echo "PASS: a dead rank ended the job" ;;
*)     exec timeout 600 "$mpiexec" -n "$mode" "$program" ;;
esac
