"""`textsift train FILE`: fine-tune a pretrained encoder on a labelled file (flags: TrainConfig)."""

from __future__ import annotations

import typer

from textsift.cli._options import configured
from textsift.config import TrainConfig


@configured(positional=("train_file",), rename={"validation_file": "validation"})
def train(cfg: TrainConfig) -> None:
    """Fine-tune a pretrained encoder on a labelled file."""
    from textsift.training.train import train as run

    typer.echo(f"model written to {run(cfg)}")
