"""Tap latency, idle CPU and memory of the time clock (issue 4).

1. 200 taps of virtual My Number Cards on a vsmartcard-vpcd reader of a private pcscd:
   from the reader handing over the card (``wait_for_card`` returns) to the result frame
   flipped and the LED pattern started, the outbox fsync included. ``own`` is the part after
   the staff key was derived: role, outbox append + fsync, state save, LEDs, drawing.
2. ``kiosk run`` as its own process on the idle screen for 60 s (pcsc backend on the private
   pcscd): CPU % of one core, peak RSS.
Both run under Xvfb when xvfb-run is installed (the script re-runs itself under it), else with
SDL's dummy video driver.

Usage: .venv/bin/python bench/tap.py [--taps 200] [--idle-seconds 60]
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
os.environ.setdefault("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def config_text(data_dir: Path, reader_name: str) -> str:
    return f"""
[device]
id = "tc-bench-1"
site = "bench"
site_name = "ベンチ"
city = "452025"
role = "timeclock"
[display]
fullscreen = false
[reader]
backend = "pcsc"
name = "{reader_name}"
[storage]
directory = "{data_dir}"
disk_floor_mb = 0
[timeclock]
double_tap_seconds = 0
"""


def bench_taps(pcscd, work: Path, taps: int) -> dict:
    import pygame

    from kiosk import config as cfg
    from kiosk.display import app
    from kiosk.display.simulate import demo_card, demo_entries
    from kiosk.display.theme import Theme, load_font_path
    from kiosk.feedback import Feedback
    from kiosk.nfc.emulator import VpcdCard
    from kiosk.nfc.reader import PcscReader
    from kiosk.outbox import Outbox
    from kiosk.roster import save_local

    data = work / "taps"
    data.mkdir()
    config = cfg.parse(config_text(data, pcscd.reader_name))
    save_local(data, demo_entries())
    surface = app.open_display(config)
    kiosk = app.Kiosk(config, app.timeclock_kit(config), reader=PcscReader(pcscd.reader_name),
                      outbox=Outbox(data, disk_floor_bytes=0), feedback=Feedback(17, 27, 22), surface=surface,
                      theme=Theme(800, 480, load_font_path()))
    appends: list[float] = []
    append = kiosk.outbox.append

    def timed_append(event):  # the fsync'd write is most of "own"; show its share
        started = time.perf_counter()
        try:
            return append(event)
        finally:
            appends.append((time.perf_counter() - started) * 1000)

    kiosk.outbox.append = timed_append
    kiosk.start()
    cards = [demo_card(i) for i in range(9)]
    try:
        for n in range(taps):
            vpcd = VpcdCard(cards[n % 9], pcscd.port)
            vpcd.insert()
            deadline = time.monotonic() + 10
            while len(kiosk.taps) <= n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tap {n}: no result frame (screen {kiosk.screen.name})")
                kiosk.step(0.05)
            vpcd.remove()
            # A person takes the card away before the next one taps: let pcscd see it gone
            # (vpcd is polled), or the next insertion looks like the same card staying put.
            wait_until_empty(pcscd.reader_name, kiosk)
    finally:
        kiosk.stop()
        kiosk.feedback.close()
        kiosk.reader.close()
        pygame.display.quit()
    total = [(t.shown - t.handed_over) * 1000 for t in kiosk.taps]
    apdu = [(t.identified - t.handed_over) * 1000 for t in kiosk.taps]
    own = [(t.shown - t.identified) * 1000 for t in kiosk.taps]
    slowest = sorted(range(len(total)), key=total.__getitem__)[-5:]
    print("slowest taps (#: total / card / own ms): " + ", ".join(
        f"#{i}: {total[i]:.0f}/{apdu[i]:.0f}/{own[i]:.0f}" for i in reversed(slowest)))
    screens = {kiosk.screen.name}
    return {"taps": len(total), "tap_p50_ms": statistics.median(total), "tap_p99_ms": percentile(total, 99),
            "card_p50_ms": statistics.median(apdu), "own_code_p50_ms": statistics.median(own),
            "own_code_p99_ms": percentile(own, 99), "outbox_append_p50_ms": statistics.median(appends),
            "outbox_append_p99_ms": percentile(appends, 99), "last_screen": screens.pop()}


def wait_until_empty(reader_name: str, kiosk, timeout: float = 5.0) -> None:
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hresult, states = scard.SCardGetStatusChange(context, 0, [(reader_name, scard.SCARD_STATE_UNAWARE)])
            if hresult == scard.SCARD_S_SUCCESS and states[0][1] & scard.SCARD_STATE_EMPTY:
                return
            kiosk.step(0.01)
        raise RuntimeError("pcscd still sees the card after removal")
    finally:
        scard.SCardReleaseContext(context)


def bench_idle(pcscd, work: Path, seconds: float) -> dict:
    data = work / "idle"
    data.mkdir()
    config = work / "idle.toml"
    config.write_text(config_text(data, pcscd.reader_name), encoding="utf-8")
    command = [sys.executable, "-m", "kiosk.cli", "--config", str(config), "run"]
    env = dict(os.environ)
    xvfb = "x11" if os.environ.get("DISPLAY") else ""
    if xvfb:
        env.pop("SDL_VIDEODRIVER", None)
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        pid = _kiosk_pid(process)
        time.sleep(3)  # start-up (font check, first frame) is not idle
        start_cpu, start = _cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = _cpu_seconds(pid) - start_cpu, time.monotonic() - start
        peak_kb = _status_kb(pid, "VmHWM")
    finally:
        os.killpg(process.pid, 15)
        process.wait(10)
    return {"idle_cpu_pct": 100 * used / elapsed, "peak_rss_mb": peak_kb / 1024, "video": "xvfb" if xvfb else "dummy"}


def _kiosk_pid(process: subprocess.Popen) -> int:
    """The python process of ``kiosk run`` (under xvfb-run it is a grandchild)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kiosk run exited: {process.stderr.read().decode(errors='replace')[-2000:]}")
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                    if cmdline[1:3] == [b"-m", b"kiosk.cli"] and os.getpgid(int(entry.name)) == process.pid:
                        return int(entry.name)
                except (OSError, ProcessLookupError):
                    continue
        time.sleep(0.1)
    raise RuntimeError("kiosk run did not start")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def under_xvfb() -> None:
    """Re-run this script under Xvfb when there is no display: frames cost what a real X
    server makes them cost (SDL's dummy driver otherwise)."""
    xvfb = shutil.which("xvfb-run")
    if xvfb and not os.environ.get("DISPLAY") and "SDL_VIDEODRIVER" not in os.environ:
        os.execv(xvfb, [xvfb, "-a", "-s", "-screen 0 800x480x24", sys.executable, *sys.argv])
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    under_xvfb()
    work = Path(tempfile.mkdtemp(prefix="kiosk-bench-tap-"))
    os.environ["PCSCLITE_CSOCK_NAME"] = str(work / "pcscd.comm")
    from tests.fixtures.pcsc import PrivatePcscd

    pcscd = PrivatePcscd(work)
    pcscd.start()
    try:
        taps = bench_taps(pcscd, work, args.taps)
        idle = bench_idle(pcscd, work, args.idle_seconds)
    finally:
        pcscd.stop()
        shutil.rmtree(work, ignore_errors=True)
    result = {**taps, **idle}
    print(f"{'figure':<20} {'value':>10}   goal")
    goals = {"tap_p50_ms": "", "tap_p99_ms": "< 250", "card_p50_ms": "(APDUs)", "own_code_p50_ms": "",
             "own_code_p99_ms": "< 50", "outbox_append_p50_ms": "(fsync)", "outbox_append_p99_ms": "(fsync)",
             "idle_cpu_pct": "< 3", "peak_rss_mb": "< 120"}
    for key, goal in goals.items():
        print(f"{key:<20} {result[key]:>10.1f}   {goal}")
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
