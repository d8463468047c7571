"""Parity of an exported graph with its torch model: output differences, answer agreement (the task decides what
agreeing means: the same class, the same label set, a value within 1% of the targets' spread), headline change."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from textsift.data.io import Item, Table
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


# Pairs for a pair model's parity sample when no --validate file is given: question/answer shaped, matching or not.
BUILTIN_PAIRS = [
    ("my card was charged twice", "Duplicate charges are refunded within five working days."),
    ("my card was charged twice", "You can change your delivery address in the account settings."),
    ("how do I reset my password", "Use the 'forgot password' link on the sign-in page."),
    ("ok", "fine"),
    ("where is my parcel " * 60, "Track it with the number in your confirmation e-mail. " * 20),
    ("cancel my subscription", "Subscriptions can be cancelled at any time from the billing page."),
]


def builtin_sample(pairs: bool) -> list[Item]:
    return list(BUILTIN_PAIRS) if pairs else list(BUILTIN_TEXTS)


def compare(expected: np.ndarray, onnx_classifier: Predictor, items: list[Item]) -> dict[str, float]:
    """Largest |output difference| and the share of equal answers between torch outputs and an ONNX model."""
    got = onnx_classifier.logits(items)
    return {
        "max_abs_logit_diff": float(np.abs(got - expected).max()),
        "label_agreement": onnx_classifier.task.agreement(expected, got, onnx_classifier.settings),
    }


def accuracy_change(torch_classifier: Predictor, onnx_classifier: Predictor, table: Table) -> dict[str, Any]:
    """The task's headline metric (accuracy, micro-F1, Pearson r) of both models on a labelled table, and the
    change in points (ONNX minus torch)."""
    task, settings = torch_classifier.task, torch_classifier.settings
    y = task.targets(table, settings)
    headline = task.headline
    before = task.summary(task.metrics(y, torch_classifier.scores(table.inputs), settings))[headline]
    after = task.summary(task.metrics(y, onnx_classifier.scores(table.inputs), settings))[headline]
    change = {"file": str(table.path), "n": len(y), "metric": headline, f"torch_{headline}": before,
              f"onnx_{headline}": after, "delta_points": round(100 * (after - before), 2)}
    log.info("%s on %s: torch %.4f, onnx %.4f (%+.2f points)", headline, table.path, before, after,
             change["delta_points"])
    return change
