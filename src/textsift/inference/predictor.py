"""What every backend offers: token ids in, logits out; scores, answers and prediction rows on top, decoded by the
model's task (textsift.tasks), so no caller branches on multi-class, multi-label or regression.

numpy only: the ONNX backend and the server build on this without importing torch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from textsift.config import InferenceConfig
from textsift.data.cleaning import text_cleaner
from textsift.data.io import Item
from textsift.errors import TextsiftError
from textsift.modeling.settings import ModelSettings
from textsift.tasks.base import Task
from textsift.tasks.registry import get_task

BATCH_SIZE = InferenceConfig.batch_size


class Predictor:
    """A loaded model folder. Backends implement `tokenize` and `logits_from_ids`; the rest is shared.

    Inputs are texts, or (text, text_pair) tuples for a pair task; every input is cleaned as the folder's settings
    say (`prepare`) before it is tokenized, in every backend. `explainable` says whether the model has gradients
    to attribute with (only the torch backend does).
    """

    settings: ModelSettings
    explainable: ClassVar[bool] = False

    @property
    def labels(self) -> list[str]:
        return self.settings.labels

    @property
    def max_length(self) -> int:
        return self.settings.max_length

    @property
    def task(self) -> Task:
        return _task(self.settings.task)

    def prepare(self, items: Sequence[Item]) -> list[Item]:
        """The inputs as the model reads them: cleaned (normalised, personal data masked) as in training."""
        cleaner = text_cleaner(self.settings.cleaning)
        if cleaner is None:
            return list(items)
        # Anything but a text or a pair of texts goes through unchanged, for the backend to refuse in one line.
        return [cleaner(item) if isinstance(item, str) else
                (cleaner(item[0]), cleaner(item[1])) if _is_pair(item) else item for item in items]

    def encode(self, items: Sequence[Item]) -> list[list[int]]:
        """Token ids of the prepared inputs without padding, truncated to `max_length` (pairs: both together)."""
        return self.tokenize(self.prepare(items))

    def tokenize(self, items: Sequence[Item]) -> list[list[int]]:
        """Token ids of inputs as they are (already prepared)."""
        raise NotImplementedError

    def logits_from_ids(self, ids: list[list[int]], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Raw outputs for already tokenized inputs, in input order."""
        raise NotImplementedError

    def logits(self, items: Sequence[Item], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Raw outputs, one row per input, in input order."""
        return self.logits_from_ids(self.encode(items), batch_size)

    def scores(self, items: Sequence[Item], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """What the task makes of the outputs: class probabilities (softmax, temperature applied), label
        probabilities (sigmoid) or values in the target's units; shape (len(items), len(labels))."""
        return self.task.activate(self.logits(items, batch_size), self.settings)

    def predict_proba(self, items: Sequence[Item], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Class (or label) probabilities, columns in `labels` order; a regression model has none."""
        if self.task.problem_type == "regression":
            raise TextsiftError("a regression model predicts values, not probabilities; use scores() or predict()")
        return self.scores(items, batch_size)

    def predict(self, items: Sequence[Item], batch_size: int = BATCH_SIZE) -> list[Any]:
        """The answer for each input: its label, its list of labels (multi-label) or its value (regression)."""
        return [self.task.answer(row, self.settings) for row in self.scores(items, batch_size)]

    def predictions(self, items: Sequence[Item], k: int = 1, batch_size: int = BATCH_SIZE) -> list[dict[str, Any]]:
        """The JSON answer rows predict and serve give, from the `k` best labels up."""
        return [self.task.decode(row, self.settings, k) for row in self.scores(items, batch_size)]


@functools.cache
def _task(name: str) -> Task:
    return get_task(name)


def _is_pair(item: object) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and all(isinstance(t, str) for t in item)


def split_items(items: Sequence[Item], pairs: bool) -> tuple[list[str], list[str] | None]:
    """Texts and, for a pair model, the second texts; inputs of the wrong shape for the model are one line."""
    if not pairs:
        if any(not isinstance(item, str) for item in items):
            raise TextsiftError("this model reads one text per input, but got a pair; train with --task pair")
        return list(items), None  # type: ignore[arg-type]
    for item in items:
        if isinstance(item, str) or len(item) != 2 or not all(isinstance(t, str) for t in item):
            raise TextsiftError(f"this pair model reads (text, text_pair) pairs, not {item!r}")
    return [item[0] for item in items], [item[1] for item in items]
