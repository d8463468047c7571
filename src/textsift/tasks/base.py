"""The `Task` interface: everything that differs between multi-class, multi-label and regression, in one place.

The training loop, the backends, evaluate, predict, export, serve, explain and report never branch on the task;
they ask its `Task` for targets, the loss, how outputs decode into answers, metrics, the metric that selects the
best epoch, what export parity compares and which output an explanation attributes. Whether a row holds one text
or a pair of texts is orthogonal (`pairs`): the pair tasks are classification and regression over two inputs.

numpy only at import time; torch is imported inside the loss, so ONNX serving never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from textsift.data.io import Table
from textsift.errors import DataError, TextsiftError

if TYPE_CHECKING:
    import torch

    from textsift.modeling.settings import ModelSettings

BatchLoss = Callable[["torch.Tensor", list[int]], "torch.Tensor"]  # (float32 logits of a batch, its indices) -> loss


class Task:
    """One kind of target. Subclasses fill in the class attributes and the methods below.

    Attributes:
        name: The task as textsift.json and `--task` spell it.
        pairs: Each row is a pair of texts (the tokenizer's pair encoding, `token_type_ids` included).
        problem_type: What Hugging Face's config.json calls it, so a plain `pipeline` applies the right activation.
        selects: The validation metric (higher is better) that picks the best epoch and drives early stopping.
        headline: The one number export and the logs compare (accuracy, micro-F1, Pearson r).
        calibrates: Scores are one probability distribution over exclusive classes (temperature scaling and
            reliability diagrams apply).
        by_length: The two `summary` scalars the report shows per token-length bucket.
    """

    problem_type: ClassVar[str]
    selects: ClassVar[str]
    headline: ClassVar[str]
    calibrates: ClassVar[bool] = False
    by_length: ClassVar[tuple[str, str]]

    def __init__(self, name: str) -> None:
        self.name = name
        self.pairs = name.startswith("pair")

    # Data and targets ---------------------------------------------------------------------------------------------
    def label_names(self, table: Table) -> list[str]:
        """The model's output names, from the training table."""
        raise NotImplementedError

    def check_training(self, table: Table) -> None:
        """Refuse a training table this task cannot learn from (one class, constant targets, ...)."""

    def stratify(self, table: Table) -> list[str] | None:
        """What a held-out validation split is stratified by, or None for a plain seeded split."""
        return None

    def label_counts(self, table: Table) -> dict[str, int]:
        """What a model folder's data fingerprint records about the labels."""
        return {}

    def class_sets(self, table: Table) -> list[frozenset[str]] | None:
        """Each row's classes (one for single-label, a set for multi-label), or None for a task without classes;
        what `--shots` samples by and what fewshot pairs by."""
        return None

    def targets(self, table: Table, settings: ModelSettings) -> np.ndarray:
        """The table's labels as the arrays metrics compare with: class ids, a 0/1 matrix, or values."""
        raise NotImplementedError

    def fit(self, y: np.ndarray, settings: ModelSettings) -> dict[str, Any]:
        """Settings learnt from the training targets before training (regression: their scaling)."""
        return {}

    def init_output(self, bias: torch.Tensor, y: np.ndarray) -> None:
        """Set the output layer's fresh bias from the training targets before training (multi-label: each
        label's prior log-odds); by default it stays as the backbone's initialisation left it."""

    def loss(self, y: np.ndarray, settings: ModelSettings, device: torch.device, balanced: bool) -> BatchLoss:
        """The loss of a batch's float32 logits against the training targets `y` (as `targets` returns them)."""
        raise NotImplementedError

    def distill_loss(self, teacher_logits: torch.Tensor, y: np.ndarray, settings: ModelSettings,
                     device: torch.device, temperature: float, alpha: float) -> BatchLoss:
        """alpha x (the student against the teacher's soft outputs) + (1 - alpha) x the task's own loss."""
        raise NotImplementedError

    # Outputs ------------------------------------------------------------------------------------------------------
    def activate(self, logits: np.ndarray, settings: ModelSettings) -> np.ndarray:
        """Scores from raw outputs: class probabilities, label probabilities or values in the target's units."""
        raise NotImplementedError

    def decode(self, scores: np.ndarray, settings: ModelSettings, k: int) -> dict[str, Any]:
        """One row of scores as the JSON answer predict and serve give."""
        raise NotImplementedError

    def answer(self, scores: np.ndarray, settings: ModelSettings) -> Any:
        """One row of scores as a plain answer: a label, a list of labels, or a number."""
        raise NotImplementedError

    def tune(self, y: np.ndarray, logits: np.ndarray, settings: ModelSettings) -> dict[str, Any]:
        """Settings tuned on validation outputs after an epoch (multi-label: per-label thresholds)."""
        return {}

    def rank_column(self, settings: ModelSettings) -> int:
        """The output a pair model orders candidates by (textsift rank, /v1/rank)."""
        raise TextsiftError(f"a {self.name} model cannot rank candidates; train with --task pair or pair-regression")

    def explain_target(self, scores: np.ndarray, settings: ModelSettings, target: str | None) -> int:
        """The output an explanation attributes: the named label, else the predicted (or only) one."""
        raise NotImplementedError

    # Metrics ------------------------------------------------------------------------------------------------------
    def metrics(self, y: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> dict[str, Any]:
        """Every metric of this task, as plain JSON values."""
        raise NotImplementedError

    def summary(self, metrics: dict[str, Any]) -> dict[str, float]:
        """The scalars logged per epoch; `selects` and `headline` are among them."""
        raise NotImplementedError

    def agreement(self, expected: np.ndarray, got: np.ndarray, settings: ModelSettings) -> float:
        """Share of rows whose answers agree between two sets of logits (export parity)."""
        raise NotImplementedError

    def mistakes(self, y: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> np.ndarray:
        """Indices of the wrong rows, worst first (most confident wrong class, most labels off, largest error)."""
        raise NotImplementedError

    def show(self, answer: Any) -> str:
        """An answer (or a row's true target, decoded alike) as a short text for people."""
        return answer if isinstance(answer, str) else str(answer)

    def truth(self, y: np.ndarray, settings: ModelSettings) -> Any:
        """One row of `targets` as the answer it stands for."""
        raise NotImplementedError

    def print_metrics(self, metrics: dict[str, Any]) -> None:
        """A table of the metrics on stderr."""
        raise NotImplementedError

    def plot(self, metrics: dict[str, Any], y: np.ndarray, scores: np.ndarray, out: Path) -> list[Path]:
        """The evaluation's PNGs in `out`."""
        raise NotImplementedError


def label_cells(table: Table) -> list[Any]:
    """The table's raw labels; a table without them is one line."""
    if table.labels is None:
        raise DataError(table.path, None, "no labels", "pass a labelled file")
    return table.labels


def plain_labels(table: Table, task: str) -> list[str]:
    """Labels that must each be one string; a list of labels in a cell names the task that takes it."""
    labels = label_cells(table)
    for label, line in zip(labels, table.lines, strict=True):
        if not isinstance(label, str):
            raise DataError(table.path, line, f"a list of labels ({list(label)}) in a {task} task",
                            "pass --task multi-label, or give one label per row")
    return labels
