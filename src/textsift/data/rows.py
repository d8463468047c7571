"""Rows of CSV, TSV, JSONL and Parquet files, streamed: read one at a time with the line each came from, written
one at a time in the input's format. Memory stays flat in the file's size (Parquet: one row group at a time).

A row that cannot be read is a DataError with its file and line. Readers given a `skipped` list put it there and
go on instead, for `--on-error skip`; a problem with the whole file (no header, a missing column) always stops.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from textsift import files
from textsift.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
# csv's default 128 KiB field limit would reject long documents as "malformed"; this bounds one field instead.
FIELD_LIMIT = 64 * 1024 * 1024
PARQUET_BATCH = 8192  # rows decoded at a time from a Parquet file


def file_format(path: Path) -> str:
    """csv, tsv, jsonl or parquet, by the file's suffix; the file must exist."""
    if not path.is_file():
        raise DataError(path, None, "file not found", "check the path")
    return output_format(path)


def output_format(path: Path) -> str:
    """csv, tsv, jsonl or parquet, by the suffix of a file that may not exist yet (one to write)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(path, None, f"unknown file type {path.suffix!r}", f"use one of {', '.join(sorted(FORMATS))}")
    return fmt


def read_rows(path: Path, wanted: list[str], skipped: list[DataError] | None = None
              ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) for every row of the file, in order; `wanted` columns must exist. A JSONL or Parquet row's
    line is its line (row) number, a CSV row's the line it ends on."""
    fmt = file_format(path)
    if fmt == "jsonl":
        yield from _jsonl_rows(path, wanted, skipped)
    elif fmt == "parquet":
        yield from _parquet_rows(path, wanted)
    else:
        yield from _delimited_rows(path, "\t" if fmt == "tsv" else ",", wanted, skipped)


def _problem(error: DataError, skipped: list[DataError] | None) -> None:
    if skipped is None:
        raise error
    skipped.append(error)


def _text_lines(path: Path, skipped: list[DataError] | None) -> Iterator[str]:
    """The file's lines decoded one by one, so a byte that is not UTF-8 is reported on its own line."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                _problem(DataError(path, n, "not UTF-8 text", "re-save the file as UTF-8"), skipped)
                yield "\n"  # a blank line in its place keeps the line numbers of the rows after it


def _delimited_rows(path: Path, delimiter: str, wanted: list[str], skipped: list[DataError] | None
                    ) -> Iterator[tuple[int, dict[str, Any]]]:
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    reader = csv.reader(_text_lines(path, skipped), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, None, "empty file", "write a header line and one row per example") from None
    check_columns(path, header, wanted)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            _problem(_csv_error(path, reader.line_num, e), skipped)
            continue
        if not record or record == [""]:
            continue
        if len(record) != len(header):
            _problem(DataError(path, reader.line_num, f"{len(record)} fields but the header has {len(header)}",
                               "quote texts that contain the delimiter"), skipped)
            continue
        yield reader.line_num, dict(zip(header, record, strict=True))


def _csv_error(path: Path, line: int, e: csv.Error) -> DataError:
    if "field larger than field limit" in str(e):
        return DataError(path, line, f"a field over {FIELD_LIMIT // 2**20} MiB",
                         "split the text or check for an unclosed quote")
    return DataError(path, line, f"malformed row ({e})", "fix the quoting")


def _jsonl_rows(path: Path, wanted: list[str], skipped: list[DataError] | None
                ) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, line in enumerate(_text_lines(path, skipped), start=1):
        if line.strip():
            try:
                yield n, _json_row(path, n, line, wanted)
            except DataError as e:
                _problem(e, skipped)


def json_object(line: str, where: Path | str, n: int, shape: str = "one JSON object per line") -> dict[str, Any]:
    """One JSONL line as an object, or a DataError naming `where`:`n` and the `shape` to write instead."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(where, n, f"not valid JSON ({e.msg})", f"write {shape}") from None
    if not isinstance(row, dict):
        raise DataError(where, n, "not a JSON object", f"write {shape}")
    return row


def _json_row(path: Path, n: int, line: str, wanted: list[str]) -> dict[str, Any]:
    row = json_object(line, path, n)
    missing = [c for c in wanted if c not in row]
    if missing:
        raise DataError(path, n, f"no key {missing[0]!r} (keys: {', '.join(row)})", column_hint(missing[0]))
    return row


