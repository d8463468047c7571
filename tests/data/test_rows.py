"""Streaming rows: every format read with its lines, bad rows stop or are collected, writers publish whole files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textsift.data.rows import RowWriter, columns_of, read_rows
from textsift.errors import DataError


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_csv_rows_come_with_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'text,label\nfirst,x\n"two\nlines",y\nthird,z\n')
    assert [(line, row["text"]) for line, row in read_rows(path, ["text"])] == [
        (2, "first"), (4, "two\nlines"), (5, "third")]


def test_a_bad_row_stops_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text,label\nok,x\ntoo,many,fields\n")
    with pytest.raises(DataError, match=r"a.csv:3: 3 fields but the header has 2"):
        list(read_rows(path, ["text"]))


def test_bad_rows_are_collected_when_skipping(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", b"text,label\nok,x\ntoo,many,fields\n\xff\xfe,y\nlast,z\n")
    skipped: list[DataError] = []
    rows = [line for line, _ in read_rows(path, ["text"], skipped)]
    assert rows == [2, 5]
    assert [(e.line, "fields" in str(e) or "UTF-8" in str(e)) for e in skipped] == [(3, True), (4, True)]


def test_jsonl_skips_invalid_lines_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n{oops\n{"text": "c"}\n')
    skipped: list[DataError] = []
    assert [row["text"] for _, row in read_rows(path, ["text"], skipped)] == ["a", "c"]
    assert skipped[0].line == 2


def test_a_missing_column_always_stops(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "body,label\na,x\n")
    with pytest.raises(DataError, match="no column 'text'"):
        list(read_rows(path, ["text"], skipped=[]))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_written_rows_read_back_the_same(tmp_path: Path, suffix: str) -> None:
    rows = [{"text": "a, with comma", "label": "x"}, {"text": 'quote " here', "label": "y"}]
    out = tmp_path / f"out{suffix}"
    with RowWriter(out, ["text", "label"]) as writer:
        for row in rows:
            writer.write(row)
    assert [row for _, row in read_rows(out, ["text", "label"])] == rows
    assert columns_of(out) == ["text", "label"]


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), RowWriter(out, ["text"]) as writer:
        writer.write({"text": "a"})
        raise RuntimeError("stopped")
    assert list(tmp_path.iterdir()) == []


def test_parquet_is_read_a_row_group_at_a_time(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": [f"t{i}" for i in range(50)]}), path, row_group_size=10)
    lines = [line for line, _ in read_rows(path, ["text"])]
    assert lines == list(range(1, 51))
    assert json.dumps(columns_of(path)) == '["text"]'
