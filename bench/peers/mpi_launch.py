# SPDX-License-Identifier: MIT
"""mpi_launch.py — run a W14 program under `mpiexec -n 4` for compare.py:
    mpi_launch.py MPIEXEC PROGRAM [ARGS...] [--threads N]
--threads is compare.py's and is dropped (the ranks are the workers).  Open
MPI is given what it needs here: running as root, more ranks than CPUs,
shared memory on one machine and loopback TCP only."""
import os
import subprocess
import sys


def main(argv):
    args = argv[1:]
    if "--threads" in args:
        i = args.index("--threads")
        del args[i:i + 2]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl="self,vader,tcp",
               OMPI_MCA_btl_tcp_if_include="lo", OMPI_MCA_oob_tcp_if_include="lo")
    mpiexec, rest = args[0], args[1:]
    return subprocess.run([mpiexec, "-n", "4", *rest], env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
