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
Device = Annotated[str, typer.Option(help="auto (a GPU when there is one), cpu, cuda, cuda:1 …")]


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
    pool_layers: Annotated[int | None, typer.Option(help="Mean pooling: last layers to pool; 2 (head), 1.")] = None,
    head_hidden_size: Annotated[int | None, typer.Option(help="Mean pooling: MLP width; 1024 (head), 0.")] = None,
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
    device: Device = "auto",
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
        model=ModelConfig(backbone=backbone, pooling=pooling, max_length=max_length,  # type: ignore[arg-type]
                          pool_layers=pool_layers, head_hidden_size=head_hidden_size),
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
    device: Device = "auto",
) -> None:
    """Accuracy, P/R/F1 per class and averaged, confusion matrix."""
    from textsift.config import DataConfig
    from textsift.evaluate import evaluate

    evaluate(model_dir, data_file, out, DataConfig(text_column, label_column), batch_size, device)


@app.command("predict")
def predict_cmd(
    model_dir: Annotated[Path, typer.Argument(help="Model folder.")],
    inputs: Annotated[Path | None, typer.Argument(help="CSV/TSV/JSONL file; omit to read lines from stdin.")] = None,
    out: Annotated[Path | None, typer.Option(help=".csv or .jsonl; default JSON lines on stdout.")] = None,
    top_k: Annotated[int, typer.Option(help="Most probable labels to list per text.")] = 1,
    text_column: TextColumn = "text",
    batch_size: Annotated[int, typer.Option()] = 64,
    device: Device = "auto",
) -> None:
    """Label texts with a trained model."""
    from textsift.config import DataConfig
    from textsift.predict import predict

    predict(model_dir, inputs, out, top_k=top_k, data=DataConfig(text_column=text_column), batch_size=batch_size,
            device=device)


@app.command("explain")
def explain_cmd(
    model_dir: Annotated[Path, typer.Argument(help="Model folder (torch, not an ONNX export).")],
    text: Annotated[str, typer.Argument(help="The text to explain.")],
    html: Annotated[Path | None, typer.Option(help="Also write an HTML heat-map here.")] = None,
    steps: Annotated[int, typer.Option(help="Integration steps; more is slower and more exact.")] = 32,
    target: Annotated[str | None, typer.Option(help="Class to explain; default the predicted one.")] = None,
) -> None:
    """Which words pushed the prediction which way (Integrated Gradients)."""
    from textsift.explain import explain, print_explanation, write_html

    explanation = explain(model_dir, text, steps=steps, target=target)
    print_explanation(explanation)
    if html is not None:
        typer.echo(f"wrote {write_html([explanation], html)}")


@app.command("report")
def report_cmd(
    model_dir: Annotated[Path, typer.Argument(help="Model folder (torch, not an ONNX export).")],
    data_file: Annotated[Path, typer.Argument(help="Labelled file.")],
    out: Annotated[Path, typer.Option(help="Folder for index.html, report.json and the PNGs.")] = Path("report"),
    validation: Annotated[Path | None, typer.Option(help="Labelled file to fit the temperature on.")] = None,
    fit_temperature: Annotated[bool, typer.Option(help="Fit temperature scaling; stored in textsift.json.")] = False,
    errors: Annotated[int, typer.Option(help="Most confident wrong predictions to explain.")] = 10,
    deletion_texts: Annotated[int, typer.Option(help="Texts for the attribution deletion test; 0 skips it.")] = 50,
    steps: Annotated[int, typer.Option(help="Integration steps per attribution.")] = 32,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    batch_size: Annotated[int, typer.Option()] = 64,
) -> None:
    """An offline HTML report: metrics, calibration, length buckets, worst errors with attributions."""
    from textsift.config import DataConfig
    from textsift.report import report

    page = report(model_dir, data_file, out, validation=validation, fit_temperature=fit_temperature,
                  data=DataConfig(text_column, label_column), errors=errors, deletion_texts=deletion_texts,
                  steps=steps, batch_size=batch_size)
    typer.echo(f"report written to {page}")


