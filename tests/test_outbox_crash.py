"""A writer killed with SIGKILL at random moments never loses or duplicates a stored event."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from kiosk import outbox

KILLS = 200
SEGMENT_EVENTS = 7  # small, so that kills also land while a segment is sealed and the next begun

WRITER = f"""
import sys
from kiosk import outbox
outbox.SEGMENT_EVENTS = {SEGMENT_EVENTS}
from kiosk.clock import read_clock
from kiosk.events import new_event
box = outbox.Outbox(sys.argv[1], disk_floor_bytes=0)
clock = read_clock()
while True:
    stored = box.append(new_event("punch/1", {{"pad": "x" * 200}}, dev="tc-1", site="s", clock=clock))
    sys.stdout.write(stored.id + "\\n")
    sys.stdout.flush()
"""


def stored_ids(data: Path) -> list[tuple[int, str]]:
    """(seq, id) of every event in every segment; parse_segment raises if a file is damaged."""
    found = []
    for path in sorted((data / "outbox").glob("seg-*.json")):
        number = int(path.name[4:-5])
        found.extend((e.seq, e.id) for e in outbox.parse_segment(path.read_bytes(), number))
    return found


def test_writer_killed_at_random_moments_keeps_every_returned_event_once(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox, "SEGMENT_EVENTS", SEGMENT_EVENTS)
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    returned: list[str] = []
    for kill in range(KILLS):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                                  cwd=Path(__file__).parent.parent, text=True)
        first = writer.stdout.readline()  # the writer is up and appending
        time.sleep(rng.uniform(0, 0.03))  # the random moment of the kill, not a synchronisation
        writer.send_signal(signal.SIGKILL)
        rest = writer.stdout.read()
        assert writer.wait() == -signal.SIGKILL
        returned.extend(line for line in (first + rest).splitlines() if line)

        on_disk = stored_ids(tmp_path)
        counts = Counter(event_id for _seq, event_id in on_disk)
        assert [s for s, _i in on_disk] == list(range(1, len(on_disk) + 1)), f"kill {kill}: seq gap or repeat"
        assert max(counts.values()) == 1, f"kill {kill}: duplicated event"
        missing = set(returned) - set(counts)
        assert not missing, f"kill {kill}: {len(missing)} appended events lost"
        assert not (tmp_path / "quarantine").exists(), f"kill {kill}: a file did not parse"
    assert len(returned) >= KILLS
