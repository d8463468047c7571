"""`textsift tune FILE`: search training settings with Optuna, resumably (flags: TuneConfig); the best trial's model
folder lands in <out>/best."""

from __future__ import annotations

import typer

from textsift.cli._options import configured
from textsift.training.config import TuneConfig


# --resume continues one run's checkpoint; a search resumes by itself when run again.
@configured(positional=("train_file",), rename={"validation_file": "validation"}, skip=("resume",))
def tune(cfg: TuneConfig) -> None:
    """Search training settings with Optuna; interrupted searches resume when run again."""
    from textsift.training.tune import tune as run

    typer.echo(f"best model written to {run(cfg)}")
