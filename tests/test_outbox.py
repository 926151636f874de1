"""The outbox on one machine: append, seq, quarantine, disk floor, confirmations and purging."""

import json
import os
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kiosk import outbox
from kiosk.clock import ClockReading
from kiosk.events import new_event
from kiosk.outbox import DiskFull, Outbox, OutboxReader, SyncState, segment_path

CLOCK = ClockReading(wall=datetime(2026, 12, 3, 8, 29, tzinfo=timezone.utc), synced=True,
                     source="ntp", boot="b00t", mono_ns=1)


def event(n: int = 0):
    return new_event("punch/1", {"n": n}, dev="tc-1", site="honcho", clock=CLOCK)


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(outbox, "SEGMENT_EVENTS", 5)


def fill(box: Outbox, count: int) -> list:
    return [box.append(event(i)) for i in range(count)]


def segment_names(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "outbox").iterdir())


def test_append_returns_event_with_next_seq_on_disk(tmp_path):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    stored = fill(box, 3)
    assert [e.seq for e in stored] == [1, 2, 3]
    assert box.last_seq == 3
    on_disk = json.loads(segment_path(tmp_path / "outbox", 1).read_text())
    assert sorted(doc["id"] for doc in on_disk["events"].values()) == sorted(e.id for e in stored)


def test_append_seals_full_segments(tmp_path, small_segments):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    fill(box, 12)
    assert segment_names(tmp_path) == [f"seg-00000000{n}.json" for n in (1, 2, 3)]
    sealed = segment_path(tmp_path / "outbox", 1).stat()
    fill(box, 5)
    assert segment_path(tmp_path / "outbox", 1).stat().st_mtime_ns == sealed.st_mtime_ns


def test_seq_continues_across_restarts(tmp_path, small_segments):
    fill(Outbox(tmp_path, disk_floor_bytes=0), 7)
    box = Outbox(tmp_path, disk_floor_bytes=0)
    assert box.last_seq == 7
    assert box.append(event()).seq == 8
    assert [e.seq for e in OutboxReader(tmp_path).pending(100)] == list(range(1, 9))


def test_seq_continues_when_everything_but_the_newest_segment_was_purged(tmp_path, small_segments):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    stored = fill(box, 10)
    reader = OutboxReader(tmp_path)
    reader.confirm((e.id, e.seq) for e in stored)
    assert segment_names(tmp_path) == ["seg-000000002.json"]  # the newest stays: it holds the seq
    assert Outbox(tmp_path, disk_floor_bytes=0).append(event()).seq == 11


def test_seq_never_reused_when_the_outbox_directory_is_lost(tmp_path):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    stored = fill(box, 4)
    OutboxReader(tmp_path).confirm((e.id, e.seq) for e in stored)
    for path in (tmp_path / "outbox").iterdir():
        path.unlink()
    assert Outbox(tmp_path, disk_floor_bytes=0).append(event()).seq == 5


def test_leftover_temp_files_are_removed_at_start(tmp_path):
    fill(Outbox(tmp_path, disk_floor_bytes=0), 1)
    leftover = tmp_path / "outbox" / ".seg-000000001.json.abc123.tmp"
    leftover.write_text('{"events": {')
    state_leftover = tmp_path / ".sync-state.json.xyz.tmp"
    state_leftover.write_text("{")
    Outbox(tmp_path, disk_floor_bytes=0)
    assert not leftover.exists()
    assert state_leftover.exists()  # the sync process's temp file is not the UI's to remove
    OutboxReader(tmp_path)
    assert not state_leftover.exists()


@pytest.mark.parametrize("garbage", [
    b'{"events": {"1": {"schema": "punch/1"',      # torn write
    b"\x00\x00\x00\x00",                           # zeroed blocks after a power cut
    b'{"events": {"1": {"seq": 1}}}',              # an event missing its fields
    b'{"_default": {}}',                           # not our table
    b"[" * 100000,                                 # nesting deep enough to exhaust the parser
    b"\xff\xfe{}",                                 # not UTF-8
])
def test_unparsable_newest_segment_is_quarantined_and_appends_continue(tmp_path, small_segments, garbage, caplog):
    fill(Outbox(tmp_path, disk_floor_bytes=0), 7)
    segment_path(tmp_path / "outbox", 2).write_bytes(garbage)
    box = Outbox(tmp_path, disk_floor_bytes=0)
    assert [p.read_bytes() for p in box.quarantined] == [garbage]
    assert box.quarantined[0].parent == tmp_path / "quarantine"
    assert "quarantined" in caplog.text and "seg-000000002.json" in caplog.text
    # The lost segment's seqs (6..10) may have been sent already: they are never reused.
    assert box.append(event()).seq == 11
    assert segment_names(tmp_path) == ["seg-000000001.json", "seg-000000003.json"]
    assert Outbox(tmp_path, disk_floor_bytes=0).last_seq == 11


