"""The one path every event takes, from `monitor ingest`, `replay` and `serve` alike: skip the known, score the
rest in one model pass, store them with their rollups in one transaction, evaluate the rules, print the alerts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textsift.errors import TextsiftError
from textsift.monitor.alerting import evaluate
from textsift.monitor.config import IngestConfig
from textsift.monitor.evidence import Attributor
from textsift.monitor.outbox import Change
from textsift.monitor.store import Added, Scored, Store
from textsift.monitor.stream import Event, text_hash

log = logging.getLogger("textsift")


@dataclass
class Prepared:
    """A batch scored and ready to store: its new events, and how many events it held in all."""

    scored: list[Scored]
    size: int


@dataclass
class Totals:
    stored: int = 0
    duplicates: int = 0
    alerts: list[Change] = field(default_factory=list)


class Pipeline:
    """A model folder and a store, joined."""

    def __init__(self, model_dir: Path, cfg: IngestConfig, store: Store | None = None) -> None:
        from textsift.inference.load import load

        self.cfg, self.model_dir = cfg, Path(model_dir)
        self.predictor = load(model_dir, device="cpu")
        if self.predictor.task.pairs:
            raise TextsiftError(f"{model_dir}: a pair model scores two texts; the monitor scores one text per event")
        self.store = store or Store(cfg.db)
        self.model = self.model_dir.name
        self.version = hashlib.sha256((self.model_dir / "textsift.json").read_bytes()).hexdigest()[:12]
        self._attribute: Attributor | None | bool = False  # False: not looked for yet

    def score(self, batch: Sequence[Event]) -> list[Scored]:
        """The model's answer for each event, in one pass."""
        if not batch:
            return []
        labels, settings = self.predictor.labels, self.predictor.settings
        scores = self.predictor.scores([e.text for e in batch])  # forward passes of InferenceConfig.batch_size
        regression = self.predictor.task.problem_type == "regression"
        out = []
        for event, row in zip(batch, scores, strict=True):
            answer = [] if regression else self.predictor.task.answer(row, settings)
            answer = answer if isinstance(answer, list) else [answer]
            value = float(row[0]) if regression else max((float(row[labels.index(a)]) for a in answer), default=0.0)
            out.append(Scored(event.source, event.id, event.ts, event.text if self.cfg.store_text else None,
                              text_hash(event.text), answer, value,
                              {label: round(float(s), 6) for label, s in zip(labels, row, strict=True)}))
        return out

    def ingest(self, batch: Sequence[Event], evaluate_rules: bool = True) -> tuple[Added, list[Change]]:
        """Store a batch (model run only on events not stored yet) and evaluate the rules on closed windows."""
        return self.commit(self.prepare(batch), evaluate_rules)

    def prepare(self, batch: Sequence[Event]) -> Prepared:
        """The model's half of `ingest`: the batch's events not stored yet, scored."""
        unique = list({e.key: e for e in batch}.values())
        known = self.store.known([e.key for e in unique])
        fresh = [e for e in unique if e.key not in known]
        return Prepared(self.score(fresh), len(batch))

    def commit(self, prepared: Prepared, evaluate_rules: bool = True) -> tuple[Added, list[Change]]:
        """The store's half of `ingest`: one transaction, then the rules; returns what was stored and alerted."""
        added = self.store.add(prepared.scored, model=self.model, model_version=self.version)
        added.duplicates = prepared.size - added.stored  # known before scoring, or stored meanwhile by others
        alerts = self.evaluate() if evaluate_rules else []
        return added, alerts

    def evaluate(self) -> list[Change]:
        alerts = evaluate(self.store, lateness=self.cfg.lateness_s, attribute=self.attributor())
        for alert in alerts:
            log.warning("%s", describe(alert))
        return alerts

    def attributor(self) -> Attributor | None:
        """Word attributions for alert examples, from the torch folder behind the model; None when there is none."""
        if self._attribute is False:
            self._attribute = _attributor(self.model_dir, self.predictor, self.cfg)
        return self._attribute  # type: ignore[return-value]


def _attributor(model_dir: Path, predictor: Any, cfg: IngestConfig) -> Attributor | None:
    """Attributions from the torch folder behind the model, loaded on the first alert (most batches have none)."""
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

    def attribute(text: str, target: str | None) -> list[tuple[str, float]]:
        from textsift.explanation.attribution import explain, torch_classifier

        if not loaded:
            loaded.append(torch_classifier(folder))
        explanation = explain(loaded[0], text, steps=cfg.explain_steps, target=target)
        return list(zip(explanation.words, explanation.scores, strict=True))

    return attribute


def describe(alert: Change) -> str:
    """One readable line for a fired or resolved alert."""
    e = alert.evidence
    head = f"alert {alert.alert_id} {alert.status.upper()} rule {alert.rule.id} [{e['rule']}]"
    if alert.status == "resolved":
        return f"{head}: quiet again in window {e['window_start']}..{e['window_end']} ({e['value']:.3f})"
    why = (f"{e['metric']}({e['label']}) {e['value']:.3f} in {e['window_start']}..{e['window_end']}, "
           f"{e['volume']} events")
    if e.get("baseline") is not None:
        why += (f"; baseline {e['baseline']:.3f} ± {e['sigma']:.3f}, z {e['z']:.2f}, "
                f"{e['detector']} {e['statistic']:.2f}")
    sample = next((x["text"] for x in e.get("examples", []) if x.get("text")), None)
    return f"{head}: {why}" + (f'; e.g. "{sample[:100]}"' if sample else "")
