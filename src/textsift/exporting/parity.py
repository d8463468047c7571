"""Parity of an exported graph with its torch model: logit differences, label agreement, accuracy change."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from textsift.data.io import Table
from textsift.data.labels import LabelMap
from textsift.inference.predictor import Predictor

log = logging.getLogger("textsift")
PARITY_SAMPLE = 64
# Used when no --validate file is given: varied lengths, both polarities, an empty-ish and a truncated text.
BUILTIN_TEXTS = [
    "a gripping, beautifully acted story",
    "the plot is thin and the jokes fall flat",
    "ok",
    "not bad at all, though the second half drags",
    "an ordinary film",
    "I have seen better; I have also seen much, much worse.",
    "tedious " * 200,
    "Funny, warm and surprising: the best thing the director has made in years.",
]


def compare(expected: np.ndarray, onnx_classifier: Predictor, texts: list[str]) -> dict[str, float]:
    """Largest |logit difference| and share of equal labels between torch logits and an ONNX classifier."""
    got = onnx_classifier.logits(texts)
    return {
        "max_abs_logit_diff": float(np.abs(got - expected).max()),
        "label_agreement": float((got.argmax(axis=1) == expected.argmax(axis=1)).mean()),
    }


def accuracy_change(torch_classifier: Predictor, onnx_classifier: Predictor, table: Table) -> dict[str, Any]:
    """Accuracy of both models on a labelled table and the change in points (ONNX minus torch)."""
    y = np.array(LabelMap(torch_classifier.labels).encode(table))
    torch_acc = float((torch_classifier.logits(table.texts).argmax(axis=1) == y).mean())
    onnx_acc = float((onnx_classifier.logits(table.texts).argmax(axis=1) == y).mean())
    change = {"file": str(table.path), "n": len(y), "torch_accuracy": torch_acc, "onnx_accuracy": onnx_acc,
              "delta_points": round(100 * (onnx_acc - torch_acc), 2)}
    log.info("accuracy on %s: torch %.4f, onnx %.4f (%+.2f points)", table.path, torch_acc, onnx_acc,
             change["delta_points"])
    return change
