"""`textsift update MODEL FILE --out DIR`: keep training a model folder on new labelled data, with rehearsal, an
optional anchor and a forgetting gate (flags: UpdateConfig). Exits 3 when the gate rejects the update."""

from __future__ import annotations

import typer

from textsift.cli._options import configured
from textsift.training.config import UpdateConfig

REJECTED = 3  # a run that worked but whose result did not land; 2 is a usage or input error


@configured(positional=("model_dir", "train_file"), rename={"validation_file": "validation"})
def update(cfg: UpdateConfig) -> None:
    """Keep training a model folder on new labelled data, measuring what it forgets."""
    from textsift.training.update import update as run

    result = run(cfg)
    if not result.accepted:
        typer.echo(f"rejected: backward transfer {result.forgetting.backward_transfer:+.2f} points exceeds "
                   f"--max-forgetting {cfg.max_forgetting}; the update is in {result.folder}", err=True)
        raise typer.Exit(REJECTED)
    typer.echo(f"model written to {result.folder}")
