#!/bin/bash
# Make arm64 binaries runnable through qemu-user (binfmt_misc is often unmounted in containers).
set -euo pipefail
if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 2>/dev/null || true
arch-test arm64 >/dev/null || { echo "binfmt: arm64 binaries cannot run here (install qemu-user-static binfmt-support)" >&2; exit 1; }
