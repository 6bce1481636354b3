#!/bin/sh
# check.sh PREFIX WORKDIR — build a small program against an installed weft,
# once with pkg-config and once with CMake's find_package(weft), and run both.
set -eu
prefix=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"

libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -n 1)
PKG_CONFIG_PATH="$libdir" cc -std=c11 -Wall -Wextra -Wpedantic -Werror \
    "$here/consumer.c" $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs --static weft) \
    -static-libgcc -o "$work/consumer-pkgconfig" -Wl,-rpath,"$(dirname "$libdir")"
"$work/consumer-pkgconfig"

cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer"
echo "install check: pkg-config and find_package(weft) both work"
