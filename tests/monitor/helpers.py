"""Building blocks for the monitor tests: scored events made by hand, and the rollups recounted from the events."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from textsift.monitor.store import ALL, WIDTHS, Scored, Store
from textsift.monitor.stream import text_hash

LABELS = ("negative", "positive")
Rollups = dict[tuple[int, int, str, str], tuple[int, float, float]]


def scored(event_id: str | int, ts: float, answer: Sequence[str], scores: dict[str, float],
           source: str = "web") -> Scored:
    text = f"event {event_id} from {source}"
    value = max((scores[a] for a in answer), default=next(iter(scores.values())))
    return Scored(source, str(event_id), ts, text, text_hash(text), list(answer), value, dict(scores))


def binary(event_id: str | int, ts: float, negative: bool, source: str = "web") -> Scored:
    """A negative/positive event, as the int8 test model answers: 0.9 for its answer, 0.1 for the other label."""
    scores = {"negative": 0.9, "positive": 0.1} if negative else {"negative": 0.2, "positive": 0.8}
    return scored(event_id, ts, ["negative" if negative else "positive"], scores, source)


def add(store: Store, batch: Sequence[Scored]) -> tuple[int, int]:
    added = store.add(batch, model="test-model", model_version="v1")
    return added.stored, added.duplicates


def stored_rollups(store: Store) -> Rollups:
    from sqlalchemy import select

    from textsift.monitor.schema import rollups

    with store.read() as conn:
        return {(r.width, r.bucket, r.source, r.label): (r.hits, r.total, r.total2)
                for r in conn.execute(select(rollups))}


def recounted_rollups(store: Store) -> Rollups:
    """The rollups as they should be, counted from scratch from the events table."""
    from sqlalchemy import select

    from textsift.monitor.schema import events

    sums: dict[tuple[int, int, str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    with store.read() as conn:
        rows = conn.execute(select(events.c.source, events.c.event_ts, events.c.labels, events.c.scores)).all()
    for source, ts, labels, scores in rows:
        answer = set(labels.strip("|").split("|")) - {""}
        for width in WIDTHS:
            bucket = math.floor(ts / width) * width
            sums[(width, bucket, source, ALL)][0] += 1
            for label, score in json.loads(scores).items():
                row = sums[(width, bucket, source, label)]
                row[0] += label in answer
                row[1] += score
                row[2] += score * score
    return {key: (int(h), t, t2) for key, (h, t, t2) in sums.items()}


def assert_rollups_match_events(store: Store) -> None:
    stored, expected = stored_rollups(store), recounted_rollups(store)
    assert stored.keys() == expected.keys()
    for key, (hits, total, total2) in expected.items():
        assert stored[key][0] == hits, key
        assert math.isclose(stored[key][1], total, abs_tol=1e-6), key
        assert math.isclose(stored[key][2], total2, abs_tol=1e-6), key


def volume(store: Store, width: int = WIDTHS[0]) -> int:
    """Events counted by the rollups of one width: the sum of its '*' rows."""
    from sqlalchemy import func, select

    from textsift.monitor.schema import rollups

    with store.read() as conn:
        query = select(func.sum(rollups.c.hits)).where(rollups.c.width == width, rollups.c.label == ALL)
        return int(conn.execute(query).scalar() or 0)


def distinct_keys(store: Store) -> int:
    from sqlalchemy import func, select

    from textsift.monitor.schema import events

    with store.read() as conn:
        keys = select(events.c.source, events.c.event_id).distinct().subquery()
        return int(conn.execute(select(func.count()).select_from(keys)).scalar() or 0)


def write_events(path: Path, texts: Sequence[str], *, start: float = 1_800_000_000.0, every: float = 7.0,
                 repeat: int = 0) -> int:
    """A JSONL stream of one event per text, `every` seconds apart, then its first `repeat` lines again (a
    producer's retries); returns how many distinct events it holds."""
    lines = [json.dumps({"id": f"e{i}", "ts": start + i * every, "source": "web", "text": text})
             for i, text in enumerate(texts)]
    path.write_text("\n".join(lines + lines[:repeat]) + "\n", encoding="utf-8")
    return len(lines)
