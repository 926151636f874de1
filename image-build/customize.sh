#!/bin/bash
# Stage 2: unpack the base root, install the kiosk (wheel from this checkout into a venv) and
# the appliance's settings, then build the initramfs once with a short module list.
# Leaves $OUT/rootfs (without the firmware) and $OUT/firmware (the FAT partition's files).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=${OUT:-$here/out}
root=$out/rootfs
venv=/opt/kiosk/venv

"$here/binfmt.sh"
cleanup() {
    for m in dev/pts dev proc sys; do umount "$root/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM
rm -rf "$root" "$out/firmware" "$out/wheels"
mkdir -p "$root" "$out/wheels"
cp -a "$out/base/." "$root/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
resolv=$(readlink "$root/etc/resolv.conf" || true)
rm -f "$root/etc/resolv.conf"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

# The kiosk: a wheel of this checkout, installed without its dependency list, then the
# dependencies with two substitutions (see docs/appliance.md):
#  - pyscard: Debian's python3-pyscard (PyPI has no aarch64 wheel; compiling under emulation is slow);
#  - pygame: pygame-ce, the same `import pygame` API, whose aarch64 wheel bundles an SDL built with
#    kmsdrm (pygame's own wheels have none, and refuse Debian's older SDL).
# lgpio gives gpiozero 2.x its /dev/gpiochip pin factory on the Pi.
# Built from a copy of the package sources only: setuptools would otherwise walk out/ (the roots).
src=$out/src
rm -rf "$src" && mkdir -p "$src"
cp -r "$repo/pyproject.toml" "$repo/README.md" "$repo/kiosk" "$repo/cityhub" "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
python3 -m pip wheel -q --no-deps -w "$out/wheels" "$src"
wheel=$(ls "$out"/wheels/city_kiosk-*.whl)
deps=$(python3 "$here/wheel_deps.py" "$wheel")
cp "$wheel" "$root/tmp/"
# pip in the root trusts what the host trusts (a proxy's CA, say) without touching the image's store.
cp -L /etc/ssl/certs/ca-certificates.crt "$root/tmp/host-ca.crt"
pip=(PIP_CERT=/tmp/host-ca.crt "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check)
in_root python3 -m venv --system-site-packages "$venv"
in_root "${pip[@]}" --no-deps "/tmp/$(basename "$wheel")"
# shellcheck disable=SC2086  # one word per requirement
in_root "${pip[@]}" --prefer-binary $deps
in_root "$venv/bin/python" -c "import kiosk.bootconfig, pygame, smartcard, gpiozero, lgpio, paho.mqtt, tinydb, nacl"
rm -f "$root/tmp/$(basename "$wheel")" "$root/tmp/host-ca.crt"
in_root "$venv/bin/pip" freeze > "$out/pip-freeze.txt"

# Units and system settings from systemd/ (the same files systemd-analyze verify checks in the tests).
sd=$repo/systemd
install -m 644 "$sd"/*.service "$here/smoke/kiosk-smoketest.service" "$root/etc/systemd/system/"
install -D -m 755 "$here/smoke/smoke-report" "$root/usr/lib/kiosk/smoke-report"
install -D -m 644 "$sd/wpa_supplicant@wlan0.service.d/kiosk.conf" "$root/etc/systemd/system/wpa_supplicant@wlan0.service.d/kiosk.conf"
install -D -m 644 "$sd/system.conf.d/10-kiosk-watchdog.conf" "$root/etc/systemd/system.conf.d/10-kiosk-watchdog.conf"
install -D -m 644 "$sd/journald.conf.d/10-kiosk-volatile.conf" "$root/etc/systemd/journald.conf.d/10-kiosk-volatile.conf"
install -m 644 "$sd"/modprobe.d/*.conf "$root/etc/modprobe.d/"
install -m 644 "$sd"/udev/*.rules "$root/etc/udev/rules.d/"
install -m 644 "$sd"/network/*.network "$root/etc/systemd/network/"
install -D -m 644 "$sd/sysusers.d/kiosk.conf" "$root/etc/sysusers.d/kiosk.conf"
install -D -m 644 "$repo/docs/appliance.md" "$root/usr/share/doc/city-kiosk/appliance.md"
install -m 644 "$here/files/fstab" "$root/etc/fstab"
in_root systemd-sysusers
in_root systemctl enable kiosk-config.service kiosk-ui.service kiosk-sync.service kiosk-smoketest.service \
    systemd-networkd.service systemd-resolved.service systemd-timesyncd.service pcscd.socket
# No prompt ever (firstboot), no console login on the kiosk's screen, no swap, no apt timers on a
# read-only root, no two-minute wait for a network that a time clock must not need.
in_root systemctl mask systemd-firstboot.service getty@tty1.service swap.target \
    systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer
systemd-firstboot --root="$root" --force --locale=C.UTF-8 --timezone=Asia/Tokyo --hostname=kiosk
: > "$root/etc/machine-id"
install -d -m 750 "$root/etc/kiosk"

# Boot: raspi-firmware writes config.txt/cmdline.txt from these; never edit those two directly.
sed -i 's/^#\?ROOTPART=.*/ROOTPART=LABEL=RASPIROOT/' "$root/etc/default/raspi-firmware"
install -m 644 "$here/files/raspi-extra-cmdline" "$root/etc/default/raspi-extra-cmdline"
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
install -m 644 "$here/files/initramfs-modules" "$root/etc/initramfs-tools/modules"
rm "$root/usr/sbin/update-initramfs"
in_root dpkg-divert --local --rename --remove /usr/sbin/update-initramfs
kver=$(basename "$(ls -d "$root"/lib/modules/*)")
in_root update-initramfs -c -k "$kver"
grep -q overlay <(in_root lsinitramfs "/boot/initrd.img-$kver") || { echo "initramfs lacks overlay" >&2; exit 1; }
grep -q 'bin/busybox' <(in_root lsinitramfs "/boot/initrd.img-$kver") || { echo "initramfs lacks busybox" >&2; exit 1; }

# Clean up and split off the boot partition's files.
rm -f "$root/etc/resolv.conf"
[ -n "$resolv" ] && ln -s "$resolv" "$root/etc/resolv.conf"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/root/.cache "$root"/tmp/*
in_root dpkg-query -W -f '${Package}\n' > "$out/installed-packages.txt"
cleanup
mv "$root/boot/firmware" "$out/firmware"
install -d "$root/boot/firmware"
cp "$repo/config.example.toml" "$out/firmware/kiosk.toml.example"
sed 's/$/\r/' "$here/files/README-KIOSK.txt" > "$out/firmware/README-KIOSK.txt"
echo "customize: kernel $kver, $(wc -l < "$out/installed-packages.txt") packages"
