"""The stream `make demo-monitor` replays: real held-out texts, simulated arrival, and a negative surge planted in it.

Only the texts are real: a built-in dataset's test split (which the demo model never trained on), each drawn by its
human label. Everything else is simulated: the timestamps (uniform within each hour), the two sources, the hourly
volumes (Poisson) and the mixture (a quarter of the texts negative, more than twice that on one source for a few
hours). The test split holds a few hundred texts, so a five-day stream repeats each of them several times; each
label's texts are dealt in shuffled rounds, so none repeats before all the others of its label have been used.

The plan is written beside the stream (`stream.plan.json`), so `check` can say whether the monitor caught the surge.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from textsift import files
from textsift.errors import TextsiftError
from textsift.monitor.evidence import iso


@dataclass
class Plan:
    """What the simulated stream holds.

    Attributes:
        start: The first hour of the stream (UTC).
        days: How long it runs.
        per_hour: Mean events an hour per source.
        negative_share: The usual share of negative texts, on every source.
        surge_source: The source the surge is planted on.
        surge_hour: When the surge begins, in hours after `start` (86: the fourth day, 14:00).
        surge_hours: How long it lasts.
        surge_share: The share of negative texts on `surge_source` during the surge.
        seed: Seeds the volumes, the times, the labels and the order the texts are dealt in.
    """

    start: str = "2026-01-05T00:00:00Z"
    days: int = 5
    per_hour: dict[str, float] = field(default_factory=lambda: {"wire": 40.0, "editorial": 10.0})
    negative_share: float = 0.25
    surge_source: str = "wire"
    surge_hour: int = 86
    surge_hours: int = 4
    surge_share: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.surge_source not in self.per_hour:
            raise TextsiftError(f"surge_source {self.surge_source!r} is not one of the sources {list(self.per_hour)}")
        if not 0 <= self.surge_hour <= self.days * 24 - self.surge_hours:
            raise TextsiftError(f"the surge (hour {self.surge_hour}, {self.surge_hours} h) must lie in the stream")


def build_stream(texts_csv: Path | str, out: Path | str, plan: Plan | None = None) -> dict[str, Any]:
    """Write the events (JSONL id, ts, source, text, in time order) to `out` and the plan beside it; returns the plan.

    Args:
        texts_csv: A labelled CSV with text and label columns holding `negative` and `positive`, such as the
            test.csv `textsift data fetch` writes.
    """
    import numpy as np

    plan = plan or Plan()
    rng = np.random.default_rng(plan.seed)
    deal = {label: _dealt(texts, rng) for label, texts in _texts_by_label(Path(texts_csv)).items()}
    t0 = datetime.fromisoformat(plan.start).timestamp()
    surge = (t0 + 3600 * plan.surge_hour, t0 + 3600 * (plan.surge_hour + plan.surge_hours))
    rows: list[tuple[float, str, str, str]] = []
    for hour in range(plan.days * 24):
        for source, rate in plan.per_hour.items():
            surging = source == plan.surge_source and plan.surge_hour <= hour < plan.surge_hour + plan.surge_hours
            share = plan.surge_share if surging else plan.negative_share
            for _ in range(rng.poisson(rate)):
                label = "negative" if rng.random() < share else "positive"
                rows.append((t0 + 3600 * (hour + rng.random()), source, label, next(deal[label])))
    rows.sort()
    out = Path(out)
    counters = dict.fromkeys(plan.per_hour, 0)
    with files.replacing(out) as f:
        for ts, source, _, text in rows:
            counters[source] += 1
            f.write(json.dumps({"id": f"{source}-{counters[source]:05d}", "ts": iso(round(ts)), "source": source,
                                "text": text}) + "\n")
    inside = [r[1] == plan.surge_source and surge[0] <= r[0] < surge[1] for r in rows]
    record = {
        "note": "texts: real held-out snippets drawn by their human label; timestamps, sources, volumes and the "
                "mixture of labels: simulated",
        "texts": str(texts_csv), "events": len(rows), "distinct_texts": len({r[3] for r in rows}), **asdict(plan),
        "surge_start": iso(surge[0]), "surge_end": iso(surge[1]), "surge_start_ts": surge[0], "surge_end_ts": surge[1],
        # The shares the stream really holds, by the texts' true labels (the draws make them differ a little).
        "true_share_outside_surge": _negative_share([r for r, i in zip(rows, inside, strict=True) if not i]),
        "true_share_in_surge": _negative_share([r for r, i in zip(rows, inside, strict=True) if i]),
    }
    files.write_text(plan_path(out), json.dumps(record, indent=2) + "\n")
    return record


def plan_path(stream: Path | str) -> Path:
    """Where the plan of a stream is written: stream.jsonl -> stream.plan.json."""
    return Path(stream).with_suffix(".plan.json")


def check(plan_file: Path | str, received: Path | str) -> list[str]:
    """What a webhook receiver got, read against the plan: lines to print, or a TextsiftError when no alert fired
    for a window inside the planted surge."""
    plan = json.loads(Path(plan_file).read_text())
    lines = [f"planted: negative share {plan['negative_share']:.2f} -> {plan['surge_share']:.2f} on "
             f"{plan['surge_source']}, {plan['surge_start']} .. {plan['surge_end']} (true shares in the stream "
             f"{plan['true_share_outside_surge']:.2f} -> {plan['true_share_in_surge']:.2f})"]
    path = Path(received)
    messages = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    unique = list({(m["alert_id"], m["status"]): m for m in messages}.values())  # a retried message counts once
    caught: list[dict[str, Any]] = []
    stray: list[dict[str, Any]] = []
    for m in unique:
        head = f"webhook got alert {m['alert_id']} {m['status'].upper()} (rule {m['rule_id']}: {m['rule']})"
        if m["status"] != "firing":
            lines.append(f"{head}: quiet again in {m['window_start']} .. {m['window_end']}")
            continue
        lines.append(f"{head}: window {m['window_start']} .. {m['window_end']}, share {m['value']:.3f} of "
                     f"{m['volume']} events" + (f", baseline {m['baseline']:.3f}, z {m['z']:.2f}"
                                                if m.get("baseline") is not None else ""))
        inside = plan["surge_start_ts"] <= m["window_start_ts"] < plan["surge_end_ts"]
        (caught if inside else stray).append(m)
    if stray:
        lines.append(f"{len(stray)} alert(s) fired outside the planted surge: false alarms")
    if not caught:
        raise TextsiftError("\n".join([*lines, f"FAIL: no alert reached the webhook ({path}) for a window inside "
                                                "the planted surge"]))
    delay = (caught[0]["window_end_ts"] - plan["surge_start_ts"]) / 3600
    lines.append(f"OK: the surge fired alert {caught[0]['alert_id']} and reached the webhook; the alerting window "
                 f"closed {delay:.0f} h after the surge began")
    return lines


def _texts_by_label(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        raise TextsiftError(f"{path}: no such file; run `textsift data fetch news-snippets` first")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    by_label = {label: sorted({r["text"] for r in rows if r.get("label") == label}) for label in ("negative",
                                                                                                   "positive")}
    if not all(by_label.values()):
        raise TextsiftError(f"{path}: needs text and label columns with both negative and positive rows")
    return by_label


def _dealt(texts: list[str], rng: Any) -> Iterator[str]:
    """The texts in shuffled rounds, for ever."""
    while True:
        yield from (texts[i] for i in rng.permutation(len(texts)))


def _negative_share(rows: list[tuple[float, str, str, str]]) -> float:
    return round(sum(r[2] == "negative" for r in rows) / max(len(rows), 1), 3)
