"""Rules in the store, and their evaluation: each closed window once, episodes opened and resolved, webhooks queued.

A window is closed when the stream's event time (the latest stored) has passed its end by `lateness` seconds.
Evaluation is a read, then one transaction that writes the new alerts, their outbox rows and the rule's state only
if the rule's revision is still the one read: two workers evaluating the same rule cannot both fire it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from textsift.errors import TextsiftError
from textsift.monitor.attributions import pending_marker
from textsift.monitor.detectors import State, Step, Window, step
from textsift.monitor.evidence import examples, iso
from textsift.monitor.outbox import Change, StoredRule, record
from textsift.monitor.rules import Rule, parse_rule
from textsift.monitor.store import ALL, WIDTHS, Store


def add_rule(store: Store, text: str, webhook: str | None = None) -> int:
    from sqlalchemy import insert

    from textsift.monitor.schema import rules

    parse_rule(text)  # refuse a malformed rule before storing it
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise TextsiftError(f"--webhook {webhook}: not an http(s) URL")
    with store.write() as conn:
        row = {"text": text.strip(), "webhook": webhook, "created_ts": time.time(), "evaluated_until": None,
               "state": json.dumps(State().to_json()), "revision": 0}
        return int(conn.execute(insert(rules).values(**row)).inserted_primary_key[0])


def stored_rules(store: Store) -> list[StoredRule]:
    from sqlalchemy import select

    from textsift.monitor.schema import rules

    with store.read() as conn:
        rows = conn.execute(select(rules).order_by(rules.c.id)).all()
    return [StoredRule(r.id, parse_rule(r.text), r.webhook, r.evaluated_until, State(**json.loads(r.state)),
                       r.revision) for r in rows]


def remove_rule(store: Store, rule_id: int) -> None:
    from sqlalchemy import delete

    from textsift.monitor.schema import rules

    with store.write() as conn:
        if conn.execute(delete(rules).where(rules.c.id == rule_id)).rowcount == 0:
            raise TextsiftError(f"no rule {rule_id}; `textsift monitor rules list` shows them")


def windows(store: Store, rule: Rule, start: int, end: int) -> list[Window]:
    """The rule's closed windows in [start, end) that had events, summed from the widest rollup that tiles them."""
    from sqlalchemy import func, select

    from textsift.monitor.schema import rollups

    width = max(w for w in WIDTHS if rule.window % w == 0)
    window_start = (rollups.c.bucket // rule.window) * rule.window
    query = (select(window_start.label("start"), rollups.c.label, func.sum(rollups.c.hits), func.sum(rollups.c.total),
                    func.sum(rollups.c.total2))
             .where(rollups.c.width == width, rollups.c.bucket >= start, rollups.c.bucket < end,
                    rollups.c.label.in_([rule.label, ALL]))
             .group_by(window_start, rollups.c.label))
    if rule.source is not None:
        query = query.where(rollups.c.source == rule.source)
    sums: dict[int, Window] = {}
    with store.read() as conn:
        for begin, label, hits, total, total2 in conn.execute(query):
            w = sums.setdefault(int(begin), Window(int(begin), 0, 0, 0.0, 0.0))
            if label == ALL:
                w.n = int(hits)
            else:
                w.hits, w.total, w.total2 = int(hits), float(total), float(total2)
    return [sums[s] for s in sorted(sums)]


def first_window(store: Store, rule: Rule) -> int | None:
    from sqlalchemy import func, select

    from textsift.monitor.schema import rollups

    query = select(func.min(rollups.c.bucket)).where(rollups.c.width == WIDTHS[0], rollups.c.label == ALL)
    if rule.source is not None:
        query = query.where(rollups.c.source == rule.source)
    with store.read() as conn:
        first = conn.execute(query).scalar()
    return None if first is None else int(first) // rule.window * rule.window


def evaluate(store: Store, *, lateness: float = 60.0, explain: Sequence[str] | None = None,
             watermark: float | None = None) -> list[Change]:
    """Run every rule over the windows closed since its last evaluation; returns the alerts fired and resolved.

    With `explain` (the model's labels), fired alerts are marked as waiting for the words of their examples,
    which the caller has attributed off this path (`attributions.Explainer`).
    """
    watermark = store.watermark() if watermark is None else watermark
    if watermark is None:
        return []
    out: list[Change] = []
    for stored in stored_rules(store):
        out += _evaluate_rule(store, stored, watermark - lateness, explain)
    return out


def _evaluate_rule(store: Store, stored: StoredRule, closed_until: float,
                   explain: Sequence[str] | None) -> list[Change]:
    rule = stored.rule
    start = stored.evaluated_until if stored.evaluated_until is not None else first_window(store, rule)
    end = int(closed_until // rule.window * rule.window)
    if start is None or end <= start:
        return []
    state = State(**stored.state.to_json())
    changes: list[tuple[str, Window, Step]] = []
    for window in windows(store, rule, start, end):
        decision = step(rule, state, window)
        if decision is None:
            continue
        change = episode(rule, state, window, decision)
        if change is not None:
            changes.append((change, window, decision))
    evidence = [_evidence(store, rule, w, s, explain) if status == "firing" else _resolution(rule, w, s)
                for status, w, s in changes]
    return record(store, stored, state, end, list(zip([c[0] for c in changes], evidence, strict=True)))


def episode(rule: Rule, state: State, window: Window, decision: Step) -> str | None:
    """Open or close the rule's episode on a decided window: 'firing', 'resolved' or None (no change).

    One alert per episode: it opens on the first window that fires (unless in cool-down) and resolves after
    `clear` quiet windows in a row, so a surge with one calmer hour in it stays one alert.
    """
    if state.open_alert is None:
        if decision.fired and window.start >= state.quiet_until:
            state.open_alert, state.quiet_windows = -1, 0  # its id is known once it is inserted
            return "firing"
        return None
    state.quiet_windows = 0 if decision.fired else state.quiet_windows + 1
    if state.quiet_windows < rule.clear_windows:
        return None
    state.open_alert, state.quiet_windows = None, 0
    state.quiet_until = window.start + rule.window + rule.cooldown
    return "resolved"


def _evidence(store: Store, rule: Rule, window: Window, decision: Step,
              explain: Sequence[str] | None) -> dict[str, Any]:
    end = window.start + rule.window
    found = examples(store, rule, window.start, end)
    marker = {"attributions": pending_marker(rule.label, explain)} if explain is not None and found else {}
    return {"rule": rule.text, "detector": rule.detector, "metric": rule.metric, "label": rule.label,
            "source": rule.source, "window_start": iso(window.start), "window_end": iso(end),
            "window_start_ts": window.start, "window_end_ts": end, "volume": window.n, "hits": window.hits,
            "value": decision.value, "baseline": decision.baseline, "sigma": decision.sigma, "z": decision.z,
            "statistic": decision.statistic,
            "examples": found, **marker}


def _resolution(rule: Rule, window: Window, decision: Step) -> dict[str, Any]:
    end = window.start + rule.window
    return {"rule": rule.text, "window_start": iso(window.start), "window_end": iso(end),
            "window_start_ts": window.start, "window_end_ts": end, "volume": window.n, "value": decision.value,
            "statistic": decision.statistic}


def backtest(store: Store, text: str, *, lateness: float = 60.0) -> list[tuple[Window, Step]]:
    """Run a rule (stored or not) over all stored windows without recording anything: every window it decided."""
    rule = parse_rule(text)
    watermark, start = store.watermark(), first_window(store, rule)
    if watermark is None or start is None:
        return []
    state, out = State(), []
    for window in windows(store, rule, start, int((watermark - lateness) // rule.window * rule.window)):
        decision = step(rule, state, window)
        if decision is not None:
            out.append((window, decision))
    return out
