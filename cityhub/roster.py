"""`cityhub roster import staff.csv`: the staff of each site, published to its kiosks (retained).

CSV columns (header row required): ``site,staff_key,staff_id,name,kana,admin``; ``site`` may be
left out when ``--site`` is given, ``kana`` (the reading, for sorting and search) anyway. ``admin`` is 1/true/yes or empty. The file replaces the whole
roster of every site it names. UTF-8 (with or without BOM) or Shift_JIS, as Excel writes it.
A running ``cityhub serve`` notices the change within seconds and publishes it.
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from pathlib import Path

from sqlalchemy import Engine, delete
from sqlalchemy.exc import SQLAlchemyError

from cityhub import store

REQUIRED = ("staff_key", "staff_id", "name")
TRUE = {"1", "true", "yes", "y", "○"}


class RosterError(ValueError):
    pass


def read_csv(data: bytes, site: str = "") -> list[dict]:
    """Rows ready for the roster table; RosterError names the line and the problem."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterError("neither UTF-8 nor Shift_JIS text")
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED + (() if site else ("site",)) if c not in columns]
    if missing:
        raise RosterError(f"line 1: missing column(s) {', '.join(missing)}")
    rows, seen, now = [], set(), time.time()
    for line, raw in enumerate(reader, start=2):
        raw = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        row = {"site": raw.get("site") or site, **{c: raw[c] for c in REQUIRED}, "kana": raw.get("kana", ""),
               "admin": raw.get("admin", "").lower() in TRUE, "updated_at": now}
        empty = [c for c in ("site",) + REQUIRED if not row[c]]
        if empty:
            raise RosterError(f"line {line}: empty {', '.join(empty)}")
        if (row["site"], row["staff_key"]) in seen:
            raise RosterError(f"line {line}: staff_key {row['staff_key'][:20]!r} appears twice for {row['site']}")
        seen.add((row["site"], row["staff_key"]))
        rows.append(row)
    if not rows:
        raise RosterError("no staff in the file")
    return rows


def replace_sites(engine: Engine, rows: list[dict]) -> None:
    """Replace the roster of every site in ``rows`` in one transaction."""
    with engine.begin() as conn:
        conn.execute(delete(store.roster).where(store.roster.c.site.in_({r["site"] for r in rows})))
        conn.execute(store.roster.insert(), rows)


def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="cityhub roster", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["import"])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--db", default="sqlite:///cityhub.db", help="the hub's database URL")
    parser.add_argument("--site", default="", help="site for rows without a site column")
    args = parser.parse_args(argv)
    try:
        rows = read_csv(args.csv.read_bytes(), args.site)
        replace_sites(store.connect(args.db), rows)
    except OSError as exc:
        print(f"cityhub roster: {args.csv}: {exc.strerror or exc}")
        return 2
    except RosterError as exc:
        print(f"cityhub roster: {args.csv}: {exc}")
        return 2
    except (SQLAlchemyError, store.StoreError) as exc:
        print(f"cityhub roster: database {args.db}: {exc}")
        return 2
    sites = sorted({r["site"] for r in rows})
    print(f"imported {len(rows)} staff for {', '.join(sites)}")
    return 0
