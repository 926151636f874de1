"""Who is who at the time clock: staff keys -> staff id, name, admin flag.

Two sources, merged: the roster the sync process keeps in ``sync-state.json`` (from the hub)
and a local file written by ``kiosk roster import staff.csv`` for stand-alone kiosks. The hub's
entries win where both name the same key or staff id. The UI reloads either when it changes.

CSV columns (header row required, UTF-8, a BOM is fine)::

    staff_id,name,kana,key,admin
    10234,山田 花子,ヤマダ ハナコ,jpki:3f...,0

``key`` may be empty: such a person can have a card enrolled at the kiosk by an admin.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from kiosk.files import write_atomic

LOCAL_FILE = "roster.json"
COLUMNS = ("staff_id", "name", "kana", "key", "admin")
REQUIRED = ("staff_id", "name")
MAX_BYTES = 8 * 2**20  # far above any city's staff list; refuses a wrong file fast
MAX_ROWS = 50_000
_STAFF_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_KEY = re.compile(r"[\x21-\x7e]{1,200}")
_TRUE = {"1", "true", "yes", "y", "admin"}
_FALSE = {"", "0", "false", "no", "n"}


class RosterError(ValueError):
    """A roster that cannot be used; the message names the line and the problem."""


@dataclass(frozen=True)
class StaffEntry:
    staff_id: str
    name: str
    kana: str = ""
    key: str = ""
    admin: bool = False


class Roster:
    """Look staff up by card key or by staff number."""

    def __init__(self, entries: Iterable[StaffEntry] = ()):
        self._by_key: dict[str, StaffEntry] = {}
        self._by_id: dict[str, StaffEntry] = {}
        for entry in entries:
            self._by_id[entry.staff_id] = entry
            if entry.key:
                self._by_key[entry.key] = entry

    def by_key(self, key: str) -> StaffEntry | None:
        return self._by_key.get(key)

    def by_staff_id(self, staff_id: str) -> StaffEntry | None:
        return self._by_id.get(staff_id)

    def __len__(self) -> int:
        return len(self._by_id)

    @classmethod
    def merged(cls, local: Iterable[StaffEntry], hub: Iterable[StaffEntry]) -> Roster:
        # Later entries win in __init__, so the hub's go last.
        return cls([*local, *hub])


def entries_from_hub(raw: Any) -> list[StaffEntry]:
    """The sync state's roster: ``{"site", "staff": {key: {staff_id, name, admin, [kana]}}}``
    (kiosk.sync.protocol), a bare ``{key: entry}`` or a list of entries with a ``key``.
    Malformed entries are skipped: the hub's roster is not ours to fix."""
    if isinstance(raw, dict) and isinstance(raw.get("staff"), dict):
        raw = raw["staff"]
    items = raw.items() if isinstance(raw, dict) else ((e.get("key", "") if isinstance(e, dict) else "", e)
                                                     for e in (raw if isinstance(raw, list) else []))
    out = []
    for key, entry in items:
        if not isinstance(entry, dict) or not isinstance(entry.get("staff_id"), str):
            continue
        name = entry.get("name") or entry.get("display_name") or entry["staff_id"]
        flags = entry.get("flags") if isinstance(entry.get("flags"), list) else []
        out.append(StaffEntry(staff_id=entry["staff_id"], name=str(name), kana=str(entry.get("kana") or ""),
                              key=key if isinstance(key, str) else "",
                              admin=entry.get("admin") is True or "admin" in flags))
    return out


