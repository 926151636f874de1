"""Append latency and sync read rate of the outbox against a plain single-file TinyDB.

    python bench/outbox.py [DIR]     # DIR: where to build the test data (default: /var/tmp)

For each backlog (events waiting) the outbox is built as sealed segments through the outbox's own
storage, then appends are timed (fsync included). Appends to the four backlogs are interleaved so
that noise from other work on the machine falls on all of them alike. The sync side's read rate is
the rate of its drain loop: pending(500), confirm, purge. The baseline is TinyDB's default
JSONStorage in one file. The last line is one JSON object.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from tinydb import TinyDB

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk import outbox  # noqa: E402
from kiosk.clock import ClockReading  # noqa: E402
from kiosk.events import new_event  # noqa: E402
from kiosk.outbox import AtomicJSONStorage, Outbox, OutboxReader, segment_path  # noqa: E402

BACKLOGS = [0, 1_000, 10_000, 100_000]
SAMPLES = 1_000
# A plain TinyDB rewrites the whole file per insert: at 100,000 events that is ~0.5 s each.
BASELINE_SAMPLES = {0: 300, 1_000: 300, 10_000: 100, 100_000: 20}
CLOCK = ClockReading(wall=datetime(2026, 12, 3, 8, 29, 1, tzinfo=timezone.utc).astimezone(),
                     synced=True, source="ntp", boot="6f1d2c3e-0000-4000-8000-000000000000", mono_ns=123)


def event():
    """A punch as the time clock records it."""
    return new_event("punch/1", {"staff_key": "jpki:" + "ab" * 32, "direction": "in"},
                     dev="tc-honcho-1", site="honcho", clock=CLOCK)


def build_segments(data: Path, backlog: int) -> None:
    """Write ``backlog`` events as sealed segments, the way the outbox itself writes them."""
    outbox_dir = data / "outbox"
    outbox_dir.mkdir(parents=True)
    for first in range(1, backlog + 1, outbox.SEGMENT_EVENTS):
        seqs = range(first, min(first + outbox.SEGMENT_EVENTS, backlog + 1))
        docs = {str(i + 1): event().with_seq(seq).to_dict() for i, seq in enumerate(seqs)}
        AtomicJSONStorage(segment_path(outbox_dir, outbox.segment_of(first))).write({outbox.TABLE: docs})


def build_baseline(path: Path, backlog: int) -> TinyDB:
    docs = {str(seq): event().with_seq(seq).to_dict() for seq in range(1, backlog + 1)}
    path.write_text(json.dumps({"_default": docs}))
    return TinyDB(path)


def ms(seconds: list[float], quantile: float) -> float:
    ordered = sorted(seconds)
    return round(1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))], 3)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_outbox(root: Path) -> dict:
    boxes, startup = {}, {}
    for backlog in BACKLOGS:
        build_segments(root / f"outbox-{backlog}", backlog)
        start = time.perf_counter()
        boxes[backlog] = Outbox(root / f"outbox-{backlog}", disk_floor_bytes=0)
        startup[backlog] = time.perf_counter() - start
    latencies = {backlog: [] for backlog in BACKLOGS}
    for _ in range(SAMPLES):
        for backlog, box in boxes.items():
            latencies[backlog].append(timed(lambda: box.append(event())))
    read_rate, reader_start = {}, {}
    for backlog in BACKLOGS:
        start = time.perf_counter()
        reader = OutboxReader(root / f"outbox-{backlog}")
        reader_start[backlog] = time.perf_counter() - start
        drained, start = 0, time.perf_counter()
        while batch := reader.pending(500):
            reader.confirm((e.id, e.seq) for e in batch)
            drained += len(batch)
        read_rate[backlog] = round(drained / (time.perf_counter() - start))
    return {"p50": {b: ms(v, 0.5) for b, v in latencies.items()},
            "p99": {b: ms(v, 0.99) for b, v in latencies.items()},
            "read_rate": read_rate,
            "ui_start_s": {b: round(s, 2) for b, s in startup.items()},
            "sync_start_s": {b: round(s, 2) for b, s in reader_start.items()}}


def bench_baseline(root: Path) -> dict:
    p50, p99, read_rate = {}, {}, {}
    for backlog, samples in BASELINE_SAMPLES.items():
        path = root / f"baseline-{backlog}.json"
        db = build_baseline(path, backlog)
        latencies = [timed(lambda: db.insert(event().with_seq(backlog + 1).to_dict())) for _ in range(samples)]
        p50[backlog], p99[backlog] = ms(latencies, 0.5), ms(latencies, 0.99)
        db.close()
        start = time.perf_counter()
        pending = sorted(TinyDB(path).all(), key=lambda doc: doc["seq"])
        read_rate[backlog] = round(len(pending) / (time.perf_counter() - start))
    return {"p50": p50, "p99": p99, "read_rate": read_rate}


def main(argv: list[str]) -> int:
    root = Path(tempfile.mkdtemp(prefix="kiosk-bench-", dir=argv[0] if argv else "/var/tmp"))
    try:
        ours = bench_outbox(root)
        base = bench_baseline(root)
    finally:
        shutil.rmtree(root)
    print(f"{'backlog':>8} | {'outbox p50':>10} {'p99 ms':>8} {'read ev/s':>10} {'ui start s':>10}"
          f" | {'TinyDB p50':>10} {'p99 ms':>8} {'read ev/s':>10} {'samples':>7}")
    for b in BACKLOGS:
        print(f"{b:>8} | {ours['p50'][b]:>10} {ours['p99'][b]:>8} {ours['read_rate'][b]:>10}"
              f" {ours['ui_start_s'][b]:>10} | {base['p50'][b]:>10} {base['p99'][b]:>8}"
              f" {base['read_rate'][b]:>10} {BASELINE_SAMPLES[b]:>7}")
    ratio = round(ours["p99"][100_000] / ours["p99"][0], 2)
    base_ratio = round(base["p99"][100_000] / base["p99"][0], 1)
    print(f"outbox p99(100k)/p99(0) = {ratio}   plain TinyDB p99(100k)/p99(0) = {base_ratio}"
          f"   ({SAMPLES} outbox appends per backlog, segments of {outbox.SEGMENT_EVENTS} events)")
    print(json.dumps({
        "append_p50_ms": ours["p50"], "append_p99_ms": ours["p99"],
        "baseline_p50_ms": base["p50"], "baseline_p99_ms": base["p99"],
        "ratio_p99_100k_over_0": ratio, "baseline_ratio_p99_100k_over_0": base_ratio,
        "read_rate_events_per_s": ours["read_rate"], "baseline_read_rate_events_per_s": base["read_rate"],
        "ui_start_s": ours["ui_start_s"], "sync_start_s": ours["sync_start_s"],
        "samples": SAMPLES, "baseline_samples": BASELINE_SAMPLES, "segment_events": outbox.SEGMENT_EVENTS,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
