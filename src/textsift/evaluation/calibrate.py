"""Calibration: expected calibration error, a reliability diagram, and temperature scaling.

Temperature scaling divides every logit by one scalar T fitted on held-out data; it changes confidences, never the
predicted class. `Predictor.predict_proba` applies the `temperature` stored in textsift.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from textsift.config import ReportConfig

DEFAULT_BINS = ReportConfig.bins


def reliability_bins(probs: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> list[dict[str, float]]:
    """Equal-width confidence bins over [0, 1]: count, mean confidence and accuracy of each non-empty bin."""
    return _bins(probs.max(axis=1), probs.argmax(axis=1) == np.asarray(y), bins)


def class_reliability(probs: np.ndarray, y: np.ndarray, labels: list[str], bins: int = DEFAULT_BINS
                      ) -> dict[str, dict[str, Any]]:
    """One-vs-rest reliability per class: bins of P(class), each with how often that class was the true one
    ("accuracy"), and the class-wise ECE. A model can be calibrated on its top label yet off for one class."""
    out = {}
    for c, name in enumerate(labels):
        points = _bins(probs[:, c], np.asarray(y) == c, bins)
        out[name] = {"ece": _ece(points, len(y)), "bins": points}
    return out


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """ECE: the bin-size-weighted mean of |accuracy - confidence| over equal-width confidence bins."""
    return _ece(reliability_bins(probs, y, bins), len(probs))


def _bins(score: np.ndarray, hit: np.ndarray, bins: int) -> list[dict[str, float]]:
    # Bin i holds scores in (i/bins, (i+1)/bins]; a score of exactly 0 joins the first bin.
    index = np.clip(np.ceil(score * bins).astype(int) - 1, 0, bins - 1)
    out = []
    for i in range(bins):
        members = index == i
        if members.any():
            out.append({"low": i / bins, "high": (i + 1) / bins, "n": int(members.sum()),
                        "confidence": float(score[members].mean()), "accuracy": float(hit[members].mean())})
    return out


def _ece(points: list[dict[str, float]], n: int) -> float:
    return float(sum(b["n"] / n * abs(b["accuracy"] - b["confidence"]) for b in points))


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true classes."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), np.asarray(y)].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising validation NLL (bounded 1-D search over log T, T in [0.05, 20])."""
    from scipy.optimize import minimize_scalar

    # Searching log T keeps T positive and treats "twice as sharp" and "twice as flat" symmetrically.
    result = minimize_scalar(lambda log_t: nll(logits, y, float(np.exp(log_t))), bounds=(np.log(0.05), np.log(20.0)),
                             method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))
