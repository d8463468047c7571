"""What an update did to the old data and to the new: the task's headline metric (accuracy, micro-F1, Pearson r)
and each label's F1, before and after, on the earlier validation rows and on the new validation data.

Backward transfer is after - before on the old data, in points (metric x 100; negative means forgotten); the gain
is the same on the new data. The gate refuses an update whose old-data drop exceeds `max_forgetting` points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from textsift.data.io import Table
from textsift.inference.torch_backend import Classifier
from textsift.tasks.base import Task
from textsift.training.replay import Buffer


@dataclass
class Forgetting:
    """Headline metric and per-label F1 of the old (`old_*`) and new (`new_*`) validation data, before and after."""

    metric: str
    old_before: float
    old_after: float
    new_before: float
    new_after: float
    labels: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @property
    def backward_transfer(self) -> float:
        """After - before on the old data, in points."""
        return round(100 * (self.old_after - self.old_before), 2)

    @property
    def gain(self) -> float:
        """After - before on the new data, in points."""
        return round(100 * (self.new_after - self.new_before), 2)

    def rejected(self, max_forgetting: float | None) -> bool:
        return max_forgetting is not None and -self.backward_transfer > max_forgetting

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "old_before": self.old_before, "old_after": self.old_after,
                "new_before": self.new_before, "new_after": self.new_after,
                "backward_transfer": self.backward_transfer, "gain": self.gain, "labels": self.labels}


def score(classifier: Classifier, rows: Table | Buffer, batch_size: int = 64) -> dict[str, Any]:
    """The task's metrics of a model on labelled rows: a table, or kept features (a head model's frozen encoder
    made them, so the head alone gives the model's exact outputs)."""
    task, settings = classifier.task, classifier.settings
    if isinstance(rows, Buffer) and rows.features is not None:
        model = classifier.model
        model.eval()
        with torch.inference_mode():
            feats = torch.from_numpy(rows.features).to(classifier.device)
            logits = model.head(feats).float().cpu().numpy()  # type: ignore[operator]
        return task.metrics(task.targets(rows.table(), settings), task.activate(logits, settings), settings)
    table = rows.table() if isinstance(rows, Buffer) else rows
    y = task.targets(table, settings)
    return task.metrics(y, classifier.scores(table.inputs, batch_size), settings)


def label_f1(metrics: dict[str, Any]) -> dict[str, float]:
    """Each label's F1 (classification and multi-label); a regression has none."""
    per = metrics.get("per_class") or metrics.get("per_label") or {}
    return {name: float(values["f1"]) for name, values in per.items()}


def compare(task: Task, old: tuple[dict[str, Any], dict[str, Any]], new: tuple[dict[str, Any], dict[str, Any]]
            ) -> Forgetting:
    """Forgetting from the task's (before, after) metrics of the old and the new validation data."""
    labels: dict[str, dict[str, float | None]] = {}
    columns = (("old_before", old[0]), ("old_after", old[1]), ("new_before", new[0]), ("new_after", new[1]))
    for column, metrics in columns:
        for name, value in label_f1(metrics).items():
            labels.setdefault(name, dict.fromkeys(name for name, _ in columns))[column] = round(value, 4)
    top = {column: round(float(task.summary(metrics)[task.headline]), 4) for column, metrics in columns}
    return Forgetting(task.headline, top["old_before"], top["old_after"], top["new_before"], top["new_after"],
                      labels)


def print_forgetting(result: Forgetting) -> None:
    """The before/after table on stdout."""
    from rich.console import Console
    from rich.table import Table as RichTable

    table = RichTable(title=f"update: {result.metric} on old and new validation data (points = x100)")
    for column in ("", "old before", "old after", "backward transfer", "new before", "new after", "gain"):
        table.add_column(column, justify="right" if column else "left", no_wrap=not column)
    table.add_row(result.metric, *_points(result.old_before, result.old_after), *_points(result.new_before,
                                                                                          result.new_after))
    for name, values in result.labels.items():
        table.add_row(f"F1 {name}", *_points(values["old_before"], values["old_after"]),
                      *_points(values["new_before"], values["new_after"]))
    Console().print(table)


def _points(before: float | None, after: float | None) -> list[str]:
    shown = [f"{100 * v:.1f}" if v is not None else "-" for v in (before, after)]
    delta = f"{100 * (after - before):+.1f}" if before is not None and after is not None else "-"
    return [*shown, delta]
