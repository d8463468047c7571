"""PostgreSQL's path for a batch: one statement per step, its columns sent as arrays and unnested by the server.

Why: a multi-row VALUES statement has 13 parameters per event (3,328 for a batch of 256), so its text changes with
the batch size, psycopg parses and adapts every parameter in Python, and the server plans it afresh; on two cores
that client work held the GIL the model needed (BENCHMARKS.md, Monitor). With one array per column the statement
is the same for every batch (psycopg prepares it after a few runs) and the rows are built by the server.
SQLite keeps SQLAlchemy's multi-row statements: its driver is in-process C, with no such cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Rows are inserted in the order given (WITH ORDINALITY … ORDER BY): the caller sorts them so that concurrent
# batches take their row locks in one order and cannot deadlock.
_EVENTS = """
INSERT INTO events (source, event_id, event_ts, received_ts, text_hash, text, label, labels, value, scores, model,
                    model_version)
SELECT u.source, u.event_id, u.event_ts, CAST(:received_ts AS float8), u.text_hash, u.text, u.label, u.labels,
       u.value, u.scores, CAST(:model AS text), CAST(:model_version AS text)
FROM unnest(CAST(:source AS text[]), CAST(:event_id AS text[]), CAST(:event_ts AS float8[]),
            CAST(:text_hash AS text[]), CAST(:text AS text[]), CAST(:label AS text[]), CAST(:labels AS text[]),
            CAST(:value AS float8[]), CAST(:scores AS text[]))
     WITH ORDINALITY AS u(source, event_id, event_ts, text_hash, text, label, labels, value, scores, n)
ORDER BY u.n
ON CONFLICT (source, event_id) DO NOTHING
RETURNING source, event_id
"""
_EVENT_COLUMNS = ("source", "event_id", "event_ts", "text_hash", "text", "label", "labels", "value", "scores")

_ROLLUPS = """
INSERT INTO rollups (width, bucket, source, label, hits, total, total2)
SELECT u.width, u.bucket, u.source, u.label, u.hits, u.total, u.total2
FROM unnest(CAST(:width AS integer[]), CAST(:bucket AS bigint[]), CAST(:source AS text[]), CAST(:label AS text[]),
            CAST(:hits AS bigint[]), CAST(:total AS float8[]), CAST(:total2 AS float8[]))
     WITH ORDINALITY AS u(width, bucket, source, label, hits, total, total2, n)
ORDER BY u.n
ON CONFLICT (width, bucket, source, label) DO UPDATE
SET hits = rollups.hits + excluded.hits, total = rollups.total + excluded.total,
    total2 = rollups.total2 + excluded.total2
"""
_ROLLUP_COLUMNS = ("width", "bucket", "source", "label", "hits", "total", "total2")

_KNOWN = """
SELECT e.source, e.event_id
FROM events AS e JOIN unnest(CAST(:source AS text[]), CAST(:event_id AS text[])) AS k(source, event_id)
     ON e.source = k.source AND e.event_id = k.event_id
"""


def insert_events(conn: Any, rows: Sequence[dict[str, Any]], **constants: Any) -> list[tuple[str, str]]:
    """Insert `rows` (the events table's per-event columns) with `constants` (received_ts, model, model_version)
    in one statement, skipping known (source, event_id); returns the keys actually inserted."""
    from sqlalchemy import text

    return [(s, i) for s, i in conn.execute(text(_EVENTS), _columns(rows, _EVENT_COLUMNS) | constants)]


def upsert_rollups(conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Add each row's hits, total and total2 to its (width, bucket, source, label) rollup, in one statement."""
    from sqlalchemy import text

    conn.execute(text(_ROLLUPS), _columns(rows, _ROLLUP_COLUMNS))


def known(conn: Any, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of `keys` stored already, in one statement (the unique index answers each)."""
    from sqlalchemy import text

    found = conn.execute(text(_KNOWN), {"source": [k[0] for k in keys], "event_id": [k[1] for k in keys]})
    return {(s, i) for s, i in found}


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    # psycopg dumps a list as an array of one type: 1800000000 and 1800000000.5 would be int and float.
    return {name: [_KINDS[name](row[name]) if name in _KINDS else row[name] for row in rows] for name in names}


_KINDS: dict[str, Any] = {"event_ts": float, "value": float, "total": float, "total2": float, "width": int,
                          "bucket": int, "hits": int}
