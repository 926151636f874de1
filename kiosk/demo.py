"""`kiosk demo`: the whole system on this machine, for a first look.

A private mosquitto on a free loopback port (generated config), `cityhub serve` on SQLite with
freshly made sealing keys and the nine demo staff (kiosk.display.simulate.DEMO_STAFF) in its
roster, `kiosk sync`, and `kiosk run --simulate` (a window where there is a display, headless
with a scripted card otherwise). Each event the hub stores is printed as it arrives, the counts
at the end. Everything lives under one directory that is kept between runs; Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kiosk.display.simulate import DEMO_STAFF, script_seconds
from kiosk.outbox import Outbox, OutboxReader, SyncState
from kiosk.sync.localbroker import LocalBroker

CITY = "452025"
DEV = "tc-demo-1"
SITE = "demo"
SCRIPT_SECONDS = 2.0  # the scripted card's pace when there is no window
CONFIRM_WAIT_S = 3.0  # how long a stored event's line waits for the kiosk's confirmation
SETTLE_SECONDS = 5.0  # at the end, how long sync may take for the last confirmations
NAMES = {staff_id: name for staff_id, name, _kana, _admin in DEMO_STAFF}
DIRECTIONS = {"in": "出勤 in", "out": "退勤 out"}


def default_dir() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "city-kiosk" / "demo"


def kiosk_toml(directory: Path, port: int, public_key: str) -> str:
    return f"""# Written by `kiosk demo`; rewritten at every start.
[device]
id = "{DEV}"
site = "{SITE}"
site_name = "デモ庁舎 / Demo city hall"
city = "{CITY}"
role = "timeclock"
[display]
fullscreen = false
[reader]
backend = "emulator"
[mqtt]
host = "127.0.0.1"
port = {port}
tls = false
resend_seconds = 5
[storage]
directory = "{directory / 'kiosk'}"
disk_floor_mb = 50
[hub]
public_key = "{public_key}"
"""


def prepare_hub(hub_dir: Path) -> tuple[str, str]:
    """Keys (made once) and the demo roster in the hub's database; (db url, public key)."""
    from cityhub import keys, roster, store
    from kiosk.display.simulate import demo_roster

    hub_dir.mkdir(parents=True, exist_ok=True)
    if not (hub_dir / keys.PRIVATE_NAME).exists():
        keys.init(hub_dir)
    public = (hub_dir / keys.PUBLIC_NAME).read_text().strip()
    url = f"sqlite:///{hub_dir / 'hub.db'}"
    now = time.time()
    rows = [{"site": SITE, "staff_key": key, "staff_id": entry["staff_id"], "name": entry["name"],
             "kana": entry.get("kana", ""), "admin": entry["admin"], "updated_at": now}
            for key, entry in demo_roster(SITE)["staff"].items()]
    engine = store.connect(url)
    roster.replace_sites(engine, rows)
    engine.dispose()
    return url, public


class Children:
    """The demo's processes, each in its own session so Ctrl-C reaches only the demo."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, **(env or {})}, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def exited(self) -> list[str]:
        return [name for name, proc in self.procs if proc.poll() is not None]

    def stop(self, only: str | None = None) -> None:
        """Newest first: the screen, then sync (says offline), then the hub; or just ``only``."""
        for name, proc in reversed(self.procs):
            if proc.poll() is None and only in (None, name):
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class Flow:
    """Prints each event of this run as the hub stores it, once the kiosk holds the hub's
    confirmation (or CONFIRM_WAIT_S on without it). Reads the hub's SQLite read-only and the
    kiosk's sync-state.json, so it changes nothing it watches."""

    def __init__(self, hub_db: Path, kiosk_dir: Path):
        self.kiosk_dir = kiosk_dir
        self.db = sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=1)
        self.last_rowid = self.db.execute("select coalesce(max(rowid), 0) from events").fetchone()[0]
        self.waiting: collections.deque = collections.deque()  # (monotonic first seen, row)
        self.printed = 0

    def poll(self, final: bool = False) -> None:
        now = time.monotonic()
        try:
            rows = self.db.execute("select rowid, seq, schema, time, body from events where dev = ? and rowid > ? "
                                   "order by rowid", (DEV, self.last_rowid)).fetchall()
        except sqlite3.Error:  # the hub holds a lock longer than the timeout: next poll
            rows = []
        for rowid, *row in rows:
            self.last_rowid = rowid
            self.waiting.append((now, row))
        state = SyncState.load(self.kiosk_dir)
        while self.waiting:
            seen, (seq, schema, stamp, body) = self.waiting[0]
            confirmed = state.is_confirmed(seq)
            if not (confirmed or final or now - seen >= CONFIRM_WAIT_S):
                break
            self.waiting.popleft()
            self.printed += 1
            print(f"  hub stored seq {seq:<4} {schema:<15} {describe(schema, body)}  {stamp[11:19]}  "
                  f"({'confirmed to the kiosk' if confirmed else 'not confirmed on the kiosk yet'})", flush=True)

    def settle(self, seconds: float) -> None:
        """With the screen stopped, give sync up to ``seconds`` to get the last confirmations."""
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                self.poll()
                state = SyncState.load(self.kiosk_dir)
                last = Outbox(self.kiosk_dir, disk_floor_bytes=0).last_seq
                if all(state.is_confirmed(seq) or seq in state.rejected for seq in range(1, last + 1)):
                    return
                time.sleep(0.2)
        except KeyboardInterrupt:  # a second Ctrl-C: stop now, the rest is sent next time
            pass

    def summary(self) -> str:
        """The counts; call once the screen and sync have stopped (it opens their files)."""
        self.poll(final=True)
        appended = Outbox(self.kiosk_dir, disk_floor_bytes=0).last_seq
        waiting = OutboxReader(self.kiosk_dir).backlog()
        stored = self.db.execute("select count(*) from events where dev = ?", (DEV,)).fetchone()[0]
        self.db.close()
        return (f"kiosk demo: {self.printed} event(s) stored this run; in all, appended on the kiosk {appended}, "
                f"stored at the hub {stored}, still waiting on the kiosk {waiting}")


