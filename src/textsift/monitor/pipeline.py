"""The one path every event takes, from `monitor ingest`, `replay` and `serve` alike: skip the known, score the
rest in one model pass, store them with their rollups in one transaction, evaluate the rules, print the alerts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textsift.errors import TextsiftError
from textsift.monitor.alerting import evaluate
from textsift.monitor.attributions import Attributor, Explainer, torch_attributor
from textsift.monitor.config import IngestConfig
from textsift.monitor.models import scoring_folder
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
    model: str = ""  # which folder scored, and why (models.scoring_folder)
    alerts: list[Change] = field(default_factory=list)


class Pipeline:
    """A model folder and a store, joined."""

    def __init__(self, model_dir: Path, cfg: IngestConfig, store: Store | None = None,
                 attribute: Attributor | None = None) -> None:
        """`attribute` replaces the attributions from the torch folder behind the model (tests, benchmarks)."""
        from textsift.inference.load import load

        self.cfg = cfg
        self.model_dir, self.described = scoring_folder(Path(model_dir), cfg.int8)
        log.info("scoring with %s", self.described)
        self.predictor = load(self.model_dir, device="cpu")
        if self.predictor.task.pairs:
            raise TextsiftError(f"{self.model_dir}: a pair model scores two texts; the monitor scores one text per "
                                "event")
        self.store = store or Store(cfg.db)
        self.model = self.model_dir.name
        self.version = hashlib.sha256((self.model_dir / "textsift.json").read_bytes()).hexdigest()[:12]
        self._attribute = attribute
        self._explainer: Explainer | None | bool = False  # False: not made yet (most processes never alert)

    def score(self, batch: Sequence[Event]) -> list[Scored]:
        """The model's answer for each event, in one pass."""
        if not batch:
            return []
        labels, settings = self.predictor.labels, self.predictor.settings
        # What the model reads (its folder's cleaning: personal data masked) is also what is stored, never more.
        texts = self.predictor.prepare([e.text for e in batch])
        scores = self.predictor.scores(texts)  # forward passes of InferenceConfig.batch_size; cleaning is idempotent
        regression = self.predictor.task.problem_type == "regression"
        out = []
        for event, text, row in zip(batch, texts, scores, strict=True):
            answer = [] if regression else self.predictor.task.answer(row, settings)
            answer = answer if isinstance(answer, list) else [answer]
            value = float(row[0]) if regression else max((float(row[labels.index(a)]) for a in answer), default=0.0)
            out.append(Scored(event.source, event.id, event.ts, str(text) if self.cfg.store_text else None,
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
        explainer = self.explainer()
        labels = self.predictor.labels if explainer is not None else None
        alerts = evaluate(self.store, lateness=self.cfg.lateness_s, explain=labels)
        for alert in alerts:
            log.warning("%s", describe(alert))
        if explainer is not None and any(a.status == "firing" for a in alerts):
            explainer.submit([a.alert_id for a in alerts if a.status == "firing"])  # returns at once
        return alerts

    def explainer(self) -> Explainer | None:
        """The thread that attributes alert examples' words; None when the model has no torch folder behind it."""
        if self._explainer is False:
            attribute = self._attribute or torch_attributor(self.model_dir, self.predictor, self.cfg)
            self._explainer = None if attribute is None else Explainer(self.store, attribute)
        return self._explainer  # type: ignore[return-value]

    def close(self, *, drain: bool = True) -> None:
        """Finish (`drain`) or abandon the pending attributions, then close the store."""
        if isinstance(self._explainer, Explainer):
            self._explainer.stop(drain)
        self.store.close()


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
