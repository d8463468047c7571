"""`textsift pretrain FILE`: continue masked-LM pre-training of a backbone on raw text (flags: PretrainConfig)."""

from __future__ import annotations

import typer

from textsift.cli._options import configured
from textsift.training.config import PretrainConfig


@configured(positional=("train_file",), rename={"validation_file": "validation"},
            skip=("epochs", "label_column", "text_pair_column", "label_sep"))
def pretrain(cfg: PretrainConfig) -> None:
    """Continue masked-LM pre-training of a backbone on unlabelled text; train on it with --backbone FOLDER."""
    from textsift.training.pretrain import pretrain as run

    typer.echo(f"backbone written to {run(cfg)}")
