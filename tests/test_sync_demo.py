"""`kiosk demo` as a user starts it on a server: headless, so a scripted card taps; its punches
must reach the hub and come back confirmed (a smoke test of the whole chain)."""

import json
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from kiosk.outbox import SyncState
from tests.fixtures.broker import ROOT, wait_until


def hub_events(db: Path) -> list[tuple[int, str, str | None]]:
    """(seq, schema, staff id) of every event the hub stored, read-only; [] while it cannot be read."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            rows = conn.execute("select seq, schema, body from events order by seq").fetchall()
    except sqlite3.Error:  # not created yet, or locked
        return []
    return [(seq, schema, json.loads(body)["data"].get("staff_id")) for seq, schema, body in rows]


def test_sync_demo_headless_scripted_taps_are_stored_and_confirmed(tmp_path):
    directory = tmp_path / "demo"
    demo = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "demo", "--headless", "--script-taps", "1",
                             "--seconds", "60", "--dir", str(directory)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def through_third_staff_confirmed():
        # The script's first taps: 10101, the unknown card, 10102 twice (one punch), 10103.
        events = hub_events(directory / "hub" / "hub.db")
        stored = any(staff == "10103" for _seq, _schema, staff in events)
        confirmed = SyncState.load(directory / "kiosk").confirmed_through
        return stored and confirmed >= events[-1][0] and events

    try:
        events = wait_until(through_third_staff_confirmed, 30, "the scripted punches stored and confirmed", 0.2)
    finally:
        demo.send_signal(signal.SIGTERM)
        out, err = demo.communicate(timeout=40)
    assert demo.returncode == 0, out + err
    assert events[:4] == [(1, "punch/1", "10101"), (2, "unknown_card/1", None), (3, "punch/1", "10102"),
                          (4, "punch/1", "10103")]  # the double tap of 10102 recorded nothing
    assert "keys 1-9" not in out and "A scripted card taps every 1 s" in out and str(directory) in out
    assert "hub stored seq 1    punch/1         staff 10101 山田 太郎  出勤 in" in out
    assert "hub stored seq 2    unknown_card/1  a card nobody has enrolled" in out
    assert out.count("(confirmed to the kiosk)") >= 4
    # Stopping waits for the last confirmations: nothing left behind, whatever was tapped last.
    appended = len(hub_events(directory / "hub" / "hub.db"))
    assert f"appended on the kiosk {appended}, stored at the hub {appended}, still waiting on the kiosk 0" in out
    state = SyncState.load(directory / "kiosk")
    assert state.confirmed == [[1, appended]]
    # The hub published the nine demo staff; the sync process put them where the screen reads them.
    assert len(state.roster["staff"]) == 9
    assert state.health["hub_online"] is True and state.health["connected"] is False  # stopped cleanly
    assert (directory / "hub" / "hub.key").stat().st_mode & 0o777 == 0o600
