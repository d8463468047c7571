"""Multi-label classification: a set of labels per text; sigmoid per label, BCE, per-label thresholds.

Thresholds are tuned on the validation data after every epoch (each label's F1 maximised; a label with no
positive in validation keeps 0.5) and saved with the best epoch's weights in textsift.json, so predict, the ONNX
folder, serve and the playground all decide with them. Micro-F1 with those thresholds selects the best epoch.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textsift.data.io import Table
from textsift.data.labels import natural_key
from textsift.errors import DataError
from textsift.tasks.base import BatchLoss, Task, label_cells
from textsift.tasks.classification import named_label

if TYPE_CHECKING:
    import torch

    from textsift.modeling.settings import ModelSettings


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def label_sets(table: Table) -> list[tuple[str, ...]]:
    """Each row's labels, checked: a row with none is an error naming its line."""
    out = []
    for cell, line in zip(label_cells(table), table.lines, strict=True):
        labels = (cell,) if isinstance(cell, str) else tuple(cell)
        if not labels:
            raise DataError(table.path, line, "an empty label set", "give each row at least one label, or drop it")
        out.append(labels)
    return out


class MultiLabel(Task):
    problem_type = "multi_label_classification"
    selects = "micro_f1"
    headline = "micro_f1"
    by_length = ("micro_f1", "subset_accuracy")

    def label_names(self, table: Table) -> list[str]:
        return sorted({label for labels in label_sets(table) for label in labels}, key=natural_key)

    def check_training(self, table: Table) -> None:
        sets = label_sets(table)
        if table.label_sep is not None and all(len(s) == 1 for s in sets):
            raise DataError(table.path, None, f"the label separator {table.label_sep!r} occurs in no label cell",
                            "pass the separator the file uses with --label-sep, or drop it")
        names = self.label_names(table)
        if len(names) < 2:
            raise DataError(table.path, None, f"only one label ({names[0]!r}) in the file",
                            "a multi-label classifier needs two or more")

    def label_counts(self, table: Table) -> dict[str, int]:
        counts = Counter(label for labels in label_sets(table) for label in labels)
        return dict(sorted(counts.items()))

    def class_sets(self, table: Table) -> list[frozenset[str]] | None:
        return [frozenset(labels) for labels in label_sets(table)]

    def targets(self, table: Table, settings: ModelSettings) -> np.ndarray:
        index = {name: i for i, name in enumerate(settings.labels)}
        y = np.zeros((len(table), len(settings.labels)), dtype=np.float32)
        for row, (labels, line) in enumerate(zip(label_sets(table), table.lines, strict=True)):
            for label in labels:
                if label not in index:
                    raise DataError(table.path, line, f"label {label!r} was not in the training data (known: "
                                    f"{', '.join(settings.labels)})", "fix the label or add examples of it")
                y[row, index[label]] = 1.0
        return y

    def init_output(self, bias: torch.Tensor, y: np.ndarray) -> None:
        """Start each label at its training frequency: AdamW moves a bias by about the learning rate per step, so
        from 0 it would take thousands of steps to reach a rare label's log-odds, and the first epochs would go
        to learning priors instead of telling texts apart."""
        import torch

        prior = np.clip(y.mean(axis=0), 1e-3, 1 - 1e-3)
        with torch.no_grad():
            bias.copy_(torch.from_numpy(np.log(prior / (1 - prior))).to(bias))

    def loss(self, y: np.ndarray, settings: ModelSettings, device: torch.device, balanced: bool) -> BatchLoss:
        import torch
        from torch.nn import functional as F

        targets = torch.from_numpy(y)
        pos_weight = None
        if balanced:  # BCE's pos_weight: each label's positives count as much as its negatives
            positives = targets.sum(0).clamp(min=1)
            pos_weight = ((len(targets) - positives) / positives).to(device)
        return lambda logits, idx: F.binary_cross_entropy_with_logits(logits, targets[idx].to(device),
                                                                      pos_weight=pos_weight)

    def distill_loss(self, teacher_logits: torch.Tensor, y: np.ndarray, settings: ModelSettings,
                     device: torch.device, temperature: float, alpha: float) -> BatchLoss:
        import torch
        from torch.nn import functional as F

        hard = self.loss(y, settings, device, balanced=False)

        def loss(logits: torch.Tensor, idx: list[int]) -> torch.Tensor:
            soft = torch.sigmoid(teacher_logits[idx].to(device) / temperature)
            distilled = F.binary_cross_entropy_with_logits(logits / temperature, soft)
            return alpha * temperature**2 * distilled + (1 - alpha) * hard(logits, idx)

        return loss

    def activate(self, logits: np.ndarray, settings: ModelSettings) -> np.ndarray:
        return sigmoid(logits)

    def decode(self, scores: np.ndarray, settings: ModelSettings, k: int) -> dict[str, Any]:
        best = np.argsort(-scores, kind="stable")[: max(1, min(k, len(settings.labels)))]
        return {"labels": self.answer(scores, settings),
                "top_k": [{"label": settings.labels[i], "score": round(float(scores[i]), 6)} for i in best]}

    def answer(self, scores: np.ndarray, settings: ModelSettings) -> list[str]:
        """The labels at or over their thresholds, most probable first."""
        passed = np.flatnonzero(scores >= thresholds(settings))
        return [settings.labels[i] for i in passed[np.argsort(-scores[passed], kind="stable")]]

    def tune(self, y: np.ndarray, logits: np.ndarray, settings: ModelSettings) -> dict[str, Any]:
        from textsift.evaluation.metrics import best_thresholds

        return {"thresholds": [float(t) for t in best_thresholds(y, sigmoid(logits))]}

    def explain_target(self, scores: np.ndarray, settings: ModelSettings, target: str | None) -> int:
        return named_label(settings.labels, target, int(np.argmax(scores)))

    def metrics(self, y: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> dict[str, Any]:
        from textsift.evaluation.metrics import multilabel_metrics

        return multilabel_metrics(y, scores, thresholds(settings), settings.labels)

    def summary(self, metrics: dict[str, Any]) -> dict[str, float]:
        return {"micro_f1": metrics["micro"]["f1"], "macro_f1": metrics["macro"]["f1"],
                "subset_accuracy": metrics["subset_accuracy"]}

    def agreement(self, expected: np.ndarray, got: np.ndarray, settings: ModelSettings) -> float:
        cut = thresholds(settings)
        return float(((sigmoid(expected) >= cut) == (sigmoid(got) >= cut)).all(axis=1).mean())

    def mistakes(self, y: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> np.ndarray:
        off = np.abs((scores >= thresholds(settings)).astype(float) - y).sum(axis=1)
        wrong = np.flatnonzero(off > 0)
        return wrong[np.argsort(-np.abs(scores - y)[wrong].sum(axis=1), kind="stable")]

    def truth(self, y: np.ndarray, settings: ModelSettings) -> list[str]:
        return [settings.labels[i] for i in np.flatnonzero(y)]

    def show(self, answer: Any) -> str:
        return "; ".join(answer) if answer else "(none)"

    def print_metrics(self, metrics: dict[str, Any]) -> None:
        from textsift.evaluation.display import print_multilabel

        print_multilabel(metrics)

    def plot(self, metrics: dict[str, Any], y: np.ndarray, scores: np.ndarray, out: Path) -> list[Path]:
        from textsift.evaluation.plots import plot_label_scores, plot_threshold_curve

        plot_label_scores(metrics, out / "label_scores.png")
        plot_threshold_curve(y, scores, metrics["micro"]["f1"], out / "threshold_curve.png")
        return [out / "label_scores.png", out / "threshold_curve.png"]


def thresholds(settings: ModelSettings) -> np.ndarray:
    """The folder's per-label thresholds; 0.5 for each label when none were tuned."""
    if settings.thresholds is None:
        return np.full(len(settings.labels), 0.5)
    return np.asarray(settings.thresholds, dtype=float)
