#!/bin/bash
# make image: Debian arm64 root (cached by packages.txt) -> kiosk + settings -> SD image.
# Needs root, Debian's archive and PyPI; about 15 minutes and 6 GB of disk on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/out"
start=$SECONDS
for stage in rootfs customize assemble; do
    t=$SECONDS
    "$here/$stage.sh"
    echo "== $stage: $((SECONDS - t)) s"
done
echo "== image built in $((SECONDS - start)) s: $here/out/kiosk.img"
