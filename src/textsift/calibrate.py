"""Calibration: expected calibration error, a reliability diagram, and temperature scaling.

Temperature scaling divides every logit by one scalar T fitted on held-out data; it changes confidences, never the
predicted class. `Classifier.predict_proba` applies the `temperature` stored in textsift.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEFAULT_BINS = 15


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of `logits / temperature`."""
    z = logits / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reliability_bins(probs: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> list[dict[str, float]]:
    """Equal-width confidence bins over [0, 1]: count, mean confidence and accuracy of each non-empty bin."""
    confidence, correct = probs.max(axis=1), (probs.argmax(axis=1) == np.asarray(y))
    # Bin i holds confidences in (i/bins, (i+1)/bins]; confidence 0 cannot occur for a max-probability.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    out = []
    for i in range(bins):
        members = index == i
        if members.any():
            out.append({"low": i / bins, "high": (i + 1) / bins, "n": int(members.sum()),
                        "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean())})
    return out


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """ECE: the bin-size-weighted mean of |accuracy - confidence| over equal-width confidence bins."""
    n = len(probs)
    return float(sum(b["n"] / n * abs(b["accuracy"] - b["confidence"]) for b in reliability_bins(probs, y, bins)))


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


def plot_reliability(curves: dict[str, list[dict[str, float]]], path: Path, bins: int = DEFAULT_BINS) -> None:
    """Accuracy against confidence per bin for each named curve (e.g. before/after scaling), diagonal = calibrated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#9ca3af", label="perfect calibration")
    for name, points in curves.items():
        ax.plot([p["confidence"] for p in points], [p["accuracy"] for p in points], marker="o", label=name)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (max probability)", ylabel="accuracy",
           title=f"Reliability diagram ({bins} equal-width bins)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
