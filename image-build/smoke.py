"""make image-smoke: boot the built image in qemu-system-aarch64 and check the appliance.

The `virt` machine boots the image's own Debian kernel and initramfs (copied from its FAT
partition) with the image's own cmdline.txt plus a serial console and ``kiosk.smoketest``, which
makes kiosk-smoketest.service print ``SMOKE key=value`` lines on the serial port. A virtio GPU
gives SDL's kmsdrm a display; QEMU's monitor ``screendump`` takes screenshots from power-on until
the UI's idle screen is up, which also times boot-to-idle. Standard library only (runs as root
on the build host).
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOOT_OFFSET = 4 * 1024 * 1024  # assemble.sh: the FAT partition starts at 4 MiB
DEADLINE_S = 900
SMOKE_TOML = """\ufeff[device]\r
id = "smoke-kiosk-1"\r
site = "smoke"\r
site_name = "スモークテスト"\r
city = "452025"\r
role = "timeclock"\r
\r
[mqtt]\r
host = "broker.invalid"\r
tls = false\r
\r
[system]\r
time_servers = ["ntp.nict.jp"]\r
"""
# Serial console with the journal on it; kiosk.smoketest enables the report unit. gpiozero's lgpio
# factory needs a Pi's board revision, which the virt machine has not: mock pins for every
# service, set on the kernel command line so the image itself stays unchanged.
SMOKE_CMDLINE = ["console=ttyAMA0", "kiosk.smoketest", "systemd.journald.forward_to_console=1",
                 "systemd.setenv=GPIOZERO_PIN_FACTORY=mock", "systemd.setenv=GPIOZERO_MOCK_PIN_CLASS=mockpwmpin"]
EXPECT = {"ui": "active", "sync": "active", "config": "active", "pcscd_socket": "active",
          "failed": "0", "rootfs": "overlay", "datafs": "ext4", "hostname": "smoke-kiosk-1",
          "role": "timeclock", "timezone": "/usr/share/zoneinfo/Asia/Tokyo", "vpcd": "0"}


def main() -> int:
    out = HERE / "out"
    work = out / "smoke"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    image = work / "smoke.img"
    subprocess.run(["cp", "--sparse=always", out / "kiosk.img", image], check=True)
    fat = f"{image}@@{BOOT_OFFSET}"
    # The test's kiosk.toml is written the way Notepad writes it: BOM and CRLF.
    (work / "kiosk.toml").write_bytes(SMOKE_TOML.encode())
    subprocess.run(["mcopy", "-o", "-i", fat, work / "kiosk.toml", "::kiosk.toml"], check=True)
    names = subprocess.run(["mdir", "-b", "-i", fat, "::"], check=True, capture_output=True, text=True).stdout.split()
    kernel = _fetch(fat, names, "vmlinuz-", work)
    initrd = _fetch(fat, names, "initrd.img-", work)
    cmdline = _fetch(fat, names, "cmdline.txt", work).read_text().split()
    cmdline = [w for w in cmdline if not w.startswith("console=")] + SMOKE_CMDLINE
    monitor = work / "monitor.sock"
    serial = work / "serial.log"
    qemu = subprocess.Popen([
        "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "2048",
        "-kernel", kernel, "-initrd", initrd, "-append", " ".join(cmdline),
        "-drive", f"if=none,file={image},format=raw,id=hd", "-device", "virtio-blk-pci,drive=hd",
        "-device", "virtio-gpu-pci", "-device", "virtio-rng-pci", "-nic", "none",
        "-display", "none", "-serial", f"file:{serial}",
        "-monitor", f"unix:{monitor},server,nowait"])
    started = time.monotonic()
    try:
        report, idle_s, shot = _watch(qemu, started, monitor, serial, work)
    finally:
        _monitor(monitor, "quit")
        qemu.wait(timeout=30)
    return _verdict(report, idle_s, shot, time.monotonic() - started)


def _fetch(fat: str, names: list[str], prefix: str, work: Path) -> Path:
    name = next(n.removeprefix("::/").removeprefix("::") for n in names
                if Path(n).name.startswith(prefix))
    target = work / Path(name).name
    subprocess.run(["mcopy", "-o", "-i", fat, f"::{Path(name).name}", target], check=True)
    return target


def _watch(qemu: subprocess.Popen, started: float, monitor: Path, serial: Path,
           work: Path) -> tuple[dict, float | None, Path | None]:
    """Screenshot every few seconds until the idle screen shows and the report is complete."""
    idle_s = shot = None
    while time.monotonic() - started < DEADLINE_S and qemu.poll() is None:
        report = _report(serial)
        if idle_s is None and monitor.exists():
            ppm = work / "screen.ppm"
            _monitor(monitor, f"screendump {ppm}")
            if ppm.exists() and _looks_drawn(ppm):
                idle_s = time.monotonic() - started
                shot = work / "idle.png"
                _ppm_to_png(ppm, shot)
        if "done" in report and (idle_s is not None or report.get("ui") != "active"):
            return report, idle_s, shot
        time.sleep(3)  # screenshot pace under emulation, not synchronisation
    return _report(serial), idle_s, shot


def _report(serial: Path) -> dict:
    report: dict = {}
    if serial.exists():
        for line in serial.read_text(errors="replace").splitlines():
            start = line.find("SMOKE ")  # after the journal's "[time] smoke-report[pid]: " prefix
            if start >= 0:
                key, _, value = line[start + 6:].strip().partition("=")
                if key == "failed_unit" or key.startswith("log_"):
                    report.setdefault(key, []).append(value)
                else:
                    report.setdefault(key, value)
    return report


def _monitor(path: Path, command: str) -> None:
    """One human-monitor command; the reply is read so the command has finished on return."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(20)
            s.connect(str(path))
            s.recv(4096)
            s.sendall(command.encode() + b"\n")
            reply = b""
            while b"(qemu)" not in reply.split(command.encode(), 1)[-1]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        pass


