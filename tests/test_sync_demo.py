"""`kiosk demo` as a user starts it, headless and time-limited (a smoke test of the whole chain)."""

import subprocess
import sys

from kiosk.outbox import SyncState
from tests.fixtures.broker import ROOT


def test_sync_demo_runs_headless_and_stops_cleanly(tmp_path):
    directory = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--headless", "--seconds", "8",
                           "--dir", str(directory)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "keys 1-9" not in done.stdout and "Ctrl-C" in done.stdout and str(directory) in done.stdout
    state = SyncState.load(directory / "kiosk")
    # The hub published the nine demo staff; the sync process put them where the screen reads them.
    assert len(state.roster["staff"]) == 9
    assert state.health["hub_online"] is True and state.health["connected"] is False  # stopped cleanly
    assert (directory / "hub" / "hub.key").stat().st_mode & 0o777 == 0o600
    assert "the hub holds 0 event(s)" in done.stdout
