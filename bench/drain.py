"""Drain benchmark: 10,000 events waiting in the outbox, broker and hub (SQLite) on loopback.

Measures the time from starting `kiosk sync` until every event is confirmed by the hub and the
confirmed segments are purged. Baseline in the same run, on the same broker: a bare paho client
publishing the same 10,000 event payloads at QoS 1 while a subscriber counts them.

    .venv/bin/python bench/drain.py [--events N]

The last line of output is one JSON object (drain_events_per_s, baseline_msgs_per_s, ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.clock import read_clock  # noqa: E402
from kiosk.events import new_event  # noqa: E402
from kiosk.outbox import Outbox, SyncState  # noqa: E402
from kiosk.sync import protocol  # noqa: E402
from kiosk.sync.localbroker import LocalBroker  # noqa: E402
from tests.fixtures.broker import write_kiosk_config  # noqa: E402

CITY, DEV = "452025", "tc-bench-1"


def wait_for(predicate, timeout: float, what: str, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(interval)


def prefill(data: Path, count: int) -> list[bytes]:
    box = Outbox(data, disk_floor_bytes=0)
    clock = read_clock()
    payloads = []
    for n in range(count):
        event = box.append(new_event("punch/1", {"staff_key": f"key-{n % 300}", "staff_id": f"{10000 + n % 300}",
                                                 "direction": "in" if n % 2 else "out"},
                                     dev=DEV, site="honcho", clock=clock))
        payloads.append(protocol.encode(event.to_dict()))
    return payloads


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NOTIFY_SOCKET", None)
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def drain(tmp: Path, broker: LocalBroker, count: int) -> float:
    data = tmp / "kiosk"
    config = write_kiosk_config(tmp / "kiosk.toml", DEV, broker, data, resend_seconds=30)
    hub = spawn(["-m", "cityhub.cli", "serve", "--city", CITY, "--db", f"sqlite:///{tmp}/hub.db",
                 "--mqtt", broker.url], tmp / "hub.log")
    try:
        wait_for(lambda: "connected to" in (tmp / "hub.log").read_text(), 90, "the hub to connect")
    except SystemExit:
        print((tmp / "hub.log").read_text()[-3000:])
        raise
    segments = data / "outbox"
    start = time.perf_counter()
    sync = spawn(["-m", "kiosk.cli", "--config", str(config), "sync"], tmp / "sync.log")
    try:
        wait_for(lambda: SyncState.load(data).confirmed_through == count, 300, "all events confirmed")
        wait_for(lambda: len(list(segments.glob("seg-*.json"))) <= 1, 60, "segments purged")
        return time.perf_counter() - start
    finally:
        for proc in (sync, hub):
            proc.terminate()
            proc.wait(10)


def baseline(broker: LocalBroker, payloads: list[bytes]) -> float:
    received = []
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
    subscriber.on_message = lambda _c, _u, m: received.append(1)
    subscribed = []
    subscriber.on_subscribe = lambda *_: subscribed.append(1)
    subscriber.connect("127.0.0.1", broker.port)
    subscriber.loop_start()
    wait_for(subscriber.is_connected, 10, "subscriber")
    subscriber.subscribe("bench/baseline", qos=1)
    wait_for(lambda: subscribed, 10, "subscription")
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub")
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    wait_for(publisher.is_connected, 10, "publisher")
    start = time.perf_counter()
    infos = [publisher.publish("bench/baseline", payload, qos=1) for payload in payloads]
    wait_for(lambda: len(received) >= len(payloads), 300, "baseline messages")
    wait_for(lambda: all(info.is_published() for info in infos), 60, "baseline PUBACKs")
    elapsed = time.perf_counter() - start
    for client in (publisher, subscriber):
        client.loop_stop()
        client.disconnect()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-drain-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        payloads = prefill(tmp / "kiosk", args.events)
        prefill_s = time.perf_counter() - started
        broker = LocalBroker(tmp / "broker").start()
        try:
            base_s = baseline(broker, payloads)
            drain_s = drain(tmp, broker, args.events)
        finally:
            broker.stop()
    drain_rate, base_rate = args.events / drain_s, args.events / base_s
    print(f"{'what':<46}{'seconds':>10}{'per s':>12}")
    print(f"{'prefill (Outbox.append, fsync each)':<46}{prefill_s:>10.2f}{args.events / prefill_s:>12.0f}")
    print(f"{'baseline: bare paho QoS 1 -> subscriber':<46}{base_s:>10.2f}{base_rate:>12.0f}")
    print(f"{'drain: kiosk sync -> hub (SQLite) -> purged':<46}{drain_s:>10.2f}{drain_rate:>12.0f}")
    print(json.dumps({"events": args.events, "drain_s": round(drain_s, 3), "drain_events_per_s": round(drain_rate, 1),
                      "baseline_s": round(base_s, 3), "baseline_msgs_per_s": round(base_rate, 1),
                      "ratio": round(drain_rate / base_rate, 3), "prefill_s": round(prefill_s, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
