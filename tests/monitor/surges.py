"""Event streams with a planted surge of negative texts, for the dashboard and report tests.

The texts are movie snippets grouped by what the test model answers for them (not by their gold label), so a
window's share of `negative` is exactly the share planted, whatever the model's accuracy.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any

START = 1_772_323_200  # 2026-03-01T00:00:00Z, a whole hour (and day)
# Fires on the first window over half negative; needs no baseline, so a few events plant it.
THRESHOLD_RULE = "share(negative) > 0.5 over 1h, min 5"
ZSCORE_RULE = "share(negative) > baseline + 3 sigma over 1h, min 10, baseline 8 windows"


@functools.cache
def texts_by_answer(model: Path, data_dir: Path, k: int = 10) -> dict[str, list[str]]:
    """Per answer of the model, the `k` training snippets it gives that answer most confidently, shortest first
    (cheap to attribute). The small test model's scores sit near 0.5, and int8 activations are quantised per
    batch, so a borderline text could flip with the batch it is scored in; the most confident ones do not."""
    from textsift import load

    with (data_dir / "train.csv").open(encoding="utf-8", newline="") as f:
        texts = sorted({row["text"] for row in csv.DictReader(f)})
    predictor = load(model)
    ranked: dict[str, list[tuple[float, str]]] = {}
    for text, row in zip(texts, predictor.scores(texts), strict=True):
        best = int(row.argmax())
        ranked.setdefault(predictor.labels[best], []).append((float(row[best]), text))
    return {label: sorted((t for _, t in sorted(pairs, reverse=True)[:k]), key=lambda t: (len(t), t))
            for label, pairs in ranked.items()}


def surge(texts: dict[str, list[str]], *, hours: int, surge_from: int, per_hour: int, quiet_share: float,
          surge_share: float, source: str = "reviews", start: float = START) -> list[dict[str, Any]]:
    """`per_hour` events in each of `hours` hours, `quiet_share` of them negative before hour `surge_from` and
    `surge_share` from it on, then one positive event two minutes into the next hour, which closes the last
    window for the rules (their lateness is 60 s)."""
    events, used = [], {"negative": 0, "positive": 0}
    for hour in range(hours):
        negatives = round(per_hour * (surge_share if hour >= surge_from else quiet_share))
        for j in range(per_hour):
            label = "negative" if j < negatives else "positive"
            text = texts[label][used[label] % len(texts[label])]
            used[label] += 1
            events.append({"id": f"{source}-{hour}-{j}", "ts": start + hour * 3600 + j * 3600 // per_hour,
                           "source": source, "text": text})
    events.append({"id": f"{source}-close", "ts": start + hours * 3600 + 120, "source": source,
                   "text": texts["positive"][0]})
    return events


def planted(texts: dict[str, list[str]], source: str = "reviews") -> list[dict[str, Any]]:
    """Hour 0 all positive, hour 1 all negative (6 events each), and the closing event: THRESHOLD_RULE fires
    once, on hour 1."""
    return surge(texts, hours=2, surge_from=1, per_hour=6, quiet_share=0.0, surge_share=1.0, source=source)
