"""`data clean`: texts cleaned and masked, duplicates and other languages dropped, every change counted, streamed."""

from __future__ import annotations

import csv
import json
import tracemalloc
from pathlib import Path

import pytest

from tests.helpers import run_cli
from textsift.config import CleanConfig
from textsift.data.clean import clean_file
from textsift.data.config import DataCleanConfig
from textsift.errors import DataError

SNIPPETS = Path(__file__).parent / "movie-snippets-300" / "train.csv"


def snippets(n: int) -> list[str]:
    with SNIPPETS.open(newline="") as f:
        return [row["text"] for row in csv.DictReader(f)][:n]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def run(tmp_path: Path, rows: list[dict[str, str]], **settings: object) -> tuple[list[dict[str, str]], dict]:
    clean = settings.pop("clean", CleanConfig())
    cfg = DataCleanConfig(input=write_csv(tmp_path / "raw.csv", rows), out=tmp_path / "clean.csv",
                          report=tmp_path / "report.json", clean=clean, **settings)  # type: ignore[arg-type]
    clean_file(cfg)
    return read_csv(tmp_path / "clean.csv"), json.loads((tmp_path / "report.json").read_text())


def test_personal_data_is_masked_and_other_columns_kept(tmp_path: Path) -> None:
    rows = [{"text": "Write to jane.doe@example.com or call +1 415 555 0100.", "label": "contact", "id": "7"}]
    out, report = run(tmp_path, rows, clean=CleanConfig(mask_pii=True))
    assert out == [{"text": "Write to <EMAIL> or call <PHONE>.", "label": "contact", "id": "7"}]
    assert report["changes"] == {"pii:email": 1, "pii:phone": 1}
    assert report["rows_changed"] == 1


def test_pseudonyms_are_consistent_across_the_file(tmp_path: Path) -> None:
    rows = [{"text": "from ann@example.com"}, {"text": "from bob@example.org"}, {"text": "again ANN@example.com"}]
    out, _ = run(tmp_path, rows, clean=CleanConfig(mask_pii=True, pseudonymise=True))
    assert [r["text"] for r in out] == ["from <EMAIL_1>", "from <EMAIL_2>", "again <EMAIL_1>"]


def test_exact_duplicates_are_dropped_with_the_line_they_repeat(tmp_path: Path) -> None:
    a, b = snippets(2)
    rows = [{"text": a}, {"text": b}, {"text": a.upper() + "  "}, {"text": a}]
    out, report = run(tmp_path, rows, dedupe="exact")
    assert [r["text"] for r in out] == [a, b]
    assert report["dropped"]["exact"] == [[4, 2], [5, 2]]
    assert report["rows_read"] == 4 and report["rows_written"] == 2


def test_near_duplicates_are_dropped(tmp_path: Path) -> None:
    texts = [t for t in snippets(60) if len(t.split()) >= 15][:20]
    words = texts[0].split()
    edited = " ".join(words[:5] + ["remarkably"] + words[6:])
    rows = [{"text": t} for t in texts] + [{"text": edited}]
    out, report = run(tmp_path, rows, dedupe="near")
    assert len(out) == len(texts)
    assert report["dropped"]["near"] == [[len(texts) + 2, 2]]


def test_rows_in_another_language_are_dropped_and_listed(tmp_path: Path) -> None:
    rows = [{"text": "The plot is thin but the acting is wonderful."},
            {"text": "Die Handlung ist dünn, aber die Schauspieler sind wunderbar."}]
    out, report = run(tmp_path, rows, lang="en")
    assert len(out) == 1
    assert report["dropped"]["language"] == [[3, "de"]]


def test_a_text_that_was_only_markup_is_dropped_as_empty(tmp_path: Path) -> None:
    rows = [{"text": "<p></p><br/>"}, {"text": "<p>kept</p>"}]
    out, report = run(tmp_path, rows, clean=CleanConfig(markup=True))
    assert [r["text"] for r in out] == ["kept"]
    assert report["dropped"]["empty"] == [2]
    assert report["changes"]["markup"] == 2


def test_a_bad_row_stops_the_run_with_its_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text("text,label\nfine,x\n,y\n")
    with pytest.raises(DataError, match=r"raw.csv:3: empty text in column 'text'"):
        clean_file(DataCleanConfig(input=raw, out=tmp_path / "clean.csv"))
    assert not (tmp_path / "clean.csv").exists()


def test_skipped_rows_are_listed_in_the_report(tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text("text,label\nfine,x\n,y\ntoo,many,fields\nlast,z\n")
    report = clean_file(DataCleanConfig(input=raw, out=tmp_path / "clean.csv", on_error="skip"))
    assert [r["text"] for r in read_csv(tmp_path / "clean.csv")] == ["fine", "last"]
    assert [s["line"] for s in report.skipped] == [3, 4]


def test_memory_stays_flat_in_the_number_of_rows(tmp_path: Path) -> None:
    texts = snippets(200)

    def peak(n: int) -> int:
        raw = write_csv(tmp_path / f"raw{n}.csv", [{"text": f"{texts[i % 200]} mail{i}@example.com"}
                                                    for i in range(n)])
        tracemalloc.start()
        clean_file(DataCleanConfig(input=raw, out=tmp_path / f"clean{n}.csv", clean=CleanConfig(mask_pii=True)))
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    small, large = peak(5_000), peak(40_000)
    assert large < 1.5 * small, (small, large)


def test_the_cli_prints_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    raw = write_csv(tmp_path / "raw.csv", [{"text": "mail me: a@b.example"}, {"text": "mail me: a@b.example"}])
    code = run_cli(monkeypatch, "data", "clean", str(raw), "--out", str(tmp_path / "c.csv"), "--mask-pii",
                   "--dedupe", "exact")
    assert code == 0
    assert "2 rows read, 1 written" in capsys.readouterr().out
