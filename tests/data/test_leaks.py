"""`data leaks` and the warnings of train and evaluate: rows of one file that repeat another's, with line pairs."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest

from tests.helpers import run_cli
from textsift.data.checks import warn_duplicates
from textsift.data.config import LeaksConfig
from textsift.data.io import read_table
from textsift.data.leaks import file_leaks

SNIPPETS = Path(__file__).parent / "movie-snippets-300"


def texts(split: str) -> list[str]:
    with (SNIPPETS / f"{split}.csv").open(newline="") as f:
        return [row["text"] for row in csv.DictReader(f) if len(row["text"].split()) >= 12]


def write_csv(path: Path, rows: list[str]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([t, "x"] for t in rows)
    return path


@pytest.fixture
def split(tmp_path: Path) -> tuple[Path, Path]:
    """A training file and a test file holding one exact copy (line 3) and one near copy (line 5) of its rows."""
    train = texts("train")[:30]
    words = train[10].split()
    near = " ".join(words[:-2] + ["truly", words[-1]])
    test = texts("test")[:4]
    test.insert(1, train[4])
    test.insert(3, near)
    return write_csv(tmp_path / "train.csv", train), write_csv(tmp_path / "test.csv", test)


def test_leaks_are_found_with_their_line_pairs(split: tuple[Path, Path]) -> None:
    report = file_leaks(LeaksConfig(first=split[0], second=split[1]))
    assert [(p["second_line"], p["first_line"], p["kind"]) for p in report.pairs] == [(3, 6, "exact"),
                                                                                    (5, 12, "near")]
    assert (report.exact, report.near, report.rows_second) == (1, 1, 6)


def test_the_cli_lists_pairs_and_fails_when_asked(split: tuple[Path, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(monkeypatch, "data", "leaks", str(split[0]), str(split[1]), "--fail",
                   "--report", str(tmp_path / "leaks.json"))
    assert code == 1
    out = capsys.readouterr().out
    assert f"{split[1]}:3\texact" in out and "1 exact and 1 near-duplicate rows" in out
    assert len(json.loads((tmp_path / "leaks.json").read_text())["pairs"]) == 2


def test_training_warns_about_near_copies_in_the_validation_file(split: tuple[Path, Path],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="textsift"):
        assert warn_duplicates(read_table(split[0]), read_table(split[1])) == 2
    assert "1 exact, 1 near-duplicates" in caplog.text and f"{split[1]}:5 ~ {split[0]}:12" in caplog.text
