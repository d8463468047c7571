from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from textsift.config import DataConfig
from textsift.data.io import read_table
from textsift.data.shots import sample_shots
from textsift.errors import TextsiftError
from textsift.tasks.registry import get_task


def _shots(path: Path, task: str, shots: int, seed: int, data: DataConfig | None = None) -> list[str]:
    table = read_table(path, data or DataConfig())
    return sample_shots(table, get_task(task).class_sets(table), shots, seed).texts


def test_shots_takes_exactly_n_rows_of_each_class(data_dir: Path) -> None:
    table = read_table(data_dir / "train.csv", DataConfig())
    kept = sample_shots(table, get_task("multi-class").class_sets(table), 8, seed=3)
    assert Counter(kept.labels) == {"negative": 8, "positive": 8}  # type: ignore[arg-type]
    assert kept.lines == sorted(kept.lines)  # file order, so the line numbers in messages stay meaningful


def test_shots_is_the_same_for_the_same_seed_and_differs_across_seeds(data_dir: Path) -> None:
    first = _shots(data_dir / "train.csv", "multi-class", 8, seed=3)
    assert first == _shots(data_dir / "train.csv", "multi-class", 8, seed=3)
    assert first != _shots(data_dir / "train.csv", "multi-class", 8, seed=4)


def test_a_larger_sample_contains_the_smaller_one_of_the_same_seed(data_dir: Path) -> None:
    small = set(_shots(data_dir / "train.csv", "multi-class", 8, seed=3))
    assert small <= set(_shots(data_dir / "train.csv", "multi-class", 16, seed=3))  # nested learning curves


def test_multi_label_shots_give_every_label_at_least_n_rows(debtags_dir: Path) -> None:
    data = DataConfig(label_column="tags", label_sep=";")
    table = read_table(debtags_dir / "train.csv", data)
    kept = sample_shots(table, get_task("multi-label").class_sets(table), 4, seed=0)
    counts = Counter(label for labels in get_task("multi-label").class_sets(kept) or [] for label in labels)
    assert min(counts.values()) >= 4 and len(kept) < len(table)


def test_a_class_with_fewer_rows_than_n_keeps_all_of_them(data_dir: Path) -> None:
    table = read_table(data_dir / "train.csv", DataConfig())
    kept = sample_shots(table, get_task("multi-class").class_sets(table), 1000, seed=0)
    assert len(kept) == len(table)


def test_shots_on_a_regression_task_is_one_clear_error(data_dir: Path) -> None:
    table = read_table(data_dir / "train.csv", DataConfig(label_column="valence"))
    with pytest.raises(TextsiftError, match="regression task has no classes"):
        sample_shots(table, get_task("regression").class_sets(table), 8, seed=0)
