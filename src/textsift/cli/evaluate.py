"""`textsift evaluate MODEL FILE`: accuracy, per-class P/R/F1 and a confusion matrix (flags: EvaluateConfig)."""

from __future__ import annotations

from textsift.cli._options import LabelledFile, ModelDir, configured
from textsift.config import EvaluateConfig


@configured()
def evaluate(
    model_dir: ModelDir,
    data_file: LabelledFile,
    cfg: EvaluateConfig,
) -> None:
    """Accuracy, P/R/F1 per class and averaged, confusion matrix."""
    from textsift.evaluation.evaluate import evaluate as run

    run(model_dir, data_file, cfg.out, cfg.data, cfg.batch_size, cfg.device)