@app.command("serve")
def serve_cmd(
    model_dir: Annotated[Path, typer.Argument(help="Model folder.")],
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes the server to the network.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    api_key_file: Annotated[Path | None, typer.Option(help="File with the key clients send as a Bearer token.")]
    = None,
    workers: Annotated[int, typer.Option(help="Processes, each with its own copy of the model.")] = 1,
    max_batch: Annotated[int, typer.Option(help="Most texts per forward pass; 1 turns batching off.")] = 32,
    max_wait_ms: Annotated[float, typer.Option(help="How long a request may wait for others to batch with.")] = 5.0,
    forward_batch: Annotated[int | None, typer.Option(help="Texts per forward pass within a batch; default 8 on "
                                                           "CPU, the whole batch on a GPU.")] = None,
    device: Device = "auto",
    max_body_bytes: Annotated[int, typer.Option(help="Larger request bodies get 413.")] = 1_048_576,
    max_texts: Annotated[int, typer.Option(help="Most texts per request.")] = 64,
    max_chars: Annotated[int, typer.Option(help="Most characters per text.")] = 2000,
    timeout_s: Annotated[float, typer.Option(help="Requests unanswered after this get 504.")] = 10.0,
    cors_origin: Annotated[list[str] | None, typer.Option(help="Browser origin allowed to call the API "
                                                                "(repeatable); none keeps CORS off.")] = None,
    top_k: Annotated[int, typer.Option(help="Labels listed per text unless the request says.")] = 1,
    explain_steps: Annotated[int, typer.Option(help="Integration steps for /v1/explain.")] = 20,
) -> None:
    """Serve a model over HTTP: /v1/predict, /v1/models, /metrics, a playground page at /."""
    from textsift.config import ServeConfig
    from textsift.serve import serve

    serve(model_dir, ServeConfig(
        host=host, port=port, api_key_file=api_key_file, workers=workers, max_batch=max_batch,
        max_wait_ms=max_wait_ms, forward_batch=forward_batch, device=device, max_body_bytes=max_body_bytes,
        max_texts=max_texts, max_chars=max_chars, timeout_s=timeout_s, cors_origins=list(cors_origin or []),
        top_k=top_k, explain_steps=explain_steps,
    ))


@app.command("export")
def export_cmd(
    model_dir: Annotated[Path, typer.Argument(help="Torch model folder written by `textsift train`.")],
    out: Annotated[Path, typer.Option(help="Folder to write; must not exist or be empty.")],
    format: Annotated[str, typer.Option(help="Export format.")] = "onnx",
    quantize: Annotated[str | None, typer.Option(help="int8: dynamic int8 quantisation; omit for fp32.")] = None,
    validate: Annotated[Path | None, typer.Option(help="Labelled file: parity sample and accuracy change.")] = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    tolerance: Annotated[float, typer.Option(help="Largest |logit difference| accepted for fp32.")] = 1e-3,
) -> None:
    """Export a model folder to ONNX (fp32 or int8), checked against the torch model."""
    from textsift.config import DataConfig
    from textsift.export import export

    folder = export(model_dir, out, format=format, quantize=quantize, validate=validate,  # type: ignore[arg-type]
                    data=DataConfig(text_column, label_column), tolerance=tolerance)
    typer.echo(f"ONNX folder written to {folder}")


@app.command("distill")
def distill_cmd(
    teacher: Annotated[Path, typer.Argument(help="Fine-tuned torch model folder (the teacher).")],
    train_file: Annotated[Path, typer.Argument(help="Labelled file the student learns from.")],
    out: Annotated[Path, typer.Option(help="Model folder to write.")] = Path("models/textsift-small"),
    validation: Annotated[Path | None, typer.Option(help="Validation file; default holds out 10% of train.")] = None,
    layers: Annotated[int, typer.Option(help="Encoder layers of the student.")] = 3,
    temperature: Annotated[float, typer.Option(help="Softening of the teacher's distribution.")] = 2.0,
    alpha: Annotated[float, typer.Option(help="Weight of the soft-label loss; 1 - alpha for true labels.")] = 0.5,
    epochs: Annotated[int, typer.Option()] = 4,
    batch_size: Annotated[int, typer.Option()] = 32,
    learning_rate: Annotated[float, typer.Option()] = 1e-4,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    seed: Annotated[int, typer.Option()] = 42,
    num_threads: Annotated[int, typer.Option(help="CPU threads; 0 = all cores.")] = 0,
    device: Device = "auto",
) -> None:
    """Distil a fine-tuned model into a student with fewer layers, trained on the teacher's soft labels."""
    from textsift.config import DataConfig, DistillConfig
    from textsift.distill import distill

    cfg = DistillConfig(
        teacher=teacher, train_file=train_file, out=out, validation_file=validation, layers=layers,
        temperature=temperature, alpha=alpha, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        seed=seed, num_threads=num_threads, device=device, data=DataConfig(text_column, label_column),
    )
    typer.echo(f"model written to {distill(cfg)}")


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
