"""`evaluate`: score a model folder on a labelled file; metrics.json, a per-class table and confusion_matrix.png."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from textsift import files
from textsift.config import DataConfig, EvaluateConfig
from textsift.data.checks import warn_duplicates
from textsift.data.io import Table, read_table
from textsift.data.labels import LabelMap
from textsift.evaluation.display import print_metrics
from textsift.evaluation.metrics import compute_metrics
from textsift.evaluation.plots import plot_confusion_matrix
from textsift.inference.load import load
from textsift.modeling.settings import ModelSettings

log = logging.getLogger("textsift")


def evaluate(
    model_dir: Path | str,
    data_file: Path | str,
    out: Path | str | None = EvaluateConfig.out,
    data: DataConfig | None = None,
    batch_size: int = EvaluateConfig.batch_size,
    device: str = EvaluateConfig.device,
) -> dict[str, Any]:
    """Evaluate a model folder on a labelled file; writes metrics.json and confusion_matrix.png into `out`.

    `out` defaults to `<model_dir>/eval/<data file stem>/`; the options are those of `EvaluateConfig`.
    """
    out = Path(out) if out is not None else Path(model_dir) / "eval" / Path(data_file).stem
    classifier = load(model_dir, device)
    table = read_table(data_file, data)
    files.writable_dir(out)
    warn_if_seen_in_training(classifier.settings, table)
    y_true = LabelMap(classifier.labels).encode(table)
    y_pred = classifier.predict_proba(table.texts, batch_size).argmax(axis=1)
    metrics = compute_metrics(y_true, y_pred, classifier.labels)
    metrics["data_file"] = str(data_file)
    files.write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    plot_confusion_matrix(metrics, out / "confusion_matrix.png")
    print_metrics(metrics)
    log.info("wrote %s and %s", out / "metrics.json", out / "confusion_matrix.png")
    return metrics


def warn_if_seen_in_training(settings: ModelSettings, table: Table) -> None:
    """Test rows that were also training rows inflate scores; warn with their lines when the train file is at hand."""
    train = settings.data.get("train")
    if train is not None and Path(train.file).is_file():
        warn_duplicates(read_table(train.file, settings.data_columns()), table)
