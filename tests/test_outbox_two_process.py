"""The UI appending and the sync side confirming and purging, as two OS processes at once."""

import subprocess
import sys
from pathlib import Path

from kiosk.outbox import OutboxReader

SECONDS = 20
EVENTS = 5000

UI = f"""
import sys, time
from kiosk.clock import read_clock
from kiosk.events import new_event
from kiosk.outbox import Outbox
box = Outbox(sys.argv[1], disk_floor_bytes=0)
clock = read_clock()
start, count = time.monotonic(), 0
while time.monotonic() - start < {SECONDS} or count < {EVENTS}:
    stored = box.append(new_event("punch/1", {{"n": count}}, dev="tc-1", site="s", clock=clock))
    print(stored.id, flush=True)
    count += 1
"""

SYNC = """
import sys, time
from pathlib import Path
from kiosk.outbox import OutboxReader
reader = OutboxReader(sys.argv[1])
stop = Path(sys.argv[1]) / "stop"
while True:
    stopping = stop.exists()  # read before pending(): the UI had finished by then
    batch = reader.pending(limit=300)
    if not batch:
        if stopping:
            break
        time.sleep(0.01)  # the real forwarder waits for the hub here
        continue
    for event in batch:
        print(event.id, flush=True)
    reader.confirm((e.id, e.seq) for e in batch)
"""


def test_ui_and_sync_processes_lose_and_duplicate_nothing(tmp_path):
    root = Path(__file__).parent.parent
    data = tmp_path / "data"
    with open(tmp_path / "appended", "w") as appended, open(tmp_path / "delivered", "w") as delivered:
        ui = subprocess.Popen([sys.executable, "-c", UI, str(data)], stdout=appended, cwd=root)
        sync = subprocess.Popen([sys.executable, "-c", SYNC, str(data)], stdout=delivered, cwd=root)
        assert ui.wait(timeout=SECONDS * 6) == 0
        (data / "stop").touch()
        assert sync.wait(timeout=120) == 0

    appended_ids = (tmp_path / "appended").read_text().split()
    delivered_ids = (tmp_path / "delivered").read_text().split()
    assert len(appended_ids) >= EVENTS
    assert len(set(delivered_ids)) == len(delivered_ids), "an event was delivered twice"
    assert set(delivered_ids) == set(appended_ids), "an event was lost"
    reader = OutboxReader(data)
    assert reader.backlog() == 0
    assert reader.state.confirmed_through == len(appended_ids)
    # Everything confirmed is gone except the newest segment, which keeps the seq.
    assert len(list((data / "outbox").glob("seg-*.json"))) == 1