def describe(schema: str, body: str) -> str:
    data = json.loads(body).get("data", {})
    if schema == "punch/1":
        staff_id = data.get("staff_id", "")
        return f"staff {staff_id} {NAMES.get(staff_id, '')}  {DIRECTIONS.get(data.get('direction'), '')}"
    if schema == "unknown_card/1":
        return "a card nobody has enrolled"
    return ""


def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=default_dir(), help=f"where everything lives (default {default_dir()})")
    parser.add_argument("--headless", action="store_true", help="no window, even where there is a display")
    parser.add_argument("--seconds", type=float, default=0, help="stop by itself after this long (smoke test)")
    parser.add_argument("--script-taps", type=script_seconds, metavar="SECONDS",
                        help=f"a scripted card taps every SECONDS (default {SCRIPT_SECONDS:g} without a window)")
    args = parser.parse_args(argv)
    directory = args.dir.resolve()
    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    try:
        broker = LocalBroker(directory / "broker").start()
    except (OSError, RuntimeError) as exc:
        print(f"kiosk demo: cannot start mosquitto ({exc}); is it installed? (bash dev.sh setup)", file=sys.stderr)
        return 2
    children = Children(logs)
    flow, died = None, []
    try:
        db_url, public_key = prepare_hub(directory / "hub")
        flow = Flow(directory / "hub" / "hub.db", directory / "kiosk")
        config = directory / "kiosk.toml"
        config.write_text(kiosk_toml(directory, broker.port, public_key))
        children.start("hub", ["cityhub.cli", "serve", "--city", CITY, "--db", db_url, "--mqtt", broker.url,
                               "--sealing-key", str(directory / "hub" / "hub.key")])
        children.start("sync", ["kiosk.cli", "--config", str(config), "sync"])
        headless = args.headless or not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
        screen_env = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"} if headless else {}
        script = args.script_taps or (SCRIPT_SECONDS if headless else None)
        children.start("screen", ["kiosk.cli", "--config", str(config), "run", "--simulate",
                                  *(["--script-taps", str(script)] if script else [])], screen_env)
        print_guide(directory, broker, db_url, headless, script)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while not stop and not children.exited():
            if deadline and time.monotonic() >= deadline:
                break
            flow.poll()
            time.sleep(0.5)
        died = children.exited()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nkiosk demo: stopping ...", flush=True)
        children.stop("screen")
        if flow is not None:
            flow.settle(SETTLE_SECONDS)
        children.stop()
        broker.stop()
    if flow is not None:
        print(flow.summary())
    if died and died != ["screen"]:  # Esc in the window ends the demo; anything else is a failure
        print(f"kiosk demo: {', '.join(died)} stopped unexpectedly; see {logs}", file=sys.stderr)
        return 1
    return 0


def print_guide(directory: Path, broker: LocalBroker, db_url: str, headless: bool, script: float | None) -> None:
    print(f"""
kiosk demo: running (Ctrl-C stops everything)
  broker    mosquitto on {broker.url} (config {broker.conf_path})
  city hub  {db_url}   sealing keys in {directory / 'hub'}
  kiosk     outbox and sync-state.json in {directory / 'kiosk'}   config {directory / 'kiosk.toml'}
  logs      {directory / 'logs'}
""")
    if headless:
        print("  No display: the kiosk screen runs headless (SDL dummy driver).")
    else:
        print("  In the kiosk window: keys 1-9 tap the nine demo staff cards (1 = administrator),\n"
              "  0 taps a card nobody has enrolled, Esc closes the window and ends the demo.")
    if script:
        print(f"  A scripted card taps every {script:g} s: each demo staff card in turn, once a card nobody\n"
              "  has enrolled, and one card twice in a row (the second tap: already recorded, no event).")
    print("  Each event is printed below when the hub has stored it:\n", flush=True)
