"""Regression (and `pair-regression`): one number per row; MSE on standardised targets, Pearson r selects.

The targets are standardised with the training set's mean and standard deviation, stored in textsift.json as
`target_scaling`, and every output is mapped back, so predict, the ONNX folder and serve give values in the
target's own units. MSE, not Huber: the targets textsift is measured on are bounded means of ratings, with no
outliers for Huber to discount, and MSE is what Pearson r and RMSE reward.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textsift.data.io import Table
from textsift.errors import DataError, TextsiftError
from textsift.tasks.base import BatchLoss, Task, plain_labels

if TYPE_CHECKING:
    import torch

    from textsift.modeling.settings import ModelSettings


class Regression(Task):
    problem_type = "regression"
    selects = "pearson"
    headline = "pearson"
    by_length = ("rmse", "mean_residual")

    def label_names(self, table: Table) -> list[str]:
        return [table.label_column]

    def check_training(self, table: Table) -> None:
        values = self.values(table)
        if np.ptp(values) == 0:
            raise DataError(table.path, None, f"every target is {values[0]:g}", "a regression needs varied targets")

    def targets(self, table: Table, settings: ModelSettings) -> np.ndarray:
        return self.values(table)

    def values(self, table: Table) -> np.ndarray:
        """The label column as numbers; a cell that is not a finite number is an error naming its line."""
        out = np.zeros(len(table), dtype=np.float64)
        for i, (cell, line) in enumerate(zip(plain_labels(table, self.name), table.lines, strict=True)):
            try:
                out[i] = float(cell)
            except ValueError:
                out[i] = math.nan
            if not math.isfinite(out[i]):
                raise DataError(table.path, line, f"target {cell!r} in column {table.label_column!r} is not a "
                                "finite number", "a regression target must be a number; fix or drop the row")
        return out

    def fit(self, y: np.ndarray, settings: ModelSettings) -> dict[str, Any]:
        return {"target_scaling": {"mean": float(y.mean()), "std": float(y.std()) or 1.0}}

    def loss(self, y: np.ndarray, settings: ModelSettings, device: torch.device, balanced: bool) -> BatchLoss:
        import torch
        from torch.nn import functional as F

        targets = torch.from_numpy(standardise(y, settings)).float()
        return lambda logits, idx: F.mse_loss(logits[:, 0], targets[idx].to(device))

    def distill_loss(self, teacher_logits: torch.Tensor, y: np.ndarray, settings: ModelSettings,
                     device: torch.device, temperature: float, alpha: float) -> BatchLoss:
        from torch.nn import functional as F

        hard = self.loss(y, settings, device, balanced=False)

        def loss(logits: torch.Tensor, idx: list[int]) -> torch.Tensor:
            # The teacher's standardised value is the soft target; a temperature has nothing to soften here.
            soft = F.mse_loss(logits, teacher_logits[idx].to(device))
            return alpha * soft + (1 - alpha) * hard(logits, idx)

        return loss

    def activate(self, logits: np.ndarray, settings: ModelSettings) -> np.ndarray:
        mean, std = scaling(settings)
        return logits * std + mean

    def decode(self, scores: np.ndarray, settings: ModelSettings, k: int) -> dict[str, Any]:
        return {"value": round(float(scores[0]), 6)}

    def answer(self, scores: np.ndarray, settings: ModelSettings) -> float:
        return float(scores[0])

    def rank_column(self, settings: ModelSettings) -> int:
        return 0

    def explain_target(self, scores: np.ndarray, settings: ModelSettings, target: str | None) -> int:
        if target is not None and target not in settings.labels:
            raise TextsiftError(f"a regression model has one output ({settings.labels[0]!r}); drop the target")
        return 0

    def metrics(self, y: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> dict[str, Any]:
        from textsift.evaluation.metrics import regression_metrics

        return {**regression_metrics(y, scores[:, 0]), "target": settings.labels[0]}

    def summary(self, metrics: dict[str, Any]) -> dict[str, float]:
        return {name: metrics[name] for name in ("pearson", "spearman", "rmse", "mae", "r2", "mean_residual")}

    def agreement(self, expected: np.ndarray, got: np.ndarray, settings: ModelSettings) -> float:
        """Share of values that agree within 1% of the training targets' standard deviation."""
        # The logits are standardised values, so a difference of 0.01 in them is 1% of the standard deviation.
        return float((np.abs(expected - got)[:, 0] <= 0.01).mean())

    def mistakes(self, y: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> np.ndarray:
        return np.argsort(-np.abs(scores[:, 0] - y), kind="stable")

    def truth(self, y: np.ndarray, settings: ModelSettings) -> float:
        return float(y)

    def show(self, answer: Any) -> str:
        return f"{answer:.3f}"

    def print_metrics(self, metrics: dict[str, Any]) -> None:
        from textsift.evaluation.display import print_regression

        print_regression(metrics)

    def plot(self, metrics: dict[str, Any], y: np.ndarray, scores: np.ndarray, out: Path) -> list[Path]:
        from textsift.evaluation.plots import plot_scatter

        plot_scatter(y, scores[:, 0], metrics, out / "scatter.png")
        return [out / "scatter.png"]


def scaling(settings: ModelSettings) -> tuple[float, float]:
    """The training targets' mean and standard deviation (identity when none were stored)."""
    stored = settings.target_scaling or {}
    return float(stored.get("mean", 0.0)), float(stored.get("std", 1.0))


def standardise(y: np.ndarray, settings: ModelSettings) -> np.ndarray:
    mean, std = scaling(settings)
    return (y - mean) / std
