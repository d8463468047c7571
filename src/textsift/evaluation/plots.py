"""The PNGs of evaluate and report: confusion matrix, reliability diagrams, scores by text length (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(metrics: dict[str, Any], path: Path) -> None:
    """The confusion matrix of `compute_metrics` output, titled with accuracy and macro-F1."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    labels = metrics["labels"]
    size = max(4.0, 0.6 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(np.array(metrics["confusion_matrix"]), display_labels=labels).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45 if len(labels) > 4 else 0
    )
    ax.set_title(f"accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro']['f1']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_reliability(curves: dict[str, list[dict[str, float]]], path: Path, bins: int, *,
                     xlabel: str = "confidence (max probability)", ylabel: str = "accuracy",
                     title: str = "Reliability diagram") -> None:
    """Accuracy against confidence per bin for each named curve (e.g. before/after scaling), diagonal = calibrated."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#9ca3af", label="perfect calibration")
    for name, points in curves.items():
        ax.plot([p["confidence"] for p in points], [p["accuracy"] for p in points], marker="o", label=name)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=xlabel, ylabel=ylabel, title=f"{title} ({bins} equal-width bins)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_length_buckets(rows: list[dict[str, Any]], path: Path) -> None:
    """Accuracy and macro-F1 side by side for each token-length bucket."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["accuracy"] for r in rows], width=0.4, label="accuracy", color="#2563eb")
    ax.bar(x + 0.2, [r["macro_f1"] for r in rows], width=0.4, label="macro-F1", color="#f59e0b")
    ax.set_xticks(x, [f"{r['tokens']}\n(n={r['n']})" for r in rows])
    ax.set(ylim=(0, 1), xlabel="tokens per text", title="Scores by text length")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
