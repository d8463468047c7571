"""Metrics (scikit-learn, scipy): classification, multi-label and regression scores, and multi-label thresholds."""

from __future__ import annotations

from typing import Any

import numpy as np


def compute_metrics(y_true: list[int] | np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro/micro/weighted P/R/F1, per-class scores and the confusion matrix, as plain JSON values."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    ids = list(range(len(labels)))
    out: dict[str, Any] = {"accuracy": float(accuracy_score(y_true, y_pred)), "n": int(len(y_true))}
    for average in ("macro", "micro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=ids, average=average, zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    out["per_class"] = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
        for i, name in enumerate(labels)
    }
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=ids).tolist()
    out["labels"] = labels
    return out


def multilabel_metrics(y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray, labels: list[str]
                       ) -> dict[str, Any]:
    """Micro/macro/samples F1, subset accuracy and Hamming loss of thresholded label probabilities, per-label
    P/R/F1 with each label's threshold, and micro-F1 at a flat 0.5 beside the tuned thresholds."""
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_recall_fscore_support

    pred = (proba >= thresholds).astype(int)
    out: dict[str, Any] = {"n": int(len(y)), "subset_accuracy": float(accuracy_score(y, pred)),
                           "hamming_loss": float(hamming_loss(y, pred))}
    for average in ("micro", "macro", "samples"):
        p, r, f, _ = precision_recall_fscore_support(y, pred, average=average, zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    out["micro_f1_at_0.5"] = float(f1_score(y, (proba >= 0.5).astype(int), average="micro", zero_division=0))
    p, r, f, support = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    out["per_label"] = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i]),
               "threshold": float(thresholds[i])}
        for i, name in enumerate(labels)
    }
    out["labels"] = labels
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE, R², Pearson and Spearman correlation of predicted against true values."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y, pred = np.asarray(y, dtype=float).ravel(), np.asarray(pred, dtype=float).ravel()
    constant = np.ptp(pred) == 0 or np.ptp(y) == 0  # correlation is undefined; 0 keeps it comparable
    return {
        "n": int(len(y)),
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "mae": float(mean_absolute_error(y, pred)),
        "r2": float(r2_score(y, pred)) if len(y) > 1 else 0.0,
        "pearson": 0.0 if constant else float(pearsonr(y, pred).statistic),
        "spearman": 0.0 if constant else float(spearmanr(y, pred).statistic),
        "mean_residual": float((pred - y).mean()),  # predicted minus true: > 0 overestimates
    }


def best_thresholds(y: np.ndarray, proba: np.ndarray, fallback: float = 0.5) -> np.ndarray:
    """Per label, the threshold on a 0.01 grid that maximises that label's F1 on (y, proba).

    A label with no positive row, or whose best F1 is 0, keeps `fallback`: there is nothing to tune it on, and
    0.5 is what an untuned sigmoid classifier would use. Ties go to the threshold nearest 0.5.
    """
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    by_closeness = grid[np.argsort(np.abs(grid - 0.5), kind="stable")]
    out = np.full(y.shape[1], fallback)
    for j in range(y.shape[1]):
        positives = y[:, j] == 1
        if not positives.any():
            continue
        pred = proba[:, j][None, :] >= by_closeness[:, None]  # (thresholds, rows)
        tp = (pred & positives).sum(axis=1)
        f1 = 2 * tp / np.maximum(pred.sum(axis=1) + positives.sum(), 1)
        if f1.max() > 0:
            out[j] = by_closeness[int(np.argmax(f1))]
    return out
