"""`textsift predict MODEL [FILE]`: label texts from a file or stdin (flags: PredictConfig)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from textsift.cli._options import ModelDir, configured
from textsift.config import PredictConfig


@configured(skip=("label_column",))
def predict(
    model_dir: ModelDir,
    inputs: Annotated[Path | None, typer.Argument(help="CSV/TSV/JSONL/Parquet file; omit to read stdin lines.")] = None,
    *,
    cfg: PredictConfig,
) -> None:
    """Label texts with a trained model."""
    from textsift.inference.predict import predict as run

    run(model_dir, inputs, cfg.out, top_k=cfg.top_k, data=cfg.data, batch_size=cfg.batch_size, device=cfg.device)
