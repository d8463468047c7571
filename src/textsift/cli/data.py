"""`textsift data list | fetch`: the built-in datasets (flags of fetch: FetchConfig)."""

from __future__ import annotations

from typing import Annotated

import typer

from textsift.cli._options import configured
from textsift.config import FetchConfig

app = typer.Typer(no_args_is_help=True, help="Built-in datasets.")


@app.command("list")
def list_datasets() -> None:
    """List the built-in datasets with their licence and citation."""
    from rich.console import Console
    from rich.table import Table

    from textsift.data.catalogue import CATALOGUE

    table = Table("name", "description", "licence", "source")
    for d in CATALOGUE.values():
        table.add_row(d.name, d.description, d.licence, d.source)
    console = Console()
    console.print(table)
    console.print(f"Cite: {next(iter(CATALOGUE.values())).citation}")


@app.command("fetch")
@configured()
def fetch(
    name: Annotated[str, typer.Argument(help="Dataset name from `textsift data list`.")],
    cfg: FetchConfig,
) -> None:
    """Download a built-in dataset and write a stratified, seeded 80/10/10 split."""
    from textsift.data.catalogue import fetch as run

    for split, path in run(name, cfg.out, seed=cfg.seed, limit=cfg.limit).items():
        typer.echo(f"{split}\t{path}")
