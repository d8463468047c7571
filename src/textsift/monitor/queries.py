"""What the dashboard, the report and `monitor alerts` read: SQL over the rollups and the alerts, never all events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from textsift.monitor.store import ALL, WIDTHS, Store


@dataclass
class Series:
    """Per window: volume, and per label its share and mean score; `starts` are window starts (epoch seconds)."""

    width: int
    starts: list[int]
    volume: list[int]
    shares: dict[str, list[float]]
    means: dict[str, list[float]]


def width_for(span_s: float, points: int = 200) -> int:
    """The narrowest rollup width that draws `span_s` seconds in at most about `points` windows."""
    return next((w for w in WIDTHS if span_s / w <= points), WIDTHS[-1])


def series(store: Store, start: float, end: float, *, source: str | None = None, width: int | None = None) -> Series:
    """Shares and volume per window over [start, end) from the rollups; windows without events are left out."""
    from sqlalchemy import func, select

    from textsift.monitor.schema import rollups

    width = width or width_for(end - start)
    r = rollups.c
    query = (select(r.bucket, r.label, func.sum(r.hits), func.sum(r.total))
             .where(r.width == width, r.bucket >= int(start // width * width), r.bucket < end)
             .group_by(r.bucket, r.label).order_by(r.bucket))
    if source is not None:
        query = query.where(r.source == source)
    hits: dict[int, dict[str, tuple[int, float]]] = {}
    with store.read() as conn:
        for bucket, label, h, total in conn.execute(query):
            hits.setdefault(int(bucket), {})[label] = (int(h), float(total))
    starts = sorted(hits)
    labels = sorted({lab for row in hits.values() for lab in row} - {ALL})
    volume = [hits[s].get(ALL, (0, 0.0))[0] for s in starts]
    shares = {lab: [hits[s].get(lab, (0, 0.0))[0] / max(n, 1) for s, n in zip(starts, volume, strict=True)]
              for lab in labels}
    means = {lab: [hits[s].get(lab, (0, 0.0))[1] / max(n, 1) for s, n in zip(starts, volume, strict=True)]
             for lab in labels}
    return Series(width, starts, volume, shares, means)


def sources(store: Store) -> list[str]:
    from sqlalchemy import select

    from textsift.monitor.schema import rollups

    with store.read() as conn:
        query = select(rollups.c.source).where(rollups.c.width == WIDTHS[-1], rollups.c.label == ALL).distinct()
        return sorted(conn.execute(query).scalars())


def recent_alerts(store: Store, *, fired_after: float | None = None, window_after: float | None = None,
                  source: str | None = None) -> list[dict[str, Any]]:
    """Alerts fired (wall clock) after `fired_after` and whose window ended (event time) after `window_after`,
    newest window first, with their evidence and webhook status; `source` keeps that source's and global rules'."""
    from sqlalchemy import select

    from textsift.monitor.schema import alerts, deliveries, rules

    query = (select(alerts, rules.c.text.label("rule"), rules.c.webhook)
             .join(rules, rules.c.id == alerts.c.rule_id)
             .where(alerts.c.fired_ts > (fired_after or 0), alerts.c.window_end > (window_after or 0))
             .order_by(alerts.c.window_start.desc()))
    with store.read() as conn:
        rows = conn.execute(query).all()
        sent = conn.execute(select(deliveries.c.alert_id, deliveries.c.status, deliveries.c.delivered_ts,
                                   deliveries.c.attempts, deliveries.c.last_error)
                            .where(deliveries.c.alert_id.in_([row.id for row in rows]))).all()
    by_alert: dict[int, list[Any]] = {}
    for d in sent:
        by_alert.setdefault(d.alert_id, []).append(d)
    out = []
    for row in rows:
        evidence = json.loads(row.evidence)
        if source is not None and evidence.get("source") not in (None, source):
            continue
        out.append({"id": row.id, "rule_id": row.rule_id, "rule": row.rule, "status": row.status,
                    "window_start_ts": row.window_start, "window_end_ts": row.window_end,
                    "resolved_window_end_ts": row.resolved_window_end, "fired_ts": row.fired_ts, "evidence": evidence,
                    "webhook": [{"status": d.status, "delivered": d.delivered_ts is not None, "attempts": d.attempts,
                                 "last_error": d.last_error} for d in by_alert.get(row.id, [])]})
    return out