def test_quarantined_seqs_stay_unused_after_the_rest_is_purged(tmp_path, small_segments):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    stored = fill(box, 5)
    segment_path(tmp_path / "outbox", 1).write_bytes(b"garbage")
    Outbox(tmp_path, disk_floor_bytes=0)
    assert segment_names(tmp_path) == []
    assert Outbox(tmp_path, disk_floor_bytes=0).append(event()).seq == 6
    assert stored[-1].seq == 5


def test_reader_skips_unparsable_segment_without_touching_it(tmp_path, small_segments):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    stored = fill(box, 12)
    broken = segment_path(tmp_path / "outbox", 2)
    broken.write_bytes(b"{not json")
    reader = OutboxReader(tmp_path)
    assert [e.seq for e in reader.pending(100)] == [1, 2, 3, 4, 5, 11, 12]
    assert reader.unparsable == [broken]
    reader.confirm((e.id, e.seq) for e in stored)
    assert broken.read_bytes() == b"{not json"
    assert not (tmp_path / "quarantine").exists()


def test_disk_floor_above_free_space_raises_and_writes_nothing(tmp_path):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    fill(box, 2)
    before = segment_path(tmp_path / "outbox", 1).read_bytes()
    box.disk_floor_bytes = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize + 2**30
    with pytest.raises(DiskFull):
        box.append(event())
    assert segment_path(tmp_path / "outbox", 1).read_bytes() == before
    assert box.last_seq == 2


