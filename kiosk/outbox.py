"""The crash-safe, segmented outbox and the sync-state file (DESIGN §2).

The UI process is the only writer of ``<data>/outbox/``: ``Outbox.append`` stores each event in
a numbered TinyDB segment file, rewritten atomically, and returns only after fsync. Segment
``n`` holds seqs ``(n-1)*SEGMENT_EVENTS+1 .. n*SEGMENT_EVENTS``; a full segment is sealed and never
rewritten, so an append costs the same at any backlog. The sync process is the only writer of
``<data>/sync-state.json`` (confirmations, rejections, roster, occupancy, health); through
``OutboxReader`` it reads pending events and deletes sealed segments whose events are all
confirmed, never any other outbox file. See docs/outbox.md.

UI side::

    box = Outbox(data_dir, disk_floor_bytes=200 * 2**20)
    stored = box.append(event)      # the Event with its seq, after fsync; raises DiskFull
    box.last_seq                    # newest seq on disk (0 when empty)
    box.quarantined                 # paths moved aside at start-up (status field)

Sync side::

    reader = OutboxReader(data_dir)
    reader.pending(limit=500)        # unconfirmed, not rejected events in seq order
    reader.confirm([(event_id, seq), ...])
    reader.reject([(event_id, seq, reason), ...])
    reader.backlog()                 # unconfirmed events (rejected included)
    reader.oldest_unconfirmed_time() # `time` of the oldest unconfirmed event, or None
    reader.state                     # the SyncState; reader.unparsable lists skipped files

Either side: ``SyncState.load(data_dir)``; ``state.save(data_dir)`` is for the sync process only.
"""

from __future__ import annotations

import bisect
import errno
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from tinydb import TinyDB
from tinydb.storages import Storage

from kiosk.events import Event, from_dict
from kiosk.files import fsync_directory, remove_leftover_temps, write_atomic

log = logging.getLogger(__name__)

SEGMENT_EVENTS = 100
TABLE = "events"
STATE_FILE = "sync-state.json"
_PREFIX = "seg-"
_SUFFIX = ".json"


class OutboxError(Exception):
    """The outbox could not store or read an event."""


class DiskFull(OutboxError):
    """Free space is under the floor (or exhausted); nothing was written."""


