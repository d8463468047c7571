"""The PNGs of evaluate and report: confusion matrix, per-label scores, scatter, reliability, length buckets (Agg)."""

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


def plot_length_buckets(rows: list[dict[str, Any]], keys: tuple[str, str], path: Path) -> None:
    """Two scores side by side for each token-length bucket (accuracy and macro-F1, or RMSE and mean residual)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    x = np.arange(len(rows))
    for offset, key, color in ((-0.2, keys[0], "#2563eb"), (0.2, keys[1], "#f59e0b")):
        ax.bar(x + offset, [r[key] for r in rows], width=0.4, label=key.replace("_", " "), color=color)
    ax.axhline(0, color="#374151", linewidth=0.8)
    ax.set_xticks(x, [f"{r['tokens']}\n(n={r['n']})" for r in rows])
    ax.set(xlabel="tokens per text", title="Scores by text length")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_label_scores(metrics: dict[str, Any], path: Path) -> None:
    """Precision, recall and F1 of each label of a multi-label model, with its threshold in the tick label."""
    plt = _pyplot()
    rows = metrics["per_label"]
    fig, ax = plt.subplots(figsize=(max(5.5, 0.55 * len(rows) + 2), 3.8))
    x = np.arange(len(rows))
    for offset, key, color in ((-0.27, "precision", "#2563eb"), (0.0, "recall", "#f59e0b"), (0.27, "f1", "#059669")):
        ax.bar(x + offset, [r[key] for r in rows.values()], width=0.27, label=key, color=color)
    ax.set_xticks(x, [f"{name}\n≥{r['threshold']:.2f}" for name, r in rows.items()],
                  rotation=45 if len(rows) > 6 else 0, fontsize=8)
    ax.set(ylim=(0, 1), title=f"Per label (micro-F1 {metrics['micro']['f1']:.3f}, tuned thresholds)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_threshold_curve(y: np.ndarray, proba: np.ndarray, tuned_micro_f1: float, path: Path) -> None:
    """Micro-F1 for one flat threshold across every label, against the per-label tuned thresholds."""
    from sklearn.metrics import f1_score

    plt = _pyplot()
    grid = np.arange(0.05, 0.96, 0.05)
    f1 = [f1_score(y, (proba >= t).astype(int), average="micro", zero_division=0) for t in grid]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(grid, f1, marker="o", label="one threshold for every label")
    ax.axhline(tuned_micro_f1, color="#059669", linestyle="--", label=f"tuned per label ({tuned_micro_f1:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="threshold", ylabel="micro-F1", title="Threshold curve")
    ax.legend(loc="lower center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scatter(y: np.ndarray, pred: np.ndarray, metrics: dict[str, Any], path: Path) -> None:
    """Predicted against true values of a regression model, the diagonal for a perfect one."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    low, high = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([low, high], [low, high], linestyle="--", color="#9ca3af", label="perfect")
    ax.scatter(y, pred, s=8, alpha=0.4, color="#2563eb")
    ax.set(xlabel="true value", ylabel="predicted value",
           title=f"Pearson r {metrics['pearson']:.3f}, RMSE {metrics['rmse']:.3f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
