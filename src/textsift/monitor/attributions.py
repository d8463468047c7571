"""Word attributions for alert examples, computed beside the ingest path and attached to the stored alert.

Integrated Gradients on a torch model takes seconds per example (the first alert of a process also loads the
torch folder), so an alert is stored, printed and queued for its webhook at once with its example texts and
scores, marked `"attributions": {"status": "pending", …}`; a daemon thread then attributes its examples and
rewrites the alert's evidence with their words. The webhook message is not held back for them: a receiver gets
the texts and scores straight away, and `monitor alerts`, /v1/alerts, the dashboard and the report show the words
once they are stored. Alerts a killed process left pending are picked up by the next process's explainer.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textsift.monitor.config import IngestConfig
from textsift.monitor.store import Store

log = logging.getLogger("textsift")
# text, label -> [(word, attribution), …]
Attributor = Callable[[str, str | None], list[tuple[str, float]]]
PENDING = "pending"


def torch_attributor(model_dir: Path, predictor: Any, cfg: IngestConfig) -> Attributor | None:
    """Attributions from the torch folder behind the model, loaded on first use; None when there is none."""
    if cfg.examples == 0 or not cfg.store_text:
        return None
    folder = cfg.explain_model
    if folder is None:
        folder = model_dir if predictor.explainable else (
            Path(predictor.settings.source) if predictor.settings.source else None)
    import importlib.util

    if folder is None or not folder.is_dir() or importlib.util.find_spec("captum") is None:
        log.info("alert examples come without word attributions (no torch model folder with captum installed); "
                 "pass --explain-model")
        return None
    loaded: list[Any] = []
    lock = threading.Lock()

    def attribute(text: str, target: str | None) -> list[tuple[str, float]]:
        from textsift.explanation.attribution import explain, torch_classifier

        with lock:  # one load, even if two threads ask at once
            if not loaded:
                loaded.append(torch_classifier(folder))
        explanation = explain(loaded[0], text, steps=cfg.explain_steps, target=target)
        return list(zip(explanation.words, explanation.scores, strict=True))

    return attribute


def pending_marker(label: str, labels: Sequence[str]) -> dict[str, Any]:
    """What a fresh alert's evidence says until its words are stored; `target` is the label to attribute to
    (None, the answer itself, for a one-output model such as a regression)."""
    return {"status": PENDING, "target": label if label in labels and len(labels) > 1 else None}


class Explainer:
    """A daemon thread attributing the examples of alerts handed to it, one alert at a time, oldest first."""

    def __init__(self, store: Store, attribute: Attributor) -> None:
        self.store, self.attribute = store, attribute
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="textsift-attributions", daemon=True)
        self._started = False
        self._lock = threading.Lock()

    def submit(self, alert_ids: Sequence[int]) -> None:
        """Attribute these alerts' examples soon; returns at once."""
        with self._lock:
            if not self._started:  # the first alert also picks up what an earlier process left pending
                self._started = True
                for alert_id in left_pending(self.store):
                    self._queue.put(alert_id)
                self._thread.start()
        for alert_id in alert_ids:
            self._queue.put(alert_id)

    def wait(self) -> None:
        """Block until every alert handed over so far has its words stored (or failed to get them)."""
        self._queue.join()

    def stop(self, drain: bool) -> None:
        """End the thread, first finishing the queue when `drain`; what is left stays pending in the store."""
        if not self._started:
            return
        if drain:
            self.wait()
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            alert_id = self._queue.get()
            try:
                if alert_id is None:
                    return
                attach(self.store, alert_id, self.attribute)
            except Exception as e:  # a database hiccup must not end attributions for the process's lifetime
                log.warning("word attributions for alert %s: %s", alert_id, e)
            finally:
                self._queue.task_done()


def attach(store: Store, alert_id: int, attribute: Attributor) -> None:
    """Attribute one alert's examples and store their words in its evidence (a no-op unless it is pending)."""
    from sqlalchemy import select, update

    from textsift.monitor.schema import alerts

    with store.read() as conn:
        raw = conn.execute(select(alerts.c.evidence).where(alerts.c.id == alert_id)).scalar()
    evidence = json.loads(raw) if raw is not None else {}
    marker = evidence.get("attributions") or {}
    if marker.get("status") != PENDING:
        return
    # The slow part, outside any transaction: ingest keeps writing meanwhile.
    words, failed = {}, []
    for example in evidence.get("examples", []):
        if not example.get("text"):
            continue
        try:
            found = attribute(example["text"], marker.get("target"))
            words[example["id"]] = [[word, round(score, 4)] for word, score in found]
        except Exception as e:  # an explanation is a courtesy; the alert stands without it
            log.warning("no attributions for event %s: %s", example["id"], e)
            failed.append(str(e))
    with store.write() as conn:  # read again under the write: only this thread rewrites an alert's evidence
        raw = conn.execute(select(alerts.c.evidence).where(alerts.c.id == alert_id)).scalar()
        if raw is None:
            return  # its rule was removed meanwhile
        evidence = json.loads(raw)
        for example in evidence.get("examples", []):
            if example["id"] in words:
                example["words"] = words[example["id"]]
        evidence["attributions"] = {"status": "failed" if failed and not words else "ready",
                                    **({"error": failed[0]} if failed else {})}
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(evidence=json.dumps(evidence)))


def left_pending(store: Store) -> list[int]:
    """Alerts whose words were never stored (their process ended first), oldest first."""
    from sqlalchemy import select

    from textsift.monitor.schema import alerts

    with store.read() as conn:
        query = select(alerts.c.id).where(alerts.c.evidence.like('%"attributions": {"status": "pending"%'))
        return [int(i) for i in conn.execute(query.order_by(alerts.c.id)).scalars()]
