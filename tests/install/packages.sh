#!/bin/sh
# SPDX-License-Identifier: MIT
# packages.sh DEBDIR WORKDIR — install the .deb packages in DEBDIR (as root),
# run the install check against /usr, man pages included, and remove the
# packages again, whatever the outcome.
set -eu
debs=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
pkgs="libweft-dev libweft0"
# weft-mpi's, where it was built (an MPI was found)
if ls "$debs"/libweft-mpi0_*.deb >/dev/null 2>&1; then
    pkgs="libweft-mpi-dev libweft-mpi0 $pkgs"
fi

for p in $pkgs; do
    if dpkg -s "$p" >/dev/null 2>&1; then
        echo "package check: $p is already installed; remove it first (dpkg -r $pkgs)" >&2
        exit 1
    fi
done
set -- "$debs"/libweft0_*.deb "$debs"/libweft-dev_*.deb
case $pkgs in
libweft-mpi*) set -- "$@" "$debs"/libweft-mpi0_*.deb "$debs"/libweft-mpi-dev_*.deb ;;
esac
for f; do [ -f "$f" ] || { echo "package check: no $f (make package)" >&2; exit 1; }; done

trap 'dpkg --purge $pkgs >/dev/null && echo "package check: removed $pkgs"' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
dpkg-query -W -f='package check: installed ${Package} ${Version}\n' $pkgs
sh "$here/check.sh" /usr "$work" --man
