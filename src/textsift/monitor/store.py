"""Where the monitor keeps events and their rollups: one SQLAlchemy engine over SQLite (WAL) or PostgreSQL.

Every batch is one transaction: the events are inserted with ON CONFLICT DO NOTHING on (source, event_id) and the
rollups are incremented from the rows that insert actually returned, so a batch replayed after a crash, or the
same event sent by two workers, is stored and counted once. On PostgreSQL each of those steps, and `known()`, is one
statement over arrays (textsift.monitor.pgarrays); on SQLite, SQLAlchemy's multi-row statements.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from textsift._optional import require
from textsift.errors import TextsiftError
from textsift.monitor import pgarrays

WIDTHS = (60, 3600, 86400)  # the rollup windows: minute, hour, day
ALL = "*"  # the rollup label that counts every event


@dataclass
class Scored:
    """One event with the model's answer, ready to store."""

    source: str
    event_id: str
    event_ts: float
    text: str | None
    text_hash: str
    answer: list[str]  # the predicted labels (one for multi-class, any number for multi-label, [] for regression)
    value: float  # the top label's probability, or the regression value
    scores: dict[str, float]  # every label's score (regression: {target: value})


@dataclass
class Added:
    stored: int
    duplicates: int


class Store:
    """An opened monitor database, migrated to the current schema version."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        sa = require("sqlalchemy", extra="monitor")
        from textsift.monitor import schema

        self.url = _with_driver(url)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect not in ("sqlite", "postgresql"):
            raise TextsiftError(f"--db {url}: the monitor stores to sqlite:///file.db or postgresql://…")
        try:
            self.engine = sa.create_engine(self.url, pool_pre_ping=True)
            # SQLite: one multi-row statement for the rollups upsert too (PostgreSQL sends arrays: pgarrays).
            self.engine.dialect.use_insertmanyvalues_wo_returning = True
            # SQLite: writes take the lock when they begin, so two writers queue instead of failing to upgrade.
            self.reader = self.engine if self.dialect == "postgresql" else sa.create_engine(self.url)
            if self.dialect == "sqlite":
                _tune_sqlite(self.engine, immediate=True)
                _tune_sqlite(self.reader, immediate=False)
            self.model, self.model_version = "", ""
            version = self._version()
        except sa.exc.OperationalError as e:
            raise TextsiftError(f"--db {url}: cannot open it ({_first_line(e)}); check the URL and the server"
                                ) from None
        if version < schema.VERSION and create:
            self._migrate(version)
        elif version < schema.VERSION:
            raise TextsiftError(f"--db {url}: no monitor store there yet; run `textsift monitor init --db {url}`")
        elif version > schema.VERSION:
            raise TextsiftError(f"--db {url}: written by a newer textsift (schema {version}); upgrade textsift")

    @contextmanager
    def write(self) -> Iterator[Any]:
        """One transaction that holds the write lock (SQLite) from its start."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Any]:
        with self.reader.connect() as conn:
            yield conn

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    def add(self, batch: Sequence[Scored], *, model: str, model_version: str) -> Added:
        """Store a batch in one transaction: new events and their rollups; known (source, event_id) are skipped."""
        from textsift.monitor.schema import events

        if not batch:
            return Added(0, 0)
        # Sorted: concurrent inserts of the same keys take their locks in one order (PostgreSQL would deadlock).
        batch = sorted(batch, key=lambda e: (e.source, e.event_id))
        received = time.time()
        rows = [{"source": e.source, "event_id": e.event_id, "event_ts": e.event_ts, "received_ts": received,
                 "text_hash": e.text_hash, "text": e.text, "label": e.answer[0] if e.answer else None,
                 "labels": "|" + "|".join(e.answer) + "|", "value": e.value,
                 "scores": json.dumps(e.scores, separators=(",", ":")), "model": model,
                 "model_version": model_version} for e in batch]
        by_key = {(e.source, e.event_id): e for e in batch}
        with self.write() as conn:
            if self.dialect == "postgresql":
                inserted = pgarrays.insert_events(conn, rows, received_ts=received, model=model,
                                                  model_version=model_version)
            else:
                statement = self.insert(events).on_conflict_do_nothing(index_elements=["source", "event_id"])
                inserted = conn.execute(statement.returning(events.c.source, events.c.event_id), rows).all()
            new = [by_key[(source, event_id)] for source, event_id in inserted]
            self._count(conn, new)
        return Added(len(new), len(batch) - len(new))

    def _count(self, conn: Any, new: Sequence[Scored]) -> None:
        from textsift.monitor.schema import rollups

        sums: dict[tuple[int, int, str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for e in new:
            for width in WIDTHS:
                bucket = int(e.event_ts // width * width)
                everything = sums[(width, bucket, e.source, ALL)]
                everything[0] += 1
                for label, score in e.scores.items():
                    row = sums[(width, bucket, e.source, label)]
                    row[0] += label in e.answer
                    row[1] += score
                    row[2] += score * score
        if not sums:
            return
        rows = [{"width": w, "bucket": b, "source": s, "label": lab, "hits": int(h), "total": t, "total2": t2}
                for (w, b, s, lab), (h, t, t2) in sorted(sums.items())]  # sorted: concurrent upserts lock in order
        if self.dialect == "postgresql":
            pgarrays.upsert_rollups(conn, rows)
            return
        statement = self.insert(rollups)
        statement = statement.on_conflict_do_update(
            index_elements=["width", "bucket", "source", "label"],
            set_={"hits": rollups.c.hits + statement.excluded.hits, "total": rollups.c.total + statement.excluded.total,
                  "total2": rollups.c.total2 + statement.excluded.total2})
        conn.execute(statement, rows)

    def known(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those (source, event_id) already stored, so a restarted ingest does not run the model on them again."""
        from sqlalchemy import select, tuple_

        from textsift.monitor.schema import events

        found: set[tuple[str, str]] = set()
        with self.read() as conn:
            if self.dialect == "postgresql":
                return pgarrays.known(conn, keys) if keys else found
            for start in range(0, len(keys), 500):  # SQLite: a bound on the parameters of one statement
                chunk = list(keys[start:start + 500])
                query = select(events.c.source, events.c.event_id).where(
                    tuple_(events.c.source, events.c.event_id).in_(chunk))
                found |= {(s, i) for s, i in conn.execute(query)}
        return found

    def watermark(self) -> float | None:
        """The latest event time stored: how far the stream has got."""
        from sqlalchemy import func, select

        from textsift.monitor.schema import events

        with self.read() as conn:
            return conn.execute(select(func.max(events.c.event_ts))).scalar()

    def latest_row(self) -> int | None:
        """The highest event row id: it grows with every stored batch (an index lookup, unlike count())."""
        from sqlalchemy import func, select

        from textsift.monitor.schema import events

        with self.read() as conn:
            return conn.execute(select(func.max(events.c.pk))).scalar()

    def count(self) -> int:
        from sqlalchemy import func, select

        from textsift.monitor.schema import events

        with self.read() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar() or 0)

    def _version(self, conn: Any = None) -> int:
        from sqlalchemy import inspect, select

        from textsift.monitor.schema import schema_version

        if conn is None:
            with self.engine.connect() as fresh:
                return self._version(fresh)
        if not inspect(conn).has_table("schema_version"):
            return 0
        return int(conn.execute(select(schema_version.c.version)).scalar() or 0)

    def _migrate(self, version: int) -> None:
        from sqlalchemy import delete, insert, text

        from textsift.monitor.schema import MIGRATIONS, schema_version

        with self.write() as conn:
            if self.dialect == "postgresql":  # processes opening a new store at once migrate one after another
                conn.execute(text("SELECT pg_advisory_xact_lock(7302146)"))
            version = self._version(conn)  # again, under the lock: another process may have migrated meanwhile
            if version >= len(MIGRATIONS):
                return
            schema_version.create(conn, checkfirst=True)
            for step in MIGRATIONS[version:]:
                step(conn)
            conn.execute(delete(schema_version))
            conn.execute(insert(schema_version).values(version=len(MIGRATIONS)))

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()


def _with_driver(url: str) -> str:
    """postgresql:// means psycopg 3 (the driver the monitor extra installs), not SQLAlchemy's psycopg2 default."""
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def _tune_sqlite(engine: Any, *, immediate: bool) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the sqlite3 module, says when transactions begin
        cursor = dbapi_conn.cursor()
        # WAL: readers never wait for the writer; NORMAL sync survives a killed process (not a power cut).
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=60000", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _first_line(error: Exception) -> str:
    return str(getattr(error, "orig", error)).strip().splitlines()[0]
