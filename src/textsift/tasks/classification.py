"""Single-label classification (multi-class, and `pair` over two texts): softmax, cross-entropy, macro-F1."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textsift.data.io import Table
from textsift.data.labels import LabelMap
from textsift.errors import DataError, TextsiftError
from textsift.tasks.base import BatchLoss, Task, plain_labels

if TYPE_CHECKING:
    import torch

    from textsift.modeling.settings import ModelSettings


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of `logits / temperature`."""
    z = logits / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def rank(proba: np.ndarray, labels: list[str], k: int) -> dict[str, Any]:
    """The top label, its score and the `k` most probable labels of one row of probabilities."""
    best = np.argsort(-proba, kind="stable")[:k]
    top = [{"label": labels[i], "score": round(float(proba[i]), 6)} for i in best]
    return {"label": top[0]["label"], "score": top[0]["score"], "top_k": top}


# How the relevant class of a pair classifier is spelled, in order of preference.
RELEVANT = ("1", "true", "yes", "match", "matches", "relevant", "positive", "related", "similar", "duplicate",
            "same", "entailment")


class SingleLabel(Task):
    """One class per row. Probabilities are softmax(logits / temperature); macro-F1 selects the best epoch."""

    problem_type = "single_label_classification"
    selects = "macro_f1"
    headline = "accuracy"
    calibrates = True
    by_length = ("accuracy", "macro_f1")

    def label_names(self, table: Table) -> list[str]:
        return LabelMap.from_labels(plain_labels(table, self.name)).names

    def check_training(self, table: Table) -> None:
        counts = Counter(plain_labels(table, self.name))
        if len(counts) < 2:
            raise DataError(table.path, None, f"only one class ({next(iter(counts))!r}) in the labels",
                            "a classifier needs two or more")

    def stratify(self, table: Table) -> list[str] | None:
        return plain_labels(table, self.name)

    def label_counts(self, table: Table) -> dict[str, int]:
        return dict(sorted(Counter(plain_labels(table, self.name)).items()))

    def class_sets(self, table: Table) -> list[frozenset[str]] | None:
        return [frozenset((label,)) for label in plain_labels(table, self.name)]

    def targets(self, table: Table, settings: ModelSettings) -> np.ndarray:
        plain_labels(table, self.name)
        return np.array(LabelMap(settings.labels).encode(table), dtype=np.int64)

    def loss(self, y: np.ndarray, settings: ModelSettings, device: torch.device, balanced: bool) -> BatchLoss:
        import torch
        from torch.nn import functional as F

        targets = torch.from_numpy(y)
        weight = balanced_class_weights(targets, len(settings.labels)).to(device) if balanced else None
        return lambda logits, idx: F.cross_entropy(logits, targets[idx].to(device), weight=weight)

    def distill_loss(self, teacher_logits: torch.Tensor, y: np.ndarray, settings: ModelSettings,
                     device: torch.device, temperature: float, alpha: float) -> BatchLoss:
        from torch.nn import functional as F

        hard = self.loss(y, settings, device, balanced=False)

        def loss(logits: torch.Tensor, idx: list[int]) -> torch.Tensor:
            # Hinton et al. (2015): T^2 keeps the soft-target gradients on the scale of the hard-label ones.
            soft = F.kl_div(F.log_softmax(logits / temperature, dim=-1),
                            F.log_softmax(teacher_logits[idx].to(device) / temperature, dim=-1),
                            reduction="batchmean", log_target=True)
            return alpha * temperature**2 * soft + (1 - alpha) * hard(logits, idx)

        return loss

    def activate(self, logits: np.ndarray, settings: ModelSettings) -> np.ndarray:
        return softmax(logits, settings.temperature)

    def decode(self, scores: np.ndarray, settings: ModelSettings, k: int) -> dict[str, Any]:
        return rank(scores, settings.labels, max(1, min(k, len(settings.labels))))

    def answer(self, scores: np.ndarray, settings: ModelSettings) -> str:
        return settings.labels[int(np.argmax(scores))]

    def rank_column(self, settings: ModelSettings) -> int:
        """The relevant class: the label spelled like a yes (1, true, match, ...), else the last label, which for
        0/1 labels is 1."""
        lowered = [label.lower() for label in settings.labels]
        return next((lowered.index(name) for name in RELEVANT if name in lowered), len(settings.labels) - 1)

    def explain_target(self, scores: np.ndarray, settings: ModelSettings, target: str | None) -> int:
        return named_label(settings.labels, target, int(np.argmax(scores)))

    def metrics(self, y: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> dict[str, Any]:
        from textsift.evaluation.metrics import compute_metrics

        return compute_metrics(y, scores.argmax(axis=1), settings.labels)

    def summary(self, metrics: dict[str, Any]) -> dict[str, float]:
        return {"macro_f1": metrics["macro"]["f1"], "accuracy": metrics["accuracy"]}

    def agreement(self, expected: np.ndarray, got: np.ndarray, settings: ModelSettings) -> float:
        return float((expected.argmax(axis=1) == got.argmax(axis=1)).mean())

    def mistakes(self, y: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> np.ndarray:
        wrong = np.flatnonzero(scores.argmax(axis=1) != y)
        return wrong[np.argsort(-scores[wrong].max(axis=1), kind="stable")]

    def truth(self, y: np.ndarray, settings: ModelSettings) -> str:
        return settings.labels[int(y)]

    def print_metrics(self, metrics: dict[str, Any]) -> None:
        from textsift.evaluation.display import print_metrics

        print_metrics(metrics)

    def plot(self, metrics: dict[str, Any], y: np.ndarray, scores: np.ndarray, out: Path) -> list[Path]:
        from textsift.evaluation.plots import plot_confusion_matrix

        plot_confusion_matrix(metrics, out / "confusion_matrix.png")
        return [out / "confusion_matrix.png"]


def balanced_class_weights(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Inverse class frequency, scaled so a balanced training set gets weight 1 for every class."""
    import torch

    counts = torch.bincount(y, minlength=n_classes).float().clamp(min=1)
    return len(y) / (n_classes * counts)


def named_label(labels: list[str], target: str | None, default: int) -> int:
    """The index of `target` among `labels` (one line when it is not there), or `default` when None."""
    if target is None:
        return default
    if target not in labels:
        raise TextsiftError(f"unknown target class {target!r}; the model's classes are {', '.join(labels)}")
    return labels.index(target)
