from __future__ import annotations

import csv
import io
import re
import tarfile
from pathlib import Path

import pytest

from textsift.data import catalogue
from textsift.data.catalogue import CATALOGUE, Snippet, fetch, get_dataset, read_snippets, to_polarity
from textsift.errors import TextsiftError


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def cached(raw_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The catalogue reads the shipped ground-truth slices from its cache, as after a first download."""
    monkeypatch.setenv("TEXTSIFT_CACHE", str(raw_cache))
    return raw_cache


@pytest.fixture
def fetched(cached: Path, tmp_path: Path) -> Path:
    fetch("movie-snippets", tmp_path, limit=300)
    return tmp_path


def test_fetch_writes_disjoint_stratified_splits(fetched: Path) -> None:
    splits = {name: read_rows(fetched / f"{name}.csv") for name in ("train", "validation", "test")}
    assert [len(rows) for rows in splits.values()] == [240, 30, 30]
    texts = [{r["text"] for r in rows} for rows in splits.values()]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    for rows in splits.values():
        positive = sum(r["label"] == "positive" for r in rows) / len(rows)
        assert 0.4 < positive < 0.6  # the source is ~50/50 and the split is stratified


def test_rows_keep_valence_and_its_sign_is_the_label(fetched: Path) -> None:
    for row in read_rows(fetched / "train.csv"):
        assert (float(row["valence"]) > 0) == (row["label"] == "positive")


def test_fetch_is_reproducible_for_a_seed(fetched: Path, tmp_path: Path) -> None:
    fetch("movie-snippets", tmp_path / "again", limit=300)
    assert (tmp_path / "again" / "test.csv").read_text() == (fetched / "test.csv").read_text()


def test_amazon_snippets_fetch(cached: Path, tmp_path: Path) -> None:
    paths = fetch("amazon-snippets", tmp_path, limit=100)
    assert sum(len(read_rows(p)) for p in paths.values()) == 100


def test_news_snippets_fetch(cached: Path, tmp_path: Path) -> None:
    rows = [row for path in fetch("news-snippets", tmp_path).values() for row in read_rows(path)]
    assert len(rows) == 189  # the 200 shipped lines less 11 with zero valence
    # Its ids are editorial_sentence, and its lines end in CRLF: neither may leak into the rows.
    assert all(re.fullmatch(r"\d+_\d+", r["source_id"]) and r["text"] == r["text"].strip() for r in rows)


def test_ground_truth_is_extracted_by_base_name_only(tmp_path: Path) -> None:
    # An sdist laid out like vaderSentiment's, whose inner archive also holds a member that climbs out of it.
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for name, text in [("hutto/movieReviewSnippets_GroundTruth.txt", b"1\t2.0\tgood\n"),
                           ("../../escape_GroundTruth.txt", b"1\t-1.0\tbad\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    sdist = tmp_path / "vaderSentiment-3.3.2.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        info.size = len(inner.getvalue())
        tar.addfile(info, io.BytesIO(inner.getvalue()))
    catalogue.extract_ground_truth(sdist, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["escape_GroundTruth.txt",
                                                                    "movieReviewSnippets_GroundTruth.txt"]
    assert not (tmp_path.parent / "escape_GroundTruth.txt").exists()


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


def test_each_split_is_shuffled_not_in_source_order(fetched: Path) -> None:
    rows = read_rows(fetched / "train.csv")[:40]
    positive = sum(r["label"] == "positive" for r in rows) / len(rows)
    assert 0.25 < positive < 0.75  # the source lists all positive snippets first
    ids = [int(r["source_id"]) for r in read_rows(fetched / "train.csv")]
    assert ids != sorted(ids)
