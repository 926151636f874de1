"""`kiosk demo`: the whole system on this machine, for a first look.

A private mosquitto on a free loopback port (generated config), `cityhub serve` on SQLite with
freshly made sealing keys and the nine demo staff (kiosk.display.simulate.DEMO_STAFF) in its
roster, `kiosk sync`, and `kiosk run --simulate` (a window where there is a display, headless
otherwise). Everything lives under one directory that is kept between runs; Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.sync.localbroker import LocalBroker

CITY = "452025"
DEV = "tc-demo-1"
SITE = "demo"


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

    def stop(self) -> None:
        """Newest first: the screen, then sync (says offline), then the hub."""
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=default_dir(), help=f"where everything lives (default {default_dir()})")
    parser.add_argument("--headless", action="store_true", help="no window, even where there is a display")
    parser.add_argument("--seconds", type=float, default=0, help="stop by itself after this long (smoke test)")
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
    db_url, died = None, []
    try:
        db_url, public_key = prepare_hub(directory / "hub")
        config = directory / "kiosk.toml"
        config.write_text(kiosk_toml(directory, broker.port, public_key))
        children.start("hub", ["cityhub.cli", "serve", "--city", CITY, "--db", db_url, "--mqtt", broker.url,
                               "--sealing-key", str(directory / "hub" / "hub.key")])
        children.start("sync", ["kiosk.cli", "--config", str(config), "sync"])
        headless = args.headless or not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
        screen_env = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"} if headless else {}
        children.start("screen", ["kiosk.cli", "--config", str(config), "run", "--simulate"], screen_env)
        print_guide(directory, broker, db_url, headless)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while not stop and not children.exited():
            if deadline and time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        died = children.exited()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nkiosk demo: stopping ...")
        children.stop()
        broker.stop()
    if db_url:
        print_summary(db_url)
    if died and died != ["screen"]:  # Esc in the window ends the demo; anything else is a failure
        print(f"kiosk demo: {', '.join(died)} stopped unexpectedly; see {logs}", file=sys.stderr)
        return 1
    return 0


def print_guide(directory: Path, broker: LocalBroker, db_url: str, headless: bool) -> None:
    print(f"""
kiosk demo: running (Ctrl-C stops everything)
  broker    mosquitto on {broker.url} (config {broker.conf_path})
  city hub  {db_url}   sealing keys in {directory / 'hub'}
  kiosk     outbox and sync-state.json in {directory / 'kiosk'}   config {directory / 'kiosk.toml'}
  logs      {directory / 'logs'}
""")
    if headless:
        print("  No display: the kiosk screen runs headless (SDL dummy driver); nothing to press.")
    else:
        print("  In the kiosk window: keys 1-9 tap the nine demo staff cards (1 = administrator),\n"
              "  0 taps a card nobody has enrolled, Esc closes the window and ends the demo.")
    print(f"  Punches reach the hub within a second: sqlite3 {db_url.removeprefix('sqlite:///')} "
          "'select seq, time, body from events order by seq desc limit 5'\n")


def print_summary(db_url: str) -> None:
    from sqlalchemy import func, select

    from cityhub import store

    engine = store.connect(db_url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(store.events)).scalar()
    engine.dispose()
    print(f"kiosk demo: the hub holds {count} event(s) in {db_url}")
