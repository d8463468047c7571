"""`textsift data list | fetch | clean | leaks | augment`: the built-in datasets, and preparing a file before
training (flags: FetchConfig, DataCleanConfig, LeaksConfig, AugmentConfig)."""

from __future__ import annotations

from typing import Annotated

import typer

from textsift.cli._options import configured
from textsift.config import FetchConfig
from textsift.data.config import AugmentConfig, DataCleanConfig, LeaksConfig

app = typer.Typer(no_args_is_help=True, help="Built-in datasets; clean, check and augment a data file.")


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


@app.command("clean")
@configured(positional=("input",))
def clean(cfg: DataCleanConfig) -> None:
    """Normalise a file's texts, mask personal data, drop duplicates; every change is counted in the report."""
    from textsift.data.clean import clean_file

    typer.echo(clean_file(cfg).summary())


@app.command("leaks")
@configured(positional=("first", "second"))
def leaks(cfg: LeaksConfig) -> None:
    """List rows of the second file that repeat rows of the first, exactly or nearly, with their lines."""
    from textsift.data.leaks import file_leaks

    report = file_leaks(cfg)
    for line in report.lines():
        typer.echo(line)
    if cfg.fail and report.pairs:
        raise typer.Exit(1)


@app.command("augment")
@configured(positional=("input",))
def augment(cfg: AugmentConfig) -> None:
    """Write each row and EDA-style copies of it (synonyms, swaps, deletions, insertions), seeded."""
    from textsift.data.augment import augment_file

    typer.echo(augment_file(cfg).summary())
