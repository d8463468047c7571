"""`textsift data clean`: a file's texts normalised and masked, duplicates and other languages dropped, streamed.

Rows are read, cleaned and written a batch at a time, so memory is flat in the file's size except for what
deduplication must remember of the rows kept: a 16-byte key each (exact), plus a MinHash signature (near). Every
change is counted by type and every dropped or skipped row is listed by line in the report; nothing goes silently.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from textsift import files
from textsift.data.cleaning import TextCleaner
from textsift.data.config import DataCleanConfig
from textsift.data.rows import RowWriter, columns_of, read_rows
from textsift.errors import DataError

BATCH = 1000  # rows cleaned together: MinHash signatures are computed a batch at a time


@dataclass
class CleanReport:
    """What `data clean` did: rows in and out, changes by type, and the line of every row it dropped or skipped.

    `changes` counts texts changed by each normalisation step and values masked of each PII type (`pii:email`);
    `rows_changed` counts rows whose text changed at all. `dropped` lists lines by reason: `exact` and `near`
    as [line, line of the earlier row it repeats], `language` as [line, detected language], `empty` as lines
    whose text was nothing but markup or whitespace.
    """

    input: str
    output: str
    rows_read: int = 0
    rows_written: int = 0
    rows_changed: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, list[Any]] = field(default_factory=lambda: {"exact": [], "near": [], "language": [],
                                                                    "empty": []})
    skipped: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the terminal."""
        dropped = ", ".join(f"{len(v)} {k}" for k, v in self.dropped.items() if v) or "none"
        changed = ", ".join(f"{k} {v}" for k, v in sorted(self.changes.items())) or "nothing"
        skipped = f"; {len(self.skipped)} unreadable rows skipped" if self.skipped else ""
        return (f"{self.rows_read} rows read, {self.rows_written} written to {self.output} in {self.seconds:.1f} s; "
                f"changed: {changed}; dropped: {dropped}{skipped}")


def clean_file(cfg: DataCleanConfig) -> CleanReport:
    """Clean `cfg.input` into `cfg.out` (and the JSON report into `cfg.report`, when given)."""
    started = time.perf_counter()
    report = CleanReport(str(cfg.input), str(cfg.out))
    text_columns = [cfg.data.text_column] + ([cfg.data.text_pair_column] if cfg.data.text_pair_column else [])
    if cfg.report is not None:
        files.writable_file(cfg.report, "--report")
    step = _Cleaning(cfg, report)
    errors: list[DataError] | None = [] if cfg.on_error == "skip" else None
    rows = read_rows(cfg.input, text_columns, errors)
    template = cfg.input if cfg.input.suffix.lower() == ".parquet" else None
    with RowWriter(cfg.out, columns_of(cfg.input), template) as writer, \
            tqdm(desc="clean", unit="row", disable=None) as bar:
        for batch in _batches(rows, BATCH):
            for row in step.kept(batch, text_columns, errors):
                writer.write(row)
            bar.update(len(batch))
    report.rows_written = writer.rows
    # Unreadable rows are found while a batch is read, empty texts while it is cleaned: list both in file order.
    report.skipped = [{"line": e.line, "problem": str(e)} for e in sorted(errors or [], key=lambda e: e.line or 0)]
    report.changes = dict(sorted(step.changes.items()))
    report.seconds = round(time.perf_counter() - started, 2)
    if cfg.report is not None:
        write_report(report, cfg.report)
    return report


def _batches(rows: Iterator[tuple[int, dict[str, Any]]], size: int) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    while batch := list(islice(rows, size)):
        yield batch


class _Cleaning:
    """The per-row work of one run and what it must remember across batches (dedupe keys, pseudonyms)."""

    def __init__(self, cfg: DataCleanConfig, report: CleanReport) -> None:
        self.cfg, self.report, self.changes = cfg, report, Counter[str]()
        self.cleaner = TextCleaner(cfg.clean, file_scope=True)
        self.seen: dict[bytes, int] = {}  # exact key -> line of the first row with it
        self.near = None
        if cfg.dedupe == "near":
            from textsift.data.dedupe import NearDuplicates

            self.near = NearDuplicates(cfg.threshold)

    def kept(self, batch: list[tuple[int, dict[str, Any]]], text_columns: list[str],
             errors: list[DataError] | None) -> list[dict[str, Any]]:
        """The batch's rows that stay, cleaned; the others are counted and listed in the report."""
        survivors: list[tuple[int, dict[str, Any], str]] = []
        for line, row in batch:
            self.report.rows_read += 1
            cleaned = self._clean_row(line, row, text_columns, errors)
            if cleaned is not None:
                survivors.append((line, row, cleaned))
        if self.near is not None and survivors:
            earlier = self.near.check_add([line for line, _, _ in survivors], [key for _, _, key in survivors])
            for (line, _, _), match in zip(survivors, earlier, strict=True):
                if match is not None:
                    self.report.dropped["near"].append([line, match])
            survivors = [s for s, match in zip(survivors, earlier, strict=True) if match is None]
        return [row for _, row, _ in survivors]

    def _clean_row(self, line: int, row: dict[str, Any], text_columns: list[str],
                   errors: list[DataError] | None) -> str | None:
        """Clean the row's texts in place; its dedupe text, or None when it is dropped or skipped."""
        texts, changed_row = [], False
        for column in text_columns:
            value = row.get(column)
            if value is None or not str(value).strip():
                error = DataError(self.cfg.input, line, f"empty text in column {column!r}",
                                  "fill it in or remove the row")
                if errors is None:
                    raise error
                errors.append(error)
                return None
            text, changed = self.cleaner.clean(str(value))
            self.changes.update(changed)
            changed_row |= text != value
            row[column] = text
            texts.append(text)
        self.report.rows_changed += changed_row
        joined = "\n".join(texts)
        if not all(t.strip() for t in texts):
            self.report.dropped["empty"].append(line)
            return None
        if self.cfg.lang is not None and not self._in_language(line, texts[0]):
            return None
        if self.cfg.dedupe != "none" and not self._first_time(line, joined):
            return None
        return joined

    def _in_language(self, line: int, text: str) -> bool:
        from textsift.data.normalise import language

        found, _ = language(text)
        if found != self.cfg.lang:
            self.report.dropped["language"].append([line, found])
        return found == self.cfg.lang

    def _first_time(self, line: int, text: str) -> bool:
        from textsift.data.dedupe import exact_key

        key = exact_key(text)
        first = self.seen.setdefault(key, line)
        if first != line:
            self.report.dropped["exact"].append([line, first])
        return first == line


def write_report(report: CleanReport, path: Path) -> Path:
    """The report as JSON."""
    return files.write_text(path, json.dumps(asdict(report), indent=1) + "\n")
