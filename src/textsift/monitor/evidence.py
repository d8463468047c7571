"""What an alert shows a person: the window's most telling texts, with the words that drove their scores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from textsift.monitor.rules import Rule
from textsift.monitor.store import Store

CANDIDATES = 2000  # events read from one window to pick examples from


def examples(store: Store, rule: Rule, start: int, end: int, *, k: int = 3) -> list[dict[str, Any]]:
    """The `k` distinct texts of the window that speak most for the rule's direction, most confident first.

    A rising share: events answered with the label, by its score; a falling share: events without it, by their own
    answer's score; a mean: events by the label's score (highest for a rise, lowest for a fall). Their words are
    attributed later, off the ingest path (textsift.monitor.attributions).
    """
    from sqlalchemy import select

    from textsift.monitor.schema import events

    query = select(events.c.source, events.c.event_id, events.c.event_ts, events.c.text, events.c.text_hash,
                   events.c.labels, events.c.value, events.c.scores).where(events.c.event_ts >= start,
                                                                           events.c.event_ts < end)
    if rule.source is not None:
        query = query.where(events.c.source == rule.source)
    if rule.metric == "share":
        has = events.c.labels.like(f"%|{_escape(rule.label)}|%", escape="\\")
        query = query.where(has if rule.rising else ~has)
    with store.read() as conn:
        rows = conn.execute(query.limit(CANDIDATES)).all()

    def weight(row: Any) -> float:
        if rule.metric == "share" and not rule.rising:
            return float(row.value)
        score = float(json.loads(row.scores).get(rule.label, 0.0))
        return score if rule.rising else -score

    distinct = {row.text_hash: row for row in sorted(rows, key=weight)}  # a text sent many times shows once
    picked = sorted(distinct.values(), key=weight, reverse=True)[:k]
    return [_example(row, rule) for row in picked]


def _example(row: Any, rule: Rule) -> dict[str, Any]:
    scores = json.loads(row.scores)
    return {"source": row.source, "id": row.event_id, "ts": iso(row.event_ts), "text": row.text,
            "answer": [lab for lab in row.labels.strip("|").split("|") if lab],
            "score": scores.get(rule.label, row.value)}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _escape(label: str) -> str:
    return label.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