def _parquet_file(path: Path) -> Any:
    from textsift._optional import require

    pq = require("pyarrow.parquet", extra="parquet")
    try:
        return pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a damaged file; one line says it
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(path, None, f"not a readable Parquet file ({first[:160]})", "write it again") from None


def _parquet_rows(path: Path, wanted: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    parquet = _parquet_file(path)
    check_columns(path, parquet.schema_arrow.names, wanted)
    n = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
        for row in batch.to_pylist():
            n += 1
            yield n, row


def columns_of(path: Path) -> list[str]:
    """The file's columns: the CSV/TSV header, the Parquet schema, or the first JSONL object's keys (a JSONL row
    is written back with its own keys)."""
    fmt = file_format(path)
    if fmt == "parquet":
        return list(_parquet_file(path).schema_arrow.names)
    if fmt == "jsonl":
        return next((list(row) for _, row in _jsonl_rows(path, [], skipped=[])), [])
    reader = csv.reader(_text_lines(path, skipped=[]), delimiter="\t" if fmt == "tsv" else ",")
    return next(reader, [])


def check_columns(path: Path, header: list[str], wanted: list[str]) -> None:
    for column in wanted:
        if column not in header:
            raise DataError(path, 1, f"no column {column!r} (columns: {', '.join(header)})", column_hint(column))


def column_hint(column: str) -> str:
    flag = "--label-column" if column == "label" else "--text-column"
    return f"rename the column or pass {flag} (or the other column flag) with the right name"


class RowWriter:
    """Rows written one at a time in the format the path's suffix names, with the given columns; the file appears
    when the `with` block ends without an error (a temporary file beside it until then), so a failed run leaves
    no half-written file. `template` is the input file whose Parquet schema an output Parquet file keeps."""

    def __init__(self, path: Path, columns: list[str], template: Path | None = None) -> None:
        fmt = output_format(path)
        files.writable_file(path)
        self.path, self.columns, self.fmt, self.template, self.rows = path, columns, fmt, template, 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> RowWriter:
        if self.fmt == "parquet":
            self._parquet = self._stack.enter_context(_ParquetRows(self.path, self.template))
        else:
            self._file = self._stack.enter_context(files.replacing(self.path, newline=""))
            if self.fmt != "jsonl":
                self._csv = csv.DictWriter(self._file, self.columns, delimiter="\t" if self.fmt == "tsv" else ",")
                self._csv.writeheader()
        return self

    def write(self, row: dict[str, Any]) -> None:
        self.rows += 1
        if self.fmt == "parquet":
            self._parquet.write(row)
        elif self.fmt == "jsonl":
            self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            self._csv.writerow({c: row.get(c) for c in self.columns})

    def __exit__(self, kind: Any, error: BaseException | None, trace: Any) -> None:
        self._stack.__exit__(kind, error, trace)


class _ParquetRows:
    """Parquet rows buffered into row groups, with the template file's schema when there is one; published on a
    clean exit, removed otherwise."""

    def __init__(self, path: Path, template: Path | None) -> None:
        from textsift._optional import require

        self.pa, self.pq = require("pyarrow", extra="parquet"), require("pyarrow.parquet", extra="parquet")
        self.schema = _parquet_file(template).schema_arrow if template is not None else None
        self.path, self.buffer, self.writer = path, [], None  # type: Path, list[dict[str, Any]], Any
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        self.tmp = Path(tmp)

    def __enter__(self) -> _ParquetRows:
        return self

    def write(self, row: dict[str, Any]) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= PARQUET_BATCH:
            self._flush()

    def _flush(self) -> None:
        table = self.pa.Table.from_pylist(self.buffer, schema=self.schema)
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(self.tmp, table.schema)
        self.writer.write_table(table)
        self.buffer = []

    def __exit__(self, kind: Any, error: BaseException | None, trace: Any) -> None:
        try:
            if error is None and (self.buffer or self.writer is None):
                self._flush()  # the last row group, or an empty file that still has the columns
            if self.writer is not None:
                self.writer.close()
            if error is None:
                files.publish(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)  # gone already when published
