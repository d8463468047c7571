"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from textsift.config import TrainConfig


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """Run `textsift ARGS` through the real entry point in-process; returns the exit code."""
    from textsift.cli import app as cli

    monkeypatch.setattr(sys, "argv", ["textsift", *args])
    try:
        cli.main()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def small_config(data_dir: Path, out: Path, **overrides: Any) -> TrainConfig:
    """A quick run on the 240-row training slice: one epoch, batch 16."""
    settings: dict[str, Any] = dict(
        train_file=data_dir / "train.csv", validation_file=data_dir / "validation.csv", out=out,
        epochs=1, batch_size=16, learning_rate=1e-4, num_threads=2,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def copy_model(model: Path, target: Path) -> Path:
    """A private copy of a shared model folder, for tests that change or break it."""
    return Path(shutil.copytree(model, target, ignore=shutil.ignore_patterns("checkpoint", "runs", "eval")))
