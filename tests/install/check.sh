#!/bin/sh
# SPDX-License-Identifier: MIT
# check.sh PREFIX WORKDIR [--man] — build a small program against an
# installed weft, once with pkg-config and once with CMake's
# find_package(weft), and run both; check that pkg-config prints plain paths
# and, when the man pages are installed (--man: they must be), that
# `man weft_lock_acquire` finds its page.
set -eu
prefix=$1
work=$2
want_man=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"

# lib/pkgconfig, lib64/pkgconfig or Debian's lib/<triplet>/pkgconfig
pcdir=
for pc in "$prefix"/lib*/pkgconfig/weft.pc "$prefix"/lib/*/pkgconfig/weft.pc; do
    if [ -f "$pc" ]; then pcdir=$(dirname "$pc"); break; fi
done
if [ -z "$pcdir" ]; then
    echo "install check: no weft.pc under $prefix/lib*" >&2
    exit 1
fi
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs weft)
case "$flags" in
*..*) echo "install check: pkg-config prints a path with '..': $flags" >&2; exit 1 ;;
esac
libdir=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir weft)

cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$here/consumer.c" \
    $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs --static weft) \
    -static-libgcc -o "$work/consumer-pkgconfig" -Wl,-rpath,"$libdir"
"$work/consumer-pkgconfig" "pkg-config weft"

# weft-mpi, where it was built and installed (an MPI was found).
if [ -f "$pcdir/weft-mpi.pc" ]; then
    cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$here/consumer_mpi.c" \
        $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs weft-mpi) \
        -o "$work/consumer-mpi" -Wl,-rpath,"$libdir"
    LD_LIBRARY_PATH="$libdir" "$work/consumer-mpi" # (libweft-mpi.so finds libweft.so there)
fi

cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer" "CMake find_package(weft)"

if [ -f "$prefix/share/man/man3/weft_lock_acquire.3" ]; then
    if command -v man >/dev/null; then
        page=$(MANPATH="$prefix/share/man" man -w weft_lock_acquire)
        MANPATH="$prefix/share/man" man weft_lock_acquire 2>/dev/null | grep -q 'Block until the lock is taken' || {
            echo "install check: man weft_lock_acquire does not show its text" >&2; exit 1; }
        echo "install check: man weft_lock_acquire -> $page"
    else
        echo "install check: man pages installed (no man program here to open them)"
    fi
elif [ "$want_man" = --man ]; then
    echo "install check: no man page $prefix/share/man/man3/weft_lock_acquire.3" >&2
    exit 1
else
    echo "install check: no man pages installed (configure with -DWEFT_BUILD_DOCS=ON, or make docs)"
fi
echo "install check: pkg-config and find_package(weft) both work under $prefix"
