"""`textsift evaluate MODEL FILE...`: accuracy, per-class P/R/F1 and a confusion matrix per file, and one table
comparing several files (flags: EvaluateConfig)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textsift.cli._options import ModelDir, configured
from textsift.config import EvaluateConfig

LabelledFiles = Annotated[list[Path], typer.Argument(help="Labelled CSV, TSV, JSONL or Parquet files.")]


@configured()
def evaluate(
    model_dir: ModelDir,
    data_files: LabelledFiles,
    cfg: EvaluateConfig,
) -> None:
    """Accuracy, P/R/F1 per class and averaged, confusion matrix; with several files, one column per file and
    each file's results in <out>/<file stem>/ (<parent>-<stem> where stems collide)."""
    from textsift.evaluation.evaluate import evaluate_files

    evaluate_files(model_dir, data_files, cfg.out, cfg.data, cfg.batch_size, cfg.device)
