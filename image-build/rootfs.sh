#!/bin/bash
# Stage 1: the Debian arm64 base root as a directory, from packages.txt (cached by its hash).
# update-initramfs is diverted here and run once, with a short module list, in customize.sh:
# under qemu-user emulation MODULES=most took over 8 minutes (image-build.md §3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}
mirror=${MIRROR:-http://deb.debian.org/debian}
security=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
mkdir -p "$out"

packages=$(grep -v '^\s*#' "$here/packages.txt" | xargs | tr ' ' ',')
key=$(cat "$here/packages.txt" "$0" | sha256sum | cut -c1-16)
if [ -d "$out/base-$key" ]; then
    echo "rootfs: cached $out/base-$key"
    ln -sfn "base-$key" "$out/base"
    exit 0
fi

"$here/binfmt.sh"
rm -rf "$out"/base-*
mmdebstrap --mode=root --format=directory --variant=minbase --architectures=arm64 \
    --components=main,non-free-firmware \
    --include="$packages" \
    --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
    --essential-hook='chroot "$1" dpkg-divert --local --rename --add /usr/sbin/update-initramfs && ln -s /bin/true "$1/usr/sbin/update-initramfs"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$out/base-$key.part" \
    "deb $mirror bookworm main non-free-firmware" \
    "deb $mirror bookworm-updates main non-free-firmware" \
    "deb $security bookworm-security main non-free-firmware"
mv "$out/base-$key.part" "$out/base-$key"
ln -sfn "base-$key" "$out/base"
