"""`textsift lineage MODEL`: every step that led to a model folder's weights (parents, data, config, metrics)."""

from __future__ import annotations

from typing import Annotated

import typer

from textsift.cli._options import ModelDir


def lineage(
    model_dir: ModelDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw lineage list as JSON.")] = False,
) -> None:
    """Each step: verb, time, parent folder hash, data fingerprints, key metrics and whether it was kept."""
    from textsift.modeling.lineage import lineage as run

    run(model_dir, as_json)
