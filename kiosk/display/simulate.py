"""``kiosk run --simulate``: nine virtual staff cards on keys 1-9, no hardware needed.

``--script-taps SECONDS`` taps them by script instead (``kiosk demo`` headless), through the
same in-process reader the keys use.

``DEMO_STAFF`` is the one list of demo staff; ``kiosk demo`` imports it too (``demo_roster()``
gives the hub-format roster). Each person's virtual My Number Card carries its own JPKI
certificate, so the staff key comes out of the real staff-id chain like a real card's.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import threading
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

from kiosk import config as cfg
from kiosk.nfc.emulator import EmulatorSession, VirtualCard, fake_certificate
from kiosk.nfc.staffid import identify
from kiosk.roster import StaffEntry

log = logging.getLogger(__name__)

# (staff id, name, kana, admin); key 1 is the administrator who can enrol cards.
DEMO_STAFF = (
    ("90001", "管理 花子", "カンリ ハナコ", True),
    ("10101", "山田 太郎", "ヤマダ タロウ", False),
    ("10102", "佐藤 美咲", "サトウ ミサキ", False),
    ("10103", "鈴木 一郎", "スズキ イチロウ", False),
    ("10104", "高橋 陽菜", "タカハシ ヒナ", False),
    ("10105", "田中 健太", "タナカ ケンタ", False),
    ("10106", "伊藤 さくら", "イトウ サクラ", False),
    ("10107", "渡辺 大輔", "ワタナベ ダイスケ", False),
    ("10108", "中村 結衣", "ナカムラ ユイ", False),
)
NEW_CARD_KEY = "0"  # a tenth card nobody has enrolled: shows the unknown-card path
UNENROLLED = len(DEMO_STAFF)  # demo_card index of that card
# The scripted card's first round: every staff card, the unknown card once, and one card twice
# in a row (the second tap shows "already recorded"); then the staff cards round and round.
FIRST_ROUND = (1, UNENROLLED, 2, 2, 3, 4, 5, 6, 7, 8, 0)


def demo_card(index: int) -> VirtualCard:
    """The virtual card of DEMO_STAFF[index]; index UNENROLLED is a card nobody enrolled."""
    staff_id = DEMO_STAFF[index][0] if index < len(DEMO_STAFF) else "unenrolled"
    name = DEMO_STAFF[index][1] if index < len(DEMO_STAFF) else "未登録 カード"
    return VirtualCard(name=name, auth_cert=fake_certificate(f"demo-staff-{staff_id}".encode()))


def script_seconds(text: str) -> float:
    """The argparse type of ``--script-taps``."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{text!r}: give the seconds between taps, more than 0, up to 3600")
    return seconds


def script_taps(reader, seconds: float) -> Callable[[], None]:
    """Every ``seconds`` put the next scripted card on the emulator ``reader`` (which lifts the
    previous one), as a key press would; returns the function that stops it."""
    stop = threading.Event()

    def tap_in_turn() -> None:
        for index in itertools.chain(FIRST_ROUND, itertools.cycle(range(len(DEMO_STAFF)))):
            if stop.wait(seconds):
                return
            card = demo_card(index)
            log.info("scripted tap: %s", card.name)
            reader.insert(card)

    thread = threading.Thread(target=tap_in_turn, name="script-taps", daemon=True)
    thread.start()

    def stop_taps() -> None:
        stop.set()
        thread.join()
    return stop_taps


@lru_cache(maxsize=None)
def demo_key(index: int) -> str:
    """The staff key the default chain (jpki) derives from ``demo_card(index)``."""
    return identify(EmulatorSession(demo_card(index), 5.0)).key


def demo_entries() -> list[StaffEntry]:
    return [StaffEntry(sid, name, kana, demo_key(i), admin) for i, (sid, name, kana, admin) in enumerate(DEMO_STAFF)]


def demo_roster(site: str = "sim") -> dict:
    """The roster as the hub publishes it (kiosk.sync.protocol) for ``kiosk demo``."""
    return {"site": site, "staff": {e.key: {"staff_id": e.staff_id, "name": e.name, "kana": e.kana,
                                            "admin": e.admin} for e in demo_entries()}}


def data_dir() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "city-kiosk" / "simulate"


def dev_config(directory: Path | None = None) -> cfg.Config:
    """The built-in config of ``kiosk run --simulate`` when no config file exists."""
    return cfg.Config(
        path=Path("<built-in simulate config>"),
        device=cfg.DeviceSection(id="tc-sim-1", site="sim", city="452025", role="timeclock",
                                 site_name="シミュレーション / Simulation"),
        display=cfg.DisplaySection(fullscreen=False),
        reader=cfg.ReaderSection(backend="emulator"),
        storage=cfg.StorageSection(directory=str(directory or data_dir()), disk_floor_mb=0),
    )


def simulated(config: cfg.Config) -> cfg.Config:
    """An existing config switched to the in-process virtual reader and a window."""
    return replace(config, reader=replace(config.reader, backend="emulator"),
                   display=replace(config.display, fullscreen=False))
