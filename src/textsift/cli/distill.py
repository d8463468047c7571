"""`textsift distill TEACHER FILE`: a shallower student trained on a teacher's soft labels (flags: DistillConfig)."""

from __future__ import annotations

import typer

from textsift.cli._options import configured
from textsift.config import DistillConfig


@configured(positional=("teacher", "train_file"), rename={"validation_file": "validation"})
def distill(cfg: DistillConfig) -> None:
    """Distil a fine-tuned model into a student with fewer layers, trained on the teacher's soft labels."""
    from textsift.training.distill import distill as run

    typer.echo(f"model written to {run(cfg)}")