def load_local(data_dir: Path) -> list[StaffEntry]:
    """The imported roster, or nothing when none was imported or the file is unusable."""
    try:
        raw = json.loads((Path(data_dir) / LOCAL_FILE).read_text(encoding="utf-8"))
        return [StaffEntry(**entry) for entry in raw["staff"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def save_local(data_dir: Path, entries: list[StaffEntry]) -> None:
    body = {"version": 1, "staff": [asdict(e) for e in entries]}
    write_atomic(Path(data_dir) / LOCAL_FILE, json.dumps(body, ensure_ascii=False, indent=1).encode())


# --- CSV import -----------------------------------------------------------------------------

def parse_csv(raw: bytes) -> list[StaffEntry]:
    """Validate a whole staff CSV; raises RosterError listing every bad line (up to 20)."""
    if len(raw) > MAX_BYTES:
        raise RosterError(f"file is {len(raw)} bytes; at most {MAX_BYTES} allowed")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(f"not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8'") from None
    if "\x00" in text:
        raise RosterError("contains NUL bytes: not a text CSV file")
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(rows)]
    except StopIteration:
        raise RosterError("empty file: expected a header row " + ",".join(COLUMNS)) from None
    except csv.Error as exc:
        raise RosterError(f"line 1: {exc}") from None
    _check_header(header)
    entries, problems = [], []
    seen_ids: dict[str, int] = {}
    seen_keys: dict[str, int] = {}
    try:
        for row in rows:
            line = rows.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(entries) >= MAX_ROWS:
                raise RosterError(f"more than {MAX_ROWS} staff rows")
            try:
                entry = _entry(header, row)
                _check_unique(entry, line, seen_ids, seen_keys)
                entries.append(entry)
            except RosterError as exc:
                problems.append(f"line {line}: {exc}")
    except csv.Error as exc:
        problems.append(f"line {rows.line_num}: {exc}")
    if problems:
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise RosterError("\n".join(problems[:20]) + more)
    return entries


def _check_header(header: list[str]) -> None:
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise RosterError(f"line 1: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RosterError(f"line 1: missing column {missing[0]!r} (columns: {', '.join(COLUMNS)})")
    if len(set(header)) != len(header):
        raise RosterError("line 1: a column appears twice")


def _entry(header: list[str], row: list[str]) -> StaffEntry:
    if len(row) != len(header):
        raise RosterError(f"{len(row)} fields, expected {len(header)}")
    cells = {name: cell.strip() for name, cell in zip(header, row)}
    staff_id = cells["staff_id"]
    if not _STAFF_ID.fullmatch(staff_id):
        raise RosterError(f"staff_id {staff_id[:40]!r}: use 1-32 letters, digits, '-' or '_'")
    name = _text(cells, "name", required=True)
    kana = _text(cells, "kana", required=False)
    key = cells.get("key", "")
    if key and not _KEY.fullmatch(key):
        raise RosterError(f"key {key[:40]!r}: printable ASCII without spaces, at most 200 characters")
    admin = cells.get("admin", "").lower()
    if admin not in _TRUE | _FALSE:
        raise RosterError(f"admin {admin[:20]!r}: use 1/0, true/false or yes/no")
    return StaffEntry(staff_id=staff_id, name=name, kana=kana, key=key, admin=admin in _TRUE)


def _text(cells: dict[str, str], column: str, *, required: bool) -> str:
    value = unicodedata.normalize("NFC", cells.get(column, ""))
    if required and not value:
        raise RosterError(f"{column} is empty")
    if len(value) > 64:
        raise RosterError(f"{column} is {len(value)} characters; at most 64")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value):
        raise RosterError(f"{column} contains control characters")
    return value


def _check_unique(entry: StaffEntry, line: int, seen_ids: dict[str, int], seen_keys: dict[str, int]) -> None:
    if entry.staff_id in seen_ids:
        raise RosterError(f"staff_id {entry.staff_id!r} already on line {seen_ids[entry.staff_id]}")
    if entry.key and entry.key in seen_keys:
        raise RosterError(f"key already on line {seen_keys[entry.key]}")
    seen_ids[entry.staff_id] = line
    if entry.key:
        seen_keys[entry.key] = line


# --- command line ---------------------------------------------------------------------------

def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk roster", description="Staff roster for a stand-alone time clock.")
    commands = parser.add_subparsers(dest="action", required=True)
    imp = commands.add_parser("import", help="replace the local roster with a CSV file (" + ",".join(COLUMNS) + ")")
    imp.add_argument("csv", type=Path)
    imp.add_argument("--data-dir", type=Path, help="data directory (default: [storage] directory of the config)")
    args = parser.parse_args(argv)
    try:
        data_dir = args.data_dir or _configured_data_dir(config_path)
        entries = parse_csv(_read(args.csv))
    except RosterError as exc:
        print(f"kiosk roster import: {args.csv}: {exc}\nNothing was changed.", file=sys.stderr)
        return 1
    except ValueError as exc:  # ConfigError
        print(f"kiosk roster import: {exc}", file=sys.stderr)
        return 2
    save_local(data_dir, entries)
    admins = sum(e.admin for e in entries)
    without_key = sum(not e.key for e in entries)
    print(f"imported {len(entries)} staff ({admins} admin, {without_key} without a card key) into "
          f"{Path(data_dir) / LOCAL_FILE}")
    return 0


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RosterError(f"cannot read: {exc.strerror or exc}") from None
    return raw


def _configured_data_dir(config_path: Path | None) -> Path:
    from kiosk import config

    return config.load(config_path or config.DEFAULT_PATH).data_dir
