"""The `textsift` command: one thin command per verb; each parses flags and calls the verb function."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from textsift.errors import TextsiftError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)
data_app = typer.Typer(no_args_is_help=True, help="Built-in datasets.")
app.add_typer(data_app, name="data")

TextColumn = Annotated[str, typer.Option(help="Column holding the text.")]
LabelColumn = Annotated[str, typer.Option(help="Column holding the label.")]


@data_app.command("list")
def data_list() -> None:
    """List the built-in datasets with their licence and citation."""
    from rich.console import Console
    from rich.table import Table

    from textsift.catalogue import CATALOGUE

    table = Table("name", "description", "licence", "source")
    for d in CATALOGUE.values():
        table.add_row(d.name, d.description, d.licence, d.source)
    console = Console()
    console.print(table)
    console.print(f"Cite: {next(iter(CATALOGUE.values())).citation}")


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="Dataset name from `textsift data list`.")],
    out: Annotated[Path, typer.Option(help="Folder for train/validation/test CSV.")] = Path("data"),
    seed: Annotated[int, typer.Option(help="Seed of the stratified split.")] = 42,
    limit: Annotated[int | None, typer.Option(help="Keep a stratified sample of this many rows.")] = None,
) -> None:
    """Download a built-in dataset and write a stratified, seeded 80/10/10 split."""
    from textsift.catalogue import fetch

    for split, path in fetch(name, out, seed=seed, limit=limit).items():
        typer.echo(f"{split}\t{path}")


@app.command("train")
def train_cmd(
    train_file: Annotated[Path, typer.Argument(help="Labelled CSV, TSV, JSONL or Parquet file.")],
    out: Annotated[Path, typer.Option(help="Model folder to write.")] = Path("models/textsift"),
    validation: Annotated[Path | None, typer.Option(help="Validation file; default holds out 10% of train.")] = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    strategy: Annotated[str, typer.Option(help="full: all weights; head: frozen backbone, train the head.")] = "full",
    backbone: Annotated[str, typer.Option(help="Local HF model folder or cached hub name.")] = "all-MiniLM-L6-v2",
    pooling: Annotated[str, typer.Option(help="auto, cls or mean.")] = "auto",
    max_length: Annotated[int, typer.Option(help="Truncate texts to this many tokens.")] = 128,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs; default 3 (full) or 30 (head).")] = None,
    batch_size: Annotated[int, typer.Option()] = 32,
    learning_rate: Annotated[float | None, typer.Option(help="Default 5e-5 (full) or 1e-3 (head).")] = None,
    weight_decay: Annotated[float, typer.Option()] = 0.01,
    warmup_ratio: Annotated[float, typer.Option()] = 0.1,
    max_grad_norm: Annotated[float, typer.Option()] = 1.0,
    patience: Annotated[int | None, typer.Option(help="Epochs without better macro-F1 before stopping.")] = None,
    class_weight: Annotated[str, typer.Option(help="none or balanced.")] = "none",
    bucket_size: Annotated[int, typer.Option(help="Batches per length-sorted chunk (1 = no bucketing).")] = 50,
    seed: Annotated[int, typer.Option()] = 42,
    num_threads: Annotated[int, typer.Option(help="CPU threads; 0 = all cores.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 …")] = "auto",
    resume: Annotated[bool, typer.Option(help="Continue from the checkpoint in --out.")] = False,
    init_from: Annotated[str, typer.Option(help="backbone, or a model folder to keep training.")] = "backbone",
) -> None:
    """Fine-tune a pretrained encoder on a labelled file."""
    from textsift.config import DataConfig, ModelConfig, TrainConfig
    from textsift.train import train

    cfg = TrainConfig(
        train_file=train_file, out=out, validation_file=validation, strategy=strategy,  # type: ignore[arg-type]
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, weight_decay=weight_decay,
        warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm, patience=patience,
        class_weight=class_weight, bucket_size=bucket_size, seed=seed,  # type: ignore[arg-type]
        num_threads=num_threads, device=device, resume=resume, init_from=init_from,
        data=DataConfig(text_column=text_column, label_column=label_column),
        model=ModelConfig(backbone=backbone, pooling=pooling, max_length=max_length),  # type: ignore[arg-type]
    )
    typer.echo(f"model written to {train(cfg)}")


@app.command("evaluate")
def evaluate_cmd(
    model_dir: Annotated[Path, typer.Argument(help="Model folder.")],
    data_file: Annotated[Path, typer.Argument(help="Labelled file.")],
    out: Annotated[Path | None, typer.Option(help="Folder for metrics.json and confusion_matrix.png.")] = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    batch_size: Annotated[int, typer.Option()] = 64,
) -> None:
    """Accuracy, P/R/F1 per class and averaged, confusion matrix."""
    from textsift.config import DataConfig
    from textsift.evaluate import evaluate

    evaluate(model_dir, data_file, out, DataConfig(text_column, label_column), batch_size)


@app.command("predict")
def predict_cmd(
    model_dir: Annotated[Path, typer.Argument(help="Model folder.")],
    inputs: Annotated[Path | None, typer.Argument(help="CSV/TSV/JSONL file; omit to read lines from stdin.")] = None,
    out: Annotated[Path | None, typer.Option(help=".csv or .jsonl; default JSON lines on stdout.")] = None,
    top_k: Annotated[int, typer.Option(help="Most probable labels to list per text.")] = 1,
    text_column: TextColumn = "text",
    batch_size: Annotated[int, typer.Option()] = 64,
) -> None:
    """Label texts with a trained model."""
    from textsift.config import DataConfig
    from textsift.predict import predict

    predict(model_dir, inputs, out, top_k=top_k, data=DataConfig(text_column=text_column), batch_size=batch_size)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    from rich.console import Console
    from rich.logging import RichHandler

    handler = RichHandler(console=Console(stderr=True), show_path=False)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[handler])
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        app(standalone_mode=False)
    except TextsiftError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except Exception as e:  # click usage errors arrive here when standalone_mode is off
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        raise
