"""`textsift report MODEL FILE`: an offline HTML report with plots and attributions (flags: ReportConfig)."""

from __future__ import annotations

import dataclasses

import typer

from textsift.cli._options import LabelledFile, TorchModelDir, configured
from textsift.config import ReportConfig


@configured()
def report(
    model_dir: TorchModelDir,
    data_file: LabelledFile,
    cfg: ReportConfig,
) -> None:
    """An offline HTML report: metrics, calibration, length buckets, worst errors with attributions."""
    from textsift.evaluation.report import report as run

    options = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "out"}
    typer.echo(f"report written to {run(model_dir, data_file, cfg.out, **options)}")
