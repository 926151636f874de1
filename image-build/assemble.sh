#!/bin/bash
# Stage 3: partition images and the SD image without loop devices:
# FAT with mkfs.vfat -C + mcopy, ext4 with mkfs.ext4 -d, an MBR with sfdisk, dd into place.
# Writes $OUT/kiosk.img.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}
root=$out/rootfs
boot_mib=256
data_mib=256
start_mib=4

ids() { awk -F: -v u="$1" '$1 == u { print $3 ":" $4 }' "$root/etc/passwd"; }

cd "$out"
rm -rf boot.vfat root.ext4 data.ext4 data kiosk.img
mkfs.vfat -C -F 32 -n RASPIFIRM boot.vfat $((boot_mib * 1024)) >/dev/null
mcopy -s -i boot.vfat firmware/* ::

root_mib=$(( $(du -sm "$root" | cut -f1) * 6 / 5 + 128 ))
truncate -s "${root_mib}M" root.ext4
mkfs.ext4 -q -L RASPIROOT -d "$root" root.ext4

# The data partition: the kiosk's directory (its storage.directory), root-owned certificates,
# and timesyncd's saved clock (bind-mounted by fstab) so time survives a power cut roughly.
install -d -m 750 -o "$(ids kiosk | cut -d: -f1)" -g "$(ids kiosk | cut -d: -f2)" data
install -d -m 750 -o 0 -g "$(ids kiosk | cut -d: -f2)" data/certs
install -d -m 755 -o 0 -g 0 data/system
install -d -m 755 -o "$(ids systemd-timesync | cut -d: -f1)" -g "$(ids systemd-timesync | cut -d: -f2)" data/system/timesync
truncate -s "${data_mib}M" data.ext4
# mkfs -d copies the entries but not the top directory's owner: the mount point is the kiosk's.
mkfs.ext4 -q -L KIOSKDATA -E root_owner="$(ids kiosk)" -d data data.ext4

boot_start=$((start_mib * 2048))
root_start=$((boot_start + boot_mib * 2048))
data_start=$((root_start + root_mib * 2048))
total_mib=$((start_mib + boot_mib + root_mib + data_mib))
truncate -s "${total_mib}M" kiosk.img
sfdisk -q kiosk.img <<SFDISK
label: dos
unit: sectors
start=$boot_start, size=$((boot_mib * 2048)), type=c, bootable
start=$root_start, size=$((root_mib * 2048)), type=83
start=$data_start, size=$((data_mib * 2048)), type=83
SFDISK
dd if=boot.vfat of=kiosk.img bs=1M seek=$start_mib conv=notrunc,sparse status=none
dd if=root.ext4 of=kiosk.img bs=1M seek=$((start_mib + boot_mib)) conv=notrunc,sparse status=none
dd if=data.ext4 of=kiosk.img bs=1M seek=$((start_mib + boot_mib + root_mib)) conv=notrunc,sparse status=none
rm -f boot.vfat root.ext4 data.ext4
echo "assemble: $out/kiosk.img ${total_mib} MiB ($(du -m kiosk.img | cut -f1) MiB allocated)"
