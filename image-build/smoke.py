"""make image-smoke: boot the built image in qemu-system-aarch64 and check the appliance.

The `virt` machine boots the image's own Debian kernel and initramfs (copied from its FAT
partition) with the image's own cmdline.txt plus a serial console and ``kiosk.smoketest``, which
makes kiosk-smoketest.service print ``SMOKE key=value`` lines on the serial port. A virtio GPU
gives SDL's kmsdrm a display; QEMU's monitor ``screendump`` takes screenshots from power-on until
the UI's idle screen is up, which also times boot-to-idle. Standard library only (runs as root
on the build host).

``--broken-config`` (make image-smoke-broken-config) boots with a typo in kiosk.toml instead and
checks the appliance's answer to it: kiosk-config reports the error, kiosk-sync is skipped, and
the UI shows the red error screen and stays up without restarting.
"""

from __future__ import annotations

import argparse
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
# The typo leaves no /etc/kiosk/kiosk.toml (so no role), hostname and time zone the image's own,
# and kiosk-sync inactive: its ConditionPathExists skips it. smoke-report waits for kiosk-sync up
# to its 300 s deadline, so this variant reports at about 300 s of guest uptime.
BROKEN_TOML = SMOKE_TOML.replace('role = "timeclock"', 'role = "shelterr"')
BROKEN_MESSAGE = 'kiosk.toml: [device] role = "shelterr": must be one of timeclock, shelter, bereavement'
BROKEN_EXPECT = {"ui": "active", "sync": "inactive", "config": "active", "pcscd_socket": "active",
                 "failed": "0", "rootfs": "overlay", "datafs": "ext4", "role": "", "vpcd": "0"}
RED = (190, 30, 45)  # kiosk/display/theme.py RED: the error screen's heading band
SYNC_SKIPPED = "unmet condition check (ConditionPathExists=/etc/kiosk/kiosk.toml)"
BROKEN_CHECKS = 6  # _broken_checks: config reported, UI shows it, no restart, 20 s up, sync skipped, red band


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broken-config", action="store_true",
                        help='kiosk.toml with role = "shelterr": expect the error screen, not the idle one')
    broken = parser.parse_args(argv).broken_config
    out = HERE / "out"
    work = out / "smoke"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    image = work / "smoke.img"
    subprocess.run(["cp", "--sparse=always", out / "kiosk.img", image], check=True)
    fat = f"{image}@@{BOOT_OFFSET}"
    # The test's kiosk.toml is written the way Notepad writes it: BOM and CRLF.
    (work / "kiosk.toml").write_bytes((BROKEN_TOML if broken else SMOKE_TOML).encode())
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
    shot = work / ("config-error.png" if broken else "idle.png")
    try:
        report, drawn_s = _watch(qemu, started, monitor, serial, work, shot)
        if broken:  # the screen as it is at the report, long after the UI started
            _monitor(monitor, f"screendump {work / 'screen.ppm'}")
    finally:
        _monitor(monitor, "quit")
        try:
            qemu.wait(timeout=30)
        except subprocess.TimeoutExpired:  # once seen after the last screendump: never leave QEMU running
            qemu.kill()
            qemu.wait()
    figures = {"boot_to_report_s": round(time.monotonic() - started, 1),
               "guest_uptime_at_report_s": report.get("uptime")}
    if not broken:
        return _verdict(report, EXPECT, drawn_s is not None, ([], 0),
                        {"boot_to_idle_s": _round(drawn_s), **figures, "screenshot": str(shot) if drawn_s else None})
    failures, broken_figures = _broken_checks(report, serial.read_text(errors="replace"), work / "screen.ppm", shot)
    return _verdict(report, BROKEN_EXPECT, drawn_s is not None, (failures, BROKEN_CHECKS),
                    {"boot_to_error_screen_s": _round(drawn_s), **figures, **broken_figures})


def _fetch(fat: str, names: list[str], prefix: str, work: Path) -> Path:
    name = next(n.removeprefix("::/").removeprefix("::") for n in names
                if Path(n).name.startswith(prefix))
    target = work / Path(name).name
    subprocess.run(["mcopy", "-o", "-i", fat, f"::{Path(name).name}", target], check=True)
    return target


