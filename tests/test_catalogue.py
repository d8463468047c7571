from __future__ import annotations

import csv
from pathlib import Path

import pytest

from textsift.catalogue import CATALOGUE, Snippet, fetch, get_dataset, read_snippets, to_polarity
from textsift.errors import TextsiftError


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_fetch_writes_disjoint_stratified_splits(data_dir: Path) -> None:
    splits = {name: read_rows(data_dir / f"{name}.csv") for name in ("train", "validation", "test")}
    assert [len(rows) for rows in splits.values()] == [240, 30, 30]
    texts = [{r["text"] for r in rows} for rows in splits.values()]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    for rows in splits.values():
        positive = sum(r["label"] == "positive" for r in rows) / len(rows)
        assert 0.4 < positive < 0.6  # the source is ~50/50 and the split is stratified


def test_rows_keep_valence_and_its_sign_is_the_label(data_dir: Path) -> None:
    for row in read_rows(data_dir / "train.csv"):
        assert (float(row["valence"]) > 0) == (row["label"] == "positive")


def test_fetch_is_reproducible_for_a_seed(data_dir: Path, tmp_path: Path) -> None:
    fetch("movie-snippets", tmp_path, limit=300)
    assert (tmp_path / "test.csv").read_text() == (data_dir / "test.csv").read_text()


def test_amazon_snippets_fetch(data_dir: Path, tmp_path: Path) -> None:
    paths = fetch("amazon-snippets", tmp_path, limit=100)
    assert sum(len(read_rows(p)) for p in paths.values()) == 100


def test_polarity_drops_neutral_and_repeated_texts() -> None:
    rows = [Snippet("1", 1.5, "Good"), Snippet("2", 0.0, "meh"), Snippet("3", 2.0, "good"), Snippet("4", -1, "bad")]
    assert [s.source_id for s in to_polarity(rows)] == ["1", "4"]


def test_catalogue_entries_carry_licence_and_citation() -> None:
    for entry in CATALOGUE.values():
        assert "MIT" in entry.licence and "Hutto" in entry.citation


def test_unknown_dataset_is_an_error() -> None:
    with pytest.raises(TextsiftError, match="unknown dataset 'imdb'; built-in datasets: movie-snippets"):
        get_dataset("imdb")


def test_malformed_source_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("1\t0.5\tfine\n2\tnot-a-number\toops\n")
    with pytest.raises(TextsiftError, match=r"x.txt:2: expected id<TAB>valence<TAB>text"):
        read_snippets(path, get_dataset("movie-snippets"))
