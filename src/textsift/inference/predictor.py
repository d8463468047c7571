"""What every backend offers: token ids in, logits out; probabilities, labels and top-k rankings on top.

numpy only: the ONNX backend and the server build on this without importing torch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from textsift.config import InferenceConfig
from textsift.modeling.settings import ModelSettings

BATCH_SIZE = InferenceConfig.batch_size


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


class Predictor:
    """A loaded model folder. Backends implement `encode` and `logits_from_ids`; the rest is shared.

    `explainable` says whether the model has gradients to attribute with (only the torch backend does).
    """

    settings: ModelSettings
    explainable: ClassVar[bool] = False

    @property
    def labels(self) -> list[str]:
        return self.settings.labels

    @property
    def max_length(self) -> int:
        return self.settings.max_length

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids without padding, truncated to `max_length`."""
        raise NotImplementedError

    def logits_from_ids(self, ids: list[list[int]], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Raw scores per class for already tokenized texts, in input order."""
        raise NotImplementedError

    def logits(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Raw scores per class, in input order."""
        return self.logits_from_ids(self.encode(texts), batch_size)

    def predict_proba(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Class probabilities, shape (len(texts), len(labels)), columns in `labels` order."""
        return softmax(self.logits(texts, batch_size), self.settings.temperature)

    def predict(self, texts: list[str], batch_size: int = BATCH_SIZE) -> list[str]:
        """The most probable label of each text."""
        return [self.labels[i] for i in self.predict_proba(texts, batch_size).argmax(axis=1)]
