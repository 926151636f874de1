"""The wire protocol v1 (DESIGN §4): topics and payloads, shared by `kiosk sync` and `cityhub`.

Every parser here takes bytes from the network and either returns a checked value or raises
ProtocolError; callers log the error and carry on, so a hostile message never stops a process.

Payloads (JSON, UTF-8):

- ``evt``: ``{"batch": str, "events": [event, ...]}``
- ``ack``: ``{"batch": str, "results": [{"id", "seq", "status", "reason"}], "hwm": int,
  "server_time": float}`` with ``server_time`` in seconds since the epoch and ``hwm`` the
  highest seq below which the hub has seen every event of the device.
- ``cmd/resend``: ``{"from": int, "to": int}`` (inclusive seq range).
- ``site/{site}/roster`` (retained): ``{"site": str, "staff": {staff_key: {"staff_id": str,
  "name": str, "kana": str, "admin": bool}}}``
- ``site/{site}/occupancy`` (retained): ``{"site": str, "headcount": int, "capacity": int|null,
  "level": "open"|"busy"|"crowded"|"full"|"closed"|"unknown"}`` (空いています, やや混雑, 混雑,
  満, 受付停止; cityhub/shelter.py computes it)
- ``status`` / ``_hub/status`` (retained, with a will): ``{"state": "online"|"offline", ...}``
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

PREFIX = "kiosk/v1"
QOS = 1
# mosquitto accepts messages up to 256 MB; we refuse to even parse more than this. A batch is
# bounded well below it by the forwarder (BATCH_MAX_BYTES).
MAX_PAYLOAD_BYTES = 4 * 2**20
STATUSES = ("stored", "duplicate", "rejected")
LEVELS = ("open", "busy", "crowded", "full", "closed", "unknown")


class ProtocolError(ValueError):
    """A topic or payload that does not follow protocol v1."""


def evt_topic(city: str, dev: str) -> str:
    return f"{PREFIX}/{city}/{dev}/evt"


def ack_topic(city: str, dev: str) -> str:
    return f"{PREFIX}/{city}/{dev}/ack"


def status_topic(city: str, dev: str) -> str:
    return f"{PREFIX}/{city}/{dev}/status"


def cmd_topic(city: str, dev: str, name: str) -> str:
    return f"{PREFIX}/{city}/{dev}/cmd/{name}"


def roster_topic(city: str, site: str) -> str:
    return f"{PREFIX}/{city}/site/{site}/roster"


def occupancy_topic(city: str, site: str) -> str:
    return f"{PREFIX}/{city}/site/{site}/occupancy"


def hub_status_topic(city: str) -> str:
    return f"{PREFIX}/{city}/_hub/status"


@dataclass(frozen=True)
class Topic:
    """A parsed topic: ``kind`` is evt, ack, status, cmd, roster, occupancy or hub_status."""

    kind: str
    city: str
    dev: str = ""
    site: str = ""
    name: str = ""


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != PREFIX:
        raise ProtocolError(f"not a {PREFIX} topic: {topic[:120]!r}")
    city, rest = parts[2], parts[3:]
    if rest == ["_hub", "status"]:
        return Topic("hub_status", city)
    if len(rest) == 3 and rest[0] == "site" and rest[2] in ("roster", "occupancy"):
        return Topic(rest[2], city, site=rest[1])
    if len(rest) == 2 and rest[1] in ("evt", "ack", "status") and rest[0] not in ("site", "_hub"):
        return Topic(rest[1], city, dev=rest[0])
    if len(rest) == 3 and rest[1] == "cmd":
        return Topic("cmd", city, dev=rest[0], name=rest[2])
    raise ProtocolError(f"unknown topic: {topic[:120]!r}")


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def decode_object(payload: bytes) -> dict[str, Any]:
    """JSON object from a message body, refusing oversized, non-UTF-8 and non-object bodies."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _field(obj: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(key)
    if isinstance(value, bool) and kind is not bool:
        raise ProtocolError(f"{key!r} has the wrong type bool")
    if not isinstance(value, kind):
        raise ProtocolError(f"{key!r} missing or of the wrong type {type(value).__name__}")
    return value