def _read_ppm(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    parts = data.split(maxsplit=4)
    width, height = int(parts[1]), int(parts[2])
    return width, height, parts[4][: width * height * 3]


def _looks_drawn(path: Path) -> bool:
    """The idle screen, not a black console: many colours and a good part of the screen lit."""
    try:
        width, height, pixels = _read_ppm(path)
    except (ValueError, IndexError):
        return False
    step = 3 * 7  # sample every 7th pixel
    samples = [pixels[i:i + 3] for i in range(0, len(pixels) - 2, step)]
    lit = sum(1 for p in samples if max(p) > 40)
    return len(set(samples)) >= 16 and lit > len(samples) // 10


def _ppm_to_png(ppm: Path, png: Path) -> None:
    width, height, pixels = _read_ppm(ppm)
    rows = b"".join(b"\x00" + pixels[y * width * 3:(y + 1) * width * 3] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def _verdict(report: dict, idle_s: float | None, shot: Path | None, total_s: float) -> int:
    failures = [f"{key}: expected {want}, got {report.get(key)}" for key, want in EXPECT.items()
                if report.get(key) != want]
    if idle_s is None:
        failures.append("the UI's idle screen never appeared in the screenshots")
    for unit in report.get("failed_unit", []):
        failures.append(f"failed unit: {unit}")
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        for key in sorted(k for k in report if k.startswith("log_")):
            print("\n".join(f"{key}: {line}" for line in report[key]))
    print(f"{len(EXPECT) + 1 - len(failures)} passed, {len(failures)} failed")
    print(json.dumps({"boot_to_idle_s": round(idle_s, 1) if idle_s else None,
                      "boot_to_report_s": round(total_s, 1), "guest_uptime_at_report_s": report.get("uptime"),
                      "screenshot": str(shot) if shot else None}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
