from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from textsift.data.checks import warn_duplicates
from textsift.data.io import read_lines, read_table
from textsift.data.labels import LabelMap
from textsift.errors import DataError
from textsift.tasks.registry import get_task


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_tsv_and_jsonl_read_the_same_rows(tmp_path: Path) -> None:
    rows = [("good film", "pos"), ("bad, really bad", "neg")]
    csv = write(tmp_path / "a.csv", 'text,label\ngood film,pos\n"bad, really bad",neg\n')
    tsv = write(tmp_path / "a.tsv", "text\tlabel\ngood film\tpos\nbad, really bad\tneg\n")
    jsonl = write(tmp_path / "a.jsonl", "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows))
    for path in (csv, tsv, jsonl):
        table = read_table(path)
        assert list(zip(table.texts, table.labels, strict=True)) == rows


def test_parquet_is_read(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a", "b"], "label": [1, 0]}), tmp_path / "a.parquet")
    assert read_table(tmp_path / "a.parquet").labels == ["1", "0"]


def test_line_numbers_point_at_the_file_lines(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", 'text,label\n"two\nlines",pos\nthird,neg\n'))
    assert table.lines == [3, 4]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("review,label\nfine,pos\n", "a.csv:1: no column 'text' (columns: review, label); rename the column or pass"),
        ("text,label\nfine,pos\n  ,neg\n", "a.csv:3: empty text in column 'text'"),
        ("text,label\nfine,pos\nok,\n", "a.csv:3: missing label in column 'label'"),
        ("text,label\nfine,pos,extra\n", "a.csv:2: 3 fields but the header has 2; quote texts"),
        ("", "a.csv: empty file"),
        ("text,label\n", "a.csv: no rows"),
    ],
)
def test_bad_csv_names_file_line_and_fix(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(DataError) as err:
        read_table(write(tmp_path / "a.csv", content))
    where, problem = message.split(": ", 1)
    assert str(err.value).startswith(str(tmp_path / where)) and problem in str(err.value)


def test_invalid_jsonl_line_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"a.jsonl:2: not valid JSON"):
        read_table(write(tmp_path / "a.jsonl", '{"text": "a", "label": "x"}\n{"text": \n'))


def test_missing_file_and_unknown_type_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unknown file type '.xlsx'"):
        read_table(write(tmp_path / "a.xlsx", "x"))


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes("text,label\ncaf\xe9,pos\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_table(tmp_path / "a.csv")


def test_one_class_is_refused(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text,label\na,pos\nb,pos\n"))
    with pytest.raises(DataError, match="only one class"):
        get_task("multi-class").check_training(table)


def test_unknown_label_names_its_line(tmp_path: Path) -> None:
    train = read_table(write(tmp_path / "train.csv", "text,label\na,pos\nb,neg\n"))
    test = read_table(write(tmp_path / "test.csv", "text,label\nc,pos\nd,meh\n"))
    with pytest.raises(DataError, match=r"test.csv:3: label 'meh' was not in the training data"):
        LabelMap.from_labels(train.labels).encode(test)


def test_duplicates_across_train_and_test_are_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train = read_table(write(tmp_path / "train.csv", "text,label\nsame text,pos\nb,neg\n"))
    test = read_table(write(tmp_path / "test.csv", "text,label\nother,pos\nSame text,pos\n"))
    with caplog.at_level(logging.WARNING, logger="textsift"):
        assert warn_duplicates(train, test) == 1
    assert "test.csv:3 = " in caplog.text and "train.csv:2" in caplog.text


def test_integer_labels_sort_numerically() -> None:
    assert LabelMap.from_labels(["10", "2", "1"]).names == ["1", "2", "10"]


def test_blank_stdin_line_is_an_error() -> None:
    assert read_lines(iter(["a\n", "b\n"])) == ["a", "b"]
    with pytest.raises(DataError, match="<stdin>:2: empty line"):
        read_lines(iter(["a\n", "\n"]))


@pytest.mark.parametrize("cell", ["NaN", "nan", "None", "null", "N/A", "  "])
def test_a_missing_value_label_is_refused_not_made_a_class(tmp_path: Path, cell: str) -> None:
    with pytest.raises(DataError, match=r"a.csv:3: missing label"):
        read_table(write(tmp_path / "a.csv", f"text,label\ngood,pos\nbad,{cell}\n"))


@pytest.mark.parametrize("value", ["NaN", "null"])
def test_a_null_or_nan_label_in_jsonl_is_refused(tmp_path: Path, value: str) -> None:
    path = write(tmp_path / "a.jsonl", f'{{"text": "good", "label": "pos"}}\n{{"text": "bad", "label": {value}}}\n')
    with pytest.raises(DataError, match=r"a.jsonl:2: missing label"):
        read_table(path)


def test_null_and_nan_labels_in_parquet_are_refused(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    for labels in (["pos", None], [1.0, float("nan")]):
        pq.write_table(pa.table({"text": ["good", "bad"], "label": labels}), tmp_path / "a.parquet")
        with pytest.raises(DataError, match=r"a.parquet:2: missing label"):
            read_table(tmp_path / "a.parquet")


def test_a_long_field_is_read_whole(tmp_path: Path) -> None:
    text = "word " * 40_000  # 200 KB, over csv's default 128 KiB field limit
    table = read_table(write(tmp_path / "a.csv", f'text,label\n"{text}",pos\n'))
    assert table.texts == [text]


def test_a_non_utf8_byte_is_reported_on_its_line(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n\xff\n')
    with pytest.raises(DataError, match=r"a.jsonl:3: not UTF-8 text"):
        read_table(tmp_path / "a.jsonl")


def test_a_too_small_file_without_validation_asks_for_one(tmp_path: Path) -> None:
    from textsift.config import LoopConfig
    from textsift.data.checks import read_training_data

    write(tmp_path / "t.csv", "text,label\ngood,pos\nfine,pos\nbad,neg\n")
    with pytest.raises(DataError, match=r"t.csv: too few rows to hold out a stratified 10% validation split "
                                        r"\(3 rows, smallest class 1\); pass --validation"):
        read_training_data(LoopConfig(train_file=tmp_path / "t.csv", out=tmp_path / "m"), get_task("multi-class"))
