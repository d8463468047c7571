"""The monitor's tables (SQLAlchemy Core, the same DDL on SQLite and PostgreSQL) and its versioned migrations.

Decision: our own versioned DDL instead of Alembic. The schema is a handful of tables created from this metadata;
each later change is one numbered function in MIGRATIONS, applied in a transaction and recorded in
`schema_version`. Alembic would add an ini file, an env.py and a script folder to the package for the same steps,
and a store is only ever opened by this code, so there is no foreign schema to diff against.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection

metadata = MetaData()

# One row per stored text; (source, event_id) is the idempotency key, so a replayed batch stores nothing twice.
events = Table(
    "events", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("event_ts", Float, nullable=False),  # seconds since the epoch, UTC: when it happened
    Column("received_ts", Float, nullable=False),  # when the monitor stored it
    Column("text_hash", String(64), nullable=False),
    Column("text", Text),  # None with --no-store-text
    Column("label", String(200)),  # the answer: a label, or None for regression / an empty label set
    Column("labels", Text, nullable=False),  # '|a|b|' for multi-label (LIKE '%|a|%'); '|a|' for single-label
    Column("value", Float),  # the answer's score: the top label's probability, or the regression value
    Column("scores", Text, nullable=False),  # JSON {label: score}
    Column("model", String(200), nullable=False),
    Column("model_version", String(64), nullable=False),
    UniqueConstraint("source", "event_id", name="uq_events_source_id"),
    Index("ix_events_ts", "event_ts"),
    Index("ix_events_source_ts", "source", "event_ts"),
)

# Counts and score sums per window width (60 s, 1 h, 1 day), window start, source and label, upserted in the
# transaction that stores the events; label '*' counts every event. Dashboards and rules read only these.
rollups = Table(
    "rollups", metadata,
    Column("width", Integer, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),  # window start, seconds since the epoch
    Column("source", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("hits", BigInteger, nullable=False),  # events whose answer has this label ('*': all events)
    Column("total", Float, nullable=False),  # sum over all events of this label's score
    Column("total2", Float, nullable=False),  # sum of its squares (within-window variance of the mean score)
    Index("ix_rollups_width_bucket", "width", "bucket"),
)

rules = Table(
    "rules", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    Column("webhook", Text),
    Column("created_ts", Float, nullable=False),
    Column("evaluated_until", BigInteger),  # end of the last window evaluated; None before the first
    Column("state", Text, nullable=False),  # JSON: detector statistic, baseline windows, open alert, cool-down
    Column("revision", Integer, nullable=False),  # bumped on every state change: compare-and-set between workers
)

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),  # firing | resolved
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("resolved_window_end", BigInteger),
    Column("fired_ts", Float, nullable=False),
    Column("resolved_ts", Float),
    Column("evidence", Text, nullable=False),  # JSON: value, baseline, sigma, statistic, volume, example texts
    UniqueConstraint("rule_id", "window_start", name="uq_alerts_rule_window"),
    Index("ix_alerts_fired", "fired_ts"),
)

# The webhook outbox: written with the alert, sent by a background thread, so a dead receiver never blocks ingest.
deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),  # which message: firing | resolved
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_try_ts", Float, nullable=False),
    Column("delivered_ts", Float),
    Column("last_error", Text),
    UniqueConstraint("alert_id", "status", "url", name="uq_deliveries_once"),
    Index("ix_deliveries_due", "delivered_ts", "next_try_ts"),
)

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[events, rollups, rules, alerts, deliveries])


# Version n is reached by MIGRATIONS[n - 1]; append a function for a change, never edit a released one.
MIGRATIONS: list[Callable[[Connection], None]] = [_create_v1]
VERSION = len(MIGRATIONS)