@pytest.fixture
def tiny_disk():
    """A 2 MB tmpfs: a disk that really fills up."""
    mount_point = Path(tempfile.mkdtemp(prefix="kiosk-tinydisk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], check=True)
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)
    mount_point.rmdir()


def test_disk_floor_on_a_filling_disk_refuses_new_events_and_keeps_old_ones(tiny_disk):
    box = Outbox(tiny_disk, disk_floor_bytes=1 * 2**20)
    ballast = tiny_disk / "ballast"
    ballast.write_bytes(b"x" * (900 * 1024))
    stored = []
    with pytest.raises(DiskFull):
        for n in range(100000):
            stored.append(box.append(event(n)))
    assert len(stored) > 10
    assert [e.id for e in OutboxReader(tiny_disk).pending(10**6)] == [e.id for e in stored]


def test_out_of_space_during_write_raises_disk_full_and_loses_nothing(tiny_disk, small_segments):
    box = Outbox(tiny_disk, disk_floor_bytes=0)
    stored = fill(box, 3)
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    ballast = tiny_disk / "ballast"
    ballast.write_bytes(b"x" * (free - 512))
    with pytest.raises(DiskFull):
        fill(box, 100)
    assert box.last_seq >= 3
    ballast.unlink()
    after = box.append(event())
    assert after.seq == box.last_seq
    seqs = [e.seq for e in OutboxReader(tiny_disk).pending(10**6)]
    assert seqs == list(range(1, after.seq + 1))
    assert [p.name for p in (tiny_disk / "outbox").iterdir() if p.name.startswith(".")] == []
    assert stored[0].seq == 1


def test_confirm_purges_sealed_segments_but_never_the_open_one(tmp_path, small_segments):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    stored = fill(box, 12)
    reader = OutboxReader(tmp_path)
    assert reader.confirm((e.id, e.seq) for e in stored) == 12
    assert segment_names(tmp_path) == ["seg-000000003.json"]
    assert reader.backlog() == 0 and reader.pending() == []
    assert reader.state.confirmed_through == 12
    assert SyncState.load(tmp_path).confirmed_through == 12


def test_confirm_with_mismatched_id_is_ignored(tmp_path, small_segments):
    stored = fill(Outbox(tmp_path, disk_floor_bytes=0), 6)
    reader = OutboxReader(tmp_path)
    assert reader.confirm([(stored[1].id, 1), ("nonsense", 3), (stored[0].id, 99)]) == 0
    assert segment_names(tmp_path) == ["seg-000000001.json", "seg-000000002.json"]
    assert reader.backlog() == 6


def test_rejected_event_is_kept_reported_and_not_pending(tmp_path, small_segments):
    stored = fill(Outbox(tmp_path, disk_floor_bytes=0), 7)
    reader = OutboxReader(tmp_path)
    assert reader.reject([(stored[2].id, 3, "schema unknown")]) == 1
    reader.confirm((e.id, e.seq) for e in stored if e.seq != 3)
    assert [e.seq for e in reader.pending()] == []
    assert reader.backlog() == 1
    assert reader.oldest_unconfirmed_time() == stored[2].time
    assert "seg-000000001.json" in segment_names(tmp_path)
    assert SyncState.load(tmp_path).rejected == {3: {"id": stored[2].id, "reason": "schema unknown"}}


def test_confirmations_out_of_order_are_stored_as_ranges(tmp_path):
    stored = fill(Outbox(tmp_path, disk_floor_bytes=0), 10)
    reader = OutboxReader(tmp_path)
    reader.confirm((e.id, e.seq) for e in stored if e.seq % 2 == 0)
    assert reader.state.confirmed_through == 0
    reader.confirm((e.id, e.seq) for e in stored if e.seq % 2 == 1)
    assert reader.state.confirmed == [[1, 10]]


def test_pending_sees_events_appended_after_the_reader_started(tmp_path, small_segments):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    fill(box, 3)
    reader = OutboxReader(tmp_path)
    assert len(reader.pending()) == 3
    fill(box, 4)
    assert [e.seq for e in reader.pending()] == list(range(1, 8))
    assert [e.seq for e in reader.pending(limit=2)] == [1, 2]


@pytest.mark.parametrize("garbage", [b"{", b"[]", b'{"confirmed": [[5, 1]], "rejected": {}, "roster": {}, '
                                     b'"occupancy": {}, "health": {}}', b'{"confirmed": "x"}'])
def test_corrupt_sync_state_loads_empty_and_is_quarantined_by_the_sync_side(tmp_path, garbage):
    (tmp_path / "sync-state.json").write_bytes(garbage)
    assert SyncState.load(tmp_path).confirmed_through == 0
    assert (tmp_path / "sync-state.json").exists()  # a reader never moves a file it does not own
    reader = OutboxReader(tmp_path)
    assert reader.state.confirmed == []
    assert [p.read_bytes() for p in (tmp_path / "quarantine").iterdir()] == [garbage]


def test_sync_state_round_trip_keeps_hub_data(tmp_path):
    state = SyncState(confirmed=[[1, 4], [7, 9]], rejected={5: {"id": "x", "reason": "bad"}},
                      roster={"k": {"staff": "s1"}}, occupancy={"headcount": 3}, health={"connected": True})
    state.save(tmp_path)
    assert SyncState.load(tmp_path) == state
    assert SyncState.load(tmp_path).highest_seq() == 9


def test_event_that_is_not_json_is_refused_and_nothing_is_written(tmp_path):
    box = Outbox(tmp_path, disk_floor_bytes=0)
    fill(box, 1)
    before = segment_path(tmp_path / "outbox", 1).read_bytes()
    for bad in ({"when": datetime.now()}, {"ratio": float("nan")}):
        with pytest.raises(outbox.OutboxError, match="not JSON"):
            box.append(new_event("punch/1", bad, dev="tc-1", site="honcho", clock=CLOCK))
    assert segment_path(tmp_path / "outbox", 1).read_bytes() == before
    assert box.append(event()).seq == 2


def test_overlapping_confirmed_ranges_on_disk_are_merged(tmp_path):
    (tmp_path / "sync-state.json").write_text(
        '{"confirmed": [[6, 9], [1, 3], [3, 5]], "rejected": {}, "roster": {}, "occupancy": {}, "health": {}}')
    state = SyncState.load(tmp_path)
    assert state.confirmed == [[1, 9]] and state.confirmed_through == 9