def _watch(qemu: subprocess.Popen, started: float, monitor: Path, serial: Path,
           work: Path, shot: Path) -> tuple[dict, float | None]:
    """Screenshot every few seconds until the UI's screen shows (saved as ``shot``) and the
    report is complete; returns the report and the time to the first drawn screen."""
    drawn_s = None
    while time.monotonic() - started < DEADLINE_S and qemu.poll() is None:
        report = _report(serial)
        if drawn_s is None and monitor.exists():
            ppm = work / "screen.ppm"
            _monitor(monitor, f"screendump {ppm}")
            if ppm.exists() and _looks_drawn(ppm):
                drawn_s = time.monotonic() - started
                _ppm_to_png(ppm, shot)
        if "done" in report and (drawn_s is not None or report.get("ui") != "active"):
            return report, drawn_s
        time.sleep(3)  # screenshot pace under emulation, not synchronisation
    return _report(serial), drawn_s


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


def _red_share(path: Path) -> float:
    """The share of the top 100 rows in the theme's RED (the error screen's heading band; the
    idle screen has none there). A small tolerance; the white heading text is the rest."""
    width, _, pixels = _read_ppm(path)
    band = pixels[: width * 100 * 3]
    red = sum(1 for i in range(0, len(band), 3) if all(abs(band[i + c] - RED[c]) <= 12 for c in range(3)))
    return red / (len(band) // 3)


def _broken_checks(report: dict, serial: str, ppm: Path, shot: Path) -> tuple[list[str], dict]:
    """The broken-config checks beyond BROKEN_EXPECT (BROKEN_CHECKS of them): failures and figures."""
    failures = []
    if not any(BROKEN_MESSAGE in line for line in report.get("log_kiosk-config", [])):
        failures.append(f"kiosk-config did not report: {BROKEN_MESSAGE}")
    # kiosk run reads the message from /run/kiosk/config-error.txt (bootconfig.read_report).
    if f"kiosk run: {BROKEN_MESSAGE}" not in report.get("log_kiosk-ui", []):
        failures.append("kiosk-ui did not show /run/kiosk/config-error.txt's message")
    starts = serial.count("systemd[1]: Starting kiosk-ui.service")
    if starts != 1 or "kiosk-ui.service: Scheduled restart job" in serial:
        failures.append(f"kiosk-ui restarted: started {starts} times")
    ui_up_s = float(report.get("uptime", 0)) - int(report.get("ui_ready_mono_us") or 0) / 1e6
    if ui_up_s < 20:
        failures.append(f"kiosk-ui up only {ui_up_s:.1f} s at the report (need 20 s without a restart)")
    if not any("kiosk-sync.service" in line and SYNC_SKIPPED in line for line in serial.splitlines()):
        failures.append("kiosk-sync was not skipped by its ConditionPathExists")
    share = _red_share(ppm) if ppm.exists() and _looks_drawn(ppm) else 0.0
    if share < 0.5:
        failures.append(f"the screen at the report has no red error band (RED share {share:.2f} of the top rows)")
    else:
        _ppm_to_png(ppm, shot)
    return failures, {"ui_up_at_report_s": round(ui_up_s, 1), "red_band_share": round(share, 2),
                      "screenshot": str(shot) if share >= 0.5 else None}


def _round(seconds: float | None) -> float | None:
    return round(seconds, 1) if seconds is not None else None


def _verdict(report: dict, expect: dict, drawn: bool, more: tuple[list[str], int], figures: dict) -> int:
    """Print FAIL lines, the count and the JSON figures; ``more`` is (failures, checks) beyond
    ``expect`` and the drawn screen."""
    failures = [f"{key}: expected {want!r}, got {report.get(key)!r}" for key, want in expect.items()
                if report.get(key) != want] + more[0]
    if not drawn:
        failures.append("the UI's screen never appeared in the screenshots")
    for unit in report.get("failed_unit", []):
        failures.append(f"failed unit: {unit}")
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        for key in sorted(k for k in report if k.startswith("log_")):
            print("\n".join(f"{key}: {line}" for line in report[key]))
    print(f"{len(expect) + 1 + more[1] - len(failures)} passed, {len(failures)} failed")
    print(json.dumps(figures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
