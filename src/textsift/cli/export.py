"""`textsift export MODEL --out DIR`: a self-contained ONNX folder, fp32 or int8 (flags: ExportConfig)."""

from __future__ import annotations

import dataclasses

import typer

from textsift.cli._options import TorchModelDir, configured
from textsift.config import ExportConfig


@configured()
def export(
    model_dir: TorchModelDir,
    cfg: ExportConfig,
) -> None:
    """Export a model folder to ONNX (fp32 or int8), checked against the torch model."""
    from textsift.exporting.onnx import export as run

    options = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "out"}
    typer.echo(f"ONNX folder written to {run(model_dir, cfg.out, **options)}")