class AtomicJSONStorage(Storage):
    """TinyDB storage whose every write replaces the file atomically and durably.

    The owning process is the file's only writer, so the last written bytes are kept and
    handed back on read instead of re-reading the disk. ``read`` returns a fresh object
    each time because TinyDB mutates what it reads before writing it back.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._text: str | None = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._text = None

    def read(self) -> dict[str, Any] | None:
        return None if self._text is None else json.loads(self._text)

    def write(self, data: dict[str, Any]) -> None:
        # allow_nan=False: NaN is not JSON, and the hub must be able to read every event.
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        write_atomic(self.path, text.encode("utf-8"))
        self._text = text


def segment_path(outbox_dir: Path, number: int) -> Path:
    return Path(outbox_dir) / f"{_PREFIX}{number:09d}{_SUFFIX}"


def segment_of(seq: int) -> int:
    return (seq - 1) // SEGMENT_EVENTS + 1


def _segments(outbox_dir: Path) -> list[tuple[int, Path]]:
    """Segment files by number; temp files (dot-prefixed) and strangers are not segments."""
    found = []
    for path in Path(outbox_dir).glob(f"{_PREFIX}*{_SUFFIX}"):
        digits = path.name[len(_PREFIX):-len(_SUFFIX)]
        if digits.isascii() and digits.isdecimal():
            found.append((int(digits), path))
    return sorted(found)


def parse_segment(text: str | bytes, number: int) -> list[Event]:
    """The events of one segment file in seq order; OutboxError if any part is wrong."""
    try:
        raw = json.loads(text)
        table = raw[TABLE]
        if not isinstance(table, dict) or len(raw) != 1:
            raise ValueError(f"expected only the {TABLE!r} table")
        stored = sorted((from_dict(doc) for doc in table.values()), key=lambda e: e.seq)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise OutboxError(f"segment {number}: {exc}") from None
    seqs = [e.seq for e in stored]
    if len(set(seqs)) != len(seqs) or any(segment_of(s) != number for s in seqs):
        raise OutboxError(f"segment {number}: seqs {seqs[:3]}... do not belong to it")
    return stored


def _quarantine(data_dir: Path, path: Path, why: str) -> Path:
    """Move a file that does not parse aside (never delete it) and say so in the log."""
    target_dir = Path(data_dir) / "quarantine"
    target_dir.mkdir(exist_ok=True)
    target = target_dir / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}.{time.time_ns() % 10**9:09d}"
    os.replace(path, target)
    fsync_directory(target_dir)
    fsync_directory(path.parent)
    log.error("quarantined %s -> %s: %s", path, target, why)
    return target


def _free_bytes(directory: Path) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


class Outbox:
    """The UI side: the only process that writes ``<data>/outbox/``."""

    def __init__(self, data_dir: Path | str, disk_floor_bytes: int = 200 * 2**20):
        self.data_dir = Path(data_dir)
        self.dir = self.data_dir / "outbox"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.disk_floor_bytes = disk_floor_bytes
        self.quarantined: list[Path] = []
        remove_leftover_temps(self.dir, f"{_PREFIX}*")
        self.last_seq = self._recover()
        self._db: TinyDB | None = None
        self._db_number = 0

    def _recover(self) -> int:
        """Quarantine unparsable segments; the newest seq ever used, from what is on disk."""
        last = 0
        for number, path in _segments(self.dir):
            try:
                stored = parse_segment(path.read_bytes(), number)
            except FileNotFoundError:
                continue  # the sync process purged it meanwhile: it was confirmed
            except OutboxError as exc:
                self.quarantined.append(_quarantine(self.data_dir, path, str(exc)))
                # Its seqs may have been sent: never hand them out again.
                last = max(last, number * SEGMENT_EVENTS)
                continue
            last = max(last, stored[-1].seq if stored else (number - 1) * SEGMENT_EVENTS)
        for path in (self.data_dir / "quarantine").glob(f"{_PREFIX}*"):
            digits = path.name[len(_PREFIX):].split(".")[0]
            if digits.isascii() and digits.isdecimal():
                last = max(last, int(digits) * SEGMENT_EVENTS)
        # Guard against a lost outbox directory: never reuse a seq the hub already answered.
        return max(last, SyncState.load(self.data_dir).highest_seq())

    def append(self, event: Event) -> Event:
        """Store ``event`` with the next seq; returns it once it is durable on disk."""
        stored = event.with_seq(self.last_seq + 1)
        try:
            if _free_bytes(self.dir) < self.disk_floor_bytes:
                raise DiskFull(f"free space on {self.dir} is under {self.disk_floor_bytes} bytes")
            self._segment_for(stored.seq).table(TABLE).insert(stored.to_dict())
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # write_atomic left nothing behind
                raise DiskFull(f"{self.dir}: {exc.strerror}") from None
            raise OutboxError(f"cannot store event {stored.id}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise OutboxError(f"event {stored.id} is not JSON: {exc}") from None
        self.last_seq = stored.seq
        return stored

    def _segment_for(self, seq: int) -> TinyDB:
        number = segment_of(seq)
        if self._db_number != number:
            # The previous segment is now sealed: it is never opened for writing again.
            self._db = TinyDB(segment_path(self.dir, number), storage=AtomicJSONStorage)
            self._db_number = number
        return self._db


def _add_to_ranges(ranges: list[list[int]], seq: int) -> None:
    """Insert ``seq`` into sorted, disjoint, non-adjacent [lo, hi] ranges, merging neighbours."""
    i = bisect.bisect_right(ranges, [seq, float("inf")])
    if i and ranges[i - 1][1] >= seq:
        return
    joins_left = i and ranges[i - 1][1] == seq - 1
    joins_right = i < len(ranges) and ranges[i][0] == seq + 1
    if joins_left and joins_right:
        ranges[i - 1][1] = ranges.pop(i)[1]
    elif joins_left:
        ranges[i - 1][1] = seq
    elif joins_right:
        ranges[i][0] = seq
    else:
        ranges.insert(i, [seq, seq])


def _merged(ranges: list[list[int]]) -> list[list[int]]:
    """Sorted ranges with overlapping or touching neighbours joined."""
    out: list[list[int]] = []
    for lo, hi in ranges:
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


@dataclass
class SyncState:
    """What the sync process knows: confirmations (as seq ranges), rejections, hub data."""

    confirmed: list[list[int]] = field(default_factory=list)
    rejected: dict[int, dict[str, str]] = field(default_factory=dict)  # seq -> {id, reason}
    roster: dict[str, Any] = field(default_factory=dict)
    occupancy: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def confirmed_through(self) -> int:
        """Every seq up to this one is confirmed."""
        return self.confirmed[0][1] if self.confirmed and self.confirmed[0][0] == 1 else 0

    def is_confirmed(self, seq: int) -> bool:
        i = bisect.bisect_right(self.confirmed, [seq, float("inf")])
        return bool(i) and self.confirmed[i - 1][1] >= seq

    def highest_seq(self) -> int:
        return max([self.confirmed[-1][1] if self.confirmed else 0, *self.rejected])

    def to_json(self) -> str:
        return json.dumps({
            "confirmed": self.confirmed,
            "rejected": {str(seq): why for seq, why in sorted(self.rejected.items())},
            "roster": self.roster, "occupancy": self.occupancy, "health": self.health,
        }, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SyncState:
        """Raises ValueError (or KeyError/TypeError) for anything but a well-formed state."""
        raw = json.loads(text)
        ranges = sorted([int(lo), int(hi)] for lo, hi in raw["confirmed"])
        if any(lo > hi or lo < 1 for lo, hi in ranges):
            raise ValueError("a confirmed range is not [first, last] of positive seqs")
        rejected = {int(seq): {"id": str(why["id"]), "reason": str(why["reason"])}
                    for seq, why in raw["rejected"].items()}
        dicts = [raw[key] for key in ("roster", "occupancy", "health")]
        if not all(isinstance(d, dict) for d in dicts):
            raise ValueError("roster, occupancy and health must be objects")
        return cls(_merged(ranges), rejected, *dicts)

    @classmethod
    def load(cls, data_dir: Path | str) -> SyncState:
        """The state on disk; an empty one when the file is missing or does not parse."""
        state, _problem = cls._read(Path(data_dir) / STATE_FILE)
        return state

    @classmethod
    def _read(cls, path: Path) -> tuple[SyncState, str | None]:
        try:
            return cls.from_json(path.read_bytes()), None
        except FileNotFoundError:
            return cls(), None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            return cls(), f"{type(exc).__name__}: {exc}"

    def save(self, data_dir: Path | str) -> None:
        """Sync process only: replace the state file atomically."""
        write_atomic(Path(data_dir) / STATE_FILE, self.to_json().encode("utf-8"))


class OutboxReader:
    """The sync side: reads the outbox, writes only sync-state.json, purges confirmed segments."""

    def __init__(self, data_dir: Path | str):
        self.data_dir = Path(data_dir)
        self.dir = self.data_dir / "outbox"
        self.dir.mkdir(parents=True, exist_ok=True)
        remove_leftover_temps(self.data_dir, STATE_FILE)
        state_path = self.data_dir / STATE_FILE
        self.state, problem = SyncState._read(state_path)
        if problem:
            # Starting empty only means resending: the hub answers `duplicate`.
            _quarantine(self.data_dir, state_path, problem)
        self._cache: dict[str, tuple[tuple[int, int, int], list[Event] | None]] = {}
        self._purge()

    def _read_segments(self) -> Iterable[tuple[int, bool, list[Event]]]:
        """(number, sealed, events) for each readable segment in seq order."""
        segments = _segments(self.dir)
        present = {path.name for _n, path in segments}
        for name in set(self._cache) - present:
            del self._cache[name]
        for index, (number, path) in enumerate(segments):
            stored = self._parsed(number, path)
            if stored is not None:
                # The UI only ever writes the highest-numbered segment.
                yield number, index < len(segments) - 1, stored

    @property
    def unparsable(self) -> list[Path]:
        """Segment files skipped because they do not parse (left untouched)."""
        return sorted(self.dir / name for name, (_key, stored) in self._cache.items() if stored is None)

    def _parsed(self, number: int, path: Path) -> list[Event] | None:
        try:
            with open(path, "rb") as file:
                # The UI replaces the open segment by rename: a new inode each time.
                stat = os.fstat(file.fileno())
                key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                cached = self._cache.get(path.name)
                if cached and cached[0] == key:
                    return cached[1]
                text = file.read()
        except FileNotFoundError:
            return []
        try:
            stored = parse_segment(text, number)
        except OutboxError as exc:
            log.error("skipping %s: %s", path, exc)
            stored = None
        self._cache[path.name] = (key, stored)
        return stored

    def _unconfirmed(self, stored: list[Event]) -> list[Event]:
        if not stored:
            return []
        # The common cases are cheap: no confirmed range touches the segment, or one covers it.
        confirmed = self.state.confirmed
        i = bisect.bisect_right(confirmed, [stored[-1].seq, float("inf")])
        if not i or confirmed[i - 1][1] < stored[0].seq:
            return stored
        if confirmed[i - 1][0] <= stored[0].seq and confirmed[i - 1][1] >= stored[-1].seq:
            return []
        return [e for e in stored if not self.state.is_confirmed(e.seq)]

    def pending(self, limit: int = 500) -> list[Event]:
        """Unconfirmed, not rejected events in seq order, at most ``limit``."""
        out: list[Event] = []
        for _number, _sealed, stored in self._read_segments():
            out.extend(e for e in self._unconfirmed(stored) if e.seq not in self.state.rejected)
            if len(out) >= limit:
                break
        return out[:limit]

    def _matching(self, answers: Iterable[tuple]) -> Iterator[tuple]:
        """The hub's answers ``(id, seq, ...)`` whose id is that of the event stored at seq.

        Any other answer is ignored: acting on the wrong seq could let an unconfirmed event be
        deleted.
        """
        number, stored = 0, []
        for answer in sorted(answers, key=lambda a: a[1]):
            event_id, seq = answer[0], answer[1]
            if segment_of(seq) != number:
                number = segment_of(seq)
                stored = self._parsed(number, segment_path(self.dir, number)) or []
            # Seqs in a segment are consecutive, so the index is usually exact.
            index = seq - stored[0].seq if stored else -1
            found = stored[index] if 0 <= index < len(stored) and stored[index].seq == seq else \
                next((e for e in stored if e.seq == seq), None)
            if found is not None and found.id == event_id:
                yield answer
            else:
                log.warning("ignoring answer for %s at seq %s: not the stored event", event_id, seq)

    def confirm(self, acks: Iterable[tuple[str, int]]) -> int:
        """Record the hub's stored/duplicate answers, then purge; returns how many were new."""
        accepted = 0
        for _event_id, seq in self._matching(acks):
            if not self.state.is_confirmed(seq):
                _add_to_ranges(self.state.confirmed, seq)
                accepted += 1
            self.state.rejected.pop(seq, None)
        if accepted:
            self.state.save(self.data_dir)
            self._purge()
        return accepted

    def reject(self, rejections: Iterable[tuple[str, int, str]]) -> int:
        """Keep rejected events on disk and out of ``pending``; returns how many were new."""
        changed = 0
        for event_id, seq, reason in self._matching(rejections):
            if self.state.is_confirmed(seq):
                continue
            self.state.rejected[seq] = {"id": event_id, "reason": str(reason)}
            changed += 1
        if changed:
            self.state.save(self.data_dir)
        return changed

    def _purge(self) -> None:
        """Delete sealed segments whose events are all confirmed (rejected ones stay)."""
        deleted = False
        last_possible = segment_of(self.state.confirmed[-1][1]) if self.state.confirmed else 0
        for number, sealed, stored in self._read_segments():
            if number > last_possible:
                break
            if sealed and not self._unconfirmed(stored):
                segment_path(self.dir, number).unlink(missing_ok=True)
                self._cache.pop(segment_path(self.dir, number).name, None)
                deleted = True
        if deleted:
            fsync_directory(self.dir)

    def backlog(self) -> int:
        return sum(len(self._unconfirmed(stored)) for _n, _s, stored in self._read_segments())

    def oldest_unconfirmed_time(self) -> str | None:
        for _number, _sealed, stored in self._read_segments():
            unconfirmed = self._unconfirmed(stored)
            if unconfirmed:
                return unconfirmed[0].time
        return None
