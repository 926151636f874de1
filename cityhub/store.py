"""The hub's database: tables, engine set-up and schema migration (SQLite or PostgreSQL).

SQLAlchemy Core tables rather than ORM classes: ingest inserts hundreds of rows per message and
needs the dialects' "on conflict do nothing ... returning" in one statement.
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Engine, Float, Index, Integer, MetaData, String,
                        Table, Text, create_engine, event, insert, select, text)
from sqlalchemy.dialects import postgresql, sqlite

SCHEMA_VERSION = 1

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

events = Table(
    "events", metadata,
    Column("dev", String(63), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("city", String(6), nullable=False),
    Column("site", String(63), nullable=False),
    Column("schema", String(64), nullable=False),
    Column("time", String(40), nullable=False),  # as stamped on the kiosk
    Column("synced", Boolean, nullable=False),  # was the kiosk's clock synchronised (clock.synced)
    Column("boot", String(64), nullable=False),  # clock.boot
    Column("mono_ns", BigInteger, nullable=False),  # clock.mono_ns
    Column("corrected_time", String(40)),  # for unsynced stamps, from the boot's anchor (clockfix)
    Column("received_at", Float, nullable=False),  # seconds since the epoch, hub clock
    Column("body", Text, nullable=False),  # the event JSON as received (pii still sealed)
    Column("pii", Text),  # the opened personal data as JSON, where the event carried any
    Index("events_dev_seq", "dev", "seq"),
    Index("events_site_schema", "site", "schema"),
)

# Events the hub refused (schema, types, device mismatch, unopenable pii). The kiosk keeps them
# too; their seqs count as seen so that they are not asked for again.
rejections = Table(
    "rejections", metadata,
    Column("dev", String(63), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", Float, nullable=False),
)

# The first synced event of each boot of each device: the reference for corrected times.
clock_anchors = Table(
    "clock_anchors", metadata,
    Column("dev", String(63), primary_key=True),
    Column("boot", String(64), primary_key=True),
    Column("time", String(40), nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("dev", String(63), primary_key=True),
    Column("city", String(6), nullable=False),
    Column("site", String(63)),
    Column("role", String(20)),
    # Every seq up to this one has been stored or rejected.
    Column("contiguous", BigInteger, nullable=False, default=0),
    Column("last_status", Text),
    Column("last_seen", Float),
)

roster = Table(
    "roster", metadata,
    Column("site", String(63), primary_key=True),
    Column("staff_key", String(200), primary_key=True),
    Column("staff_id", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kana", String(200), nullable=False, default=""),
    Column("admin", Boolean, nullable=False, default=False),
    Column("updated_at", Float, nullable=False),
)

# Headcounts the hub takes at fixed local times for each shelter site (cityhub/shelter.py).
shelter_snapshots = Table(
    "shelter_snapshots", metadata,
    Column("site", String(63), primary_key=True),
    Column("slot", String(16), primary_key=True),  # local "YYYY-MM-DD HH:MM" the snapshot is for
    Column("headcount", Integer, nullable=False),
    Column("capacity", Integer),
    Column("level", String(16), nullable=False),
    Column("taken_at", Float, nullable=False),
)

# Any constant shared by every hub worker: PostgreSQL's advisory lock that serialises migrations.
SCHEMA_LOCK_KEY = 0x6B696F736B


class StoreError(RuntimeError):
    """A database the hub cannot use."""


def connect(url: str) -> Engine:
    """An engine for ``url`` with the schema created or migrated to SCHEMA_VERSION."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine)
    return engine


# Another process (a report, a backup) may hold the write lock for a while; after this long the
# batch fails, is not acknowledged, and the kiosk sends it again later.
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before the hub acknowledges it (NORMAL may lose the last ones).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


# version -> function(connection) that brings the schema from version-1 to version.
MIGRATIONS: dict = {}


def migrate(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Hub workers started together: one creates or migrates, the others wait, then find it done.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        schema_version.create(conn, checkfirst=True)
        found = conn.execute(select(schema_version.c.version)).scalar()
        if found is None:
            metadata.create_all(conn)
            conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
            return
        if found > SCHEMA_VERSION:
            raise StoreError(f"database schema version {found} is newer than this hub ({SCHEMA_VERSION})")
        for version in range(found + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](conn)
            conn.execute(schema_version.update().values(version=version))


def insert_ignoring_duplicates(engine: Engine, table: Table):
    """An INSERT that skips rows whose primary key exists, in the engine's dialect."""
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(table).on_conflict_do_nothing()
