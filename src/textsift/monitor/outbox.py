"""Writing an evaluation's outcome: alerts, their webhook messages (the outbox) and the rule's new state, at once."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from textsift.monitor.detectors import State
from textsift.monitor.rules import Rule
from textsift.monitor.store import Store


@dataclass
class StoredRule:
    id: int
    rule: Rule
    webhook: str | None
    evaluated_until: int | None
    state: State
    revision: int


@dataclass
class Change:
    """An alert that fired or resolved during an evaluation, for printing."""

    status: str
    alert_id: int
    rule: StoredRule
    evidence: dict[str, Any] = field(default_factory=dict)


def record(store: Store, stored: StoredRule, state: State, evaluated_until: int,
           changes: list[tuple[str, dict[str, Any]]]) -> list[Change]:
    """Commit the alerts fired and resolved by one evaluation, or nothing if another worker got there first."""
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    from textsift.monitor.schema import rules

    try:
        with store.write() as conn:
            claimed = conn.execute(update(rules).where(rules.c.id == stored.id, rules.c.revision == stored.revision)
                                   .values(revision=stored.revision + 1, evaluated_until=evaluated_until))
            if claimed.rowcount != 1:
                return []  # evaluated meanwhile by another process; its outcome stands
            events = _write_alerts(conn, stored, changes)
            final = state.to_json() | {"open_alert": _still_open(stored, state, events)}
            conn.execute(update(rules).where(rules.c.id == stored.id).values(state=json.dumps(final)))
    except IntegrityError:
        return []  # the same alert window was stored by a concurrent evaluation
    return events


def _write_alerts(conn: Any, stored: StoredRule, changes: list[tuple[str, dict[str, Any]]]) -> list[Change]:
    from sqlalchemy import insert, update

    from textsift.monitor.schema import alerts

    now, out = time.time(), []
    current = stored.state.open_alert
    for status, evidence in changes:
        if status == "firing":
            row = {"rule_id": stored.id, "status": "firing", "window_start": evidence["window_start_ts"],
                   "window_end": evidence["window_end_ts"], "fired_ts": now, "evidence": json.dumps(evidence)}
            current = int(conn.execute(insert(alerts).values(**row)).inserted_primary_key[0])
        else:
            assert current is not None
            conn.execute(update(alerts).where(alerts.c.id == current).values(
                status="resolved", resolved_window_end=evidence["window_end_ts"], resolved_ts=now))
        out.append(Change(status, current, stored, evidence))
        if stored.webhook:
            _queue(conn, stored, current, status, evidence, now)
        if status == "resolved":
            current = None
    return out


def _still_open(stored: StoredRule, state: State, events: list[Change]) -> int | None:
    if state.open_alert is None:
        return None
    return events[-1].alert_id if events else stored.state.open_alert


def _queue(conn: Any, stored: StoredRule, alert_id: int, status: str, evidence: dict[str, Any], now: float) -> None:
    from sqlalchemy import insert

    from textsift.monitor.schema import deliveries

    payload = {"alert_id": alert_id, "status": status, "rule_id": stored.id, **evidence}
    conn.execute(insert(deliveries).values(alert_id=alert_id, status=status, url=stored.webhook,
                                           payload=json.dumps(payload), attempts=0, next_try_ts=now))