def _seq(obj: dict, key: str) -> int:
    value = _field(obj, key, int)
    if value < 0:
        raise ProtocolError(f"{key!r} is negative")
    return value


# --- evt -------------------------------------------------------------------------------------

def encode_batch(batch_id: str, events: list[dict[str, Any]]) -> bytes:
    return encode({"batch": batch_id, "events": events})


def join_batch(batch_id: str, encoded_events: list[bytes]) -> bytes:
    """The same bytes as ``encode_batch`` from events already encoded one by one."""
    return b'{"batch":' + encode(batch_id) + b',"events":[' + b",".join(encoded_events) + b"]}"


def parse_batch(payload: bytes) -> tuple[str, list[Any]]:
    """The batch id and the raw events; each event is validated on its own by the hub."""
    obj = decode_object(payload)
    batch_id = _field(obj, "batch", str)
    if not batch_id or len(batch_id) > 64:
        raise ProtocolError("'batch' must be 1-64 characters")
    return batch_id, _field(obj, "events", list)


# --- ack -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    id: str
    seq: int
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Ack:
    batch: str
    results: list[Result]
    hwm: int
    server_time: float


def encode_ack(batch_id: str, results: list[Result], hwm: int, server_time: float | None = None) -> bytes:
    return encode({
        "batch": batch_id,
        "results": [{"id": r.id, "seq": r.seq, "status": r.status, "reason": r.reason} for r in results],
        "hwm": hwm,
        "server_time": time.time() if server_time is None else server_time,
    })


def parse_ack(payload: bytes) -> Ack:
    obj = decode_object(payload)
    results = []
    for raw in _field(obj, "results", list):
        if not isinstance(raw, dict):
            raise ProtocolError("a result is not an object")
        status = _field(raw, "status", str)
        if status not in STATUSES:
            raise ProtocolError(f"unknown status {status[:20]!r}")
        reason = raw.get("reason", "")
        results.append(Result(_field(raw, "id", str), _seq(raw, "seq"), status,
                              reason if isinstance(reason, str) else ""))
    server_time = _field(obj, "server_time", (int, float))
    return Ack(_field(obj, "batch", str), results, _seq(obj, "hwm"), float(server_time))


# --- cmd/resend ------------------------------------------------------------------------------

def encode_resend(first: int, last: int) -> bytes:
    return encode({"from": first, "to": last})


def parse_resend(payload: bytes) -> tuple[int, int]:
    obj = decode_object(payload)
    first, last = _seq(obj, "from"), _seq(obj, "to")
    if last < first:
        raise ProtocolError(f"resend range {first}..{last} is empty")
    return first, last


# --- site roster and occupancy ---------------------------------------------------------------

def parse_roster(payload: bytes) -> dict[str, Any]:
    obj = decode_object(payload)
    staff = _field(obj, "staff", dict)
    for key, entry in staff.items():
        if not isinstance(entry, dict):
            raise ProtocolError(f"roster entry for {key[:20]!r} is not an object")
        _field(entry, "staff_id", str)
        _field(entry, "name", str)
        _field(entry, "admin", bool)
    return {"site": _field(obj, "site", str), "staff": staff}


def occupancy_payload(site: str, headcount: int, capacity: int | None, level: str) -> dict[str, Any]:
    return {"site": site, "headcount": headcount, "capacity": capacity, "level": level}


def parse_occupancy(payload: bytes) -> dict[str, Any]:
    obj = decode_object(payload)
    capacity = obj.get("capacity")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
        raise ProtocolError("'capacity' must be a whole number or null")
    level = _field(obj, "level", str)
    if level not in LEVELS:
        raise ProtocolError(f"unknown congestion level {level[:20]!r}")
    return occupancy_payload(_field(obj, "site", str), _seq(obj, "headcount"), capacity, level)


def parse_status(payload: bytes) -> dict[str, Any]:
    obj = decode_object(payload)
    if _field(obj, "state", str) not in ("online", "offline"):
        raise ProtocolError("'state' must be online or offline")
    return obj
