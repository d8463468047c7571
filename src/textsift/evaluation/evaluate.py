"""`evaluate`: score a model folder on a labelled file; metrics.json, a table and the task's plots (confusion
matrix; per-label scores and threshold curve; predicted-vs-true scatter)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from textsift import files
from textsift.config import DataConfig, EvaluateConfig
from textsift.data.checks import warn_duplicates
from textsift.data.io import Table, read_table
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
    """Evaluate a model folder on a labelled file; writes metrics.json and the task's plots into `out`.

    `out` defaults to `<model_dir>/eval/<data file stem>/`; columns left at their defaults are those the model was
    trained with; the options are those of `EvaluateConfig`.
    """
    out = Path(out) if out is not None else Path(model_dir) / "eval" / Path(data_file).stem
    classifier = load(model_dir, device)
    settings, task = classifier.settings, classifier.task
    table = read_table(data_file, settings.data_columns(data))
    files.writable_dir(out)
    warn_if_seen_in_training(settings, table)
    y = task.targets(table, settings)
    scores = classifier.scores(table.inputs, batch_size)
    metrics = {**task.metrics(y, scores, settings), "task": task.name, "data_file": str(data_file)}
    files.write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    plots = task.plot(metrics, y, scores, out)
    task.print_metrics(metrics)
    log.info("wrote %s", ", ".join(str(p) for p in [out / "metrics.json", *plots]))
    return metrics


def warn_if_seen_in_training(settings: ModelSettings, table: Table) -> None:
    """Test rows that were also training rows inflate scores; warn with their lines when the train file is at hand."""
    train = settings.data.get("train")
    if train is not None and Path(train.file).is_file():
        warn_duplicates(read_table(train.file, settings.data_columns(), require_labels=False), table)
