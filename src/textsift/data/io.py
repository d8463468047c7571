"""Read labelled tables (CSV, TSV, JSONL, Parquet) and check every row.

Every problem is reported with the file and line it comes from; nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from textsift.config import DataConfig
from textsift.data.rows import read_rows
from textsift.errors import DataError

# How spreadsheets, pandas and JSON exports spell a missing cell; a label spelled so is missing, never a class.
MISSING_LABELS = {"", "nan", "none", "null", "na", "n/a", "<na>", "#n/a"}


# A label cell: one string, or the labels of a multi-label row (split at --label-sep, or a JSON/Parquet list).
Label: TypeAlias = str | tuple[str, ...]
# What a model reads per row: one text, or a pair of texts (pair tasks).
Item: TypeAlias = str | tuple[str, str]


@dataclass
class Table:
    """Texts (the second texts of pairs, and labels, when the file has them) with the line each came from.

    `label_column` and `label_sep` say how the labels were read, for messages and the tasks' checks.
    """

    path: Path
    texts: list[str]
    labels: list[Label] | None
    lines: list[int]
    pairs: list[str] | None = None
    label_column: str = "label"
    label_sep: str | None = None

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def inputs(self) -> list[Item]:
        """What the model reads: the texts, or (text, pair) tuples."""
        if self.pairs is None:
            return list(self.texts)
        return list(zip(self.texts, self.pairs, strict=True))

    def subset(self, idx: list[int]) -> Table:
        labels = [self.labels[i] for i in idx] if self.labels is not None else None
        pairs = [self.pairs[i] for i in idx] if self.pairs is not None else None
        return Table(self.path, [self.texts[i] for i in idx], labels, [self.lines[i] for i in idx], pairs,
                     self.label_column, self.label_sep)

    def fingerprint(self, label_counts: dict[str, int] | None = None) -> Fingerprint:
        """What a model folder records about the data it was trained on: the file's hash, rows and label counts
        (as the task counts them; plain string labels by default)."""
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        if label_counts is None:
            label_counts = dict(sorted(Counter(x for x in self.labels or [] if isinstance(x, str)).items()))
        return Fingerprint(str(self.path), digest, len(self), label_counts)


@dataclass
class Fingerprint:
    """A data file as a model folder records it. `rows` and `label_counts` describe the rows used, which for a
    held-out validation split are a subset of the file."""

    file: str
    sha256: str
    rows: int
    label_counts: dict[str, int]


def read_table(path: Path | str, cfg: DataConfig | None = None, *, require_labels: bool = True) -> Table:
    """Read a labelled (or, with `require_labels=False`, unlabelled) table and check every row."""
    cfg = cfg or DataConfig()
    path = Path(path)
    text_columns = _text_columns(cfg)
    wanted = text_columns + ([cfg.label_column] if require_labels else [])
    columns: list[list[str]] = [[] for _ in text_columns]
    labels: list[Label] = []
    lines = []
    for line, row in read_rows(path, wanted):
        for values, text in zip(columns, row_texts(path, line, row, text_columns), strict=True):
            values.append(text)
        if require_labels:
            labels.append(_label(path, line, row.get(cfg.label_column), cfg))
        lines.append(line)
    if not lines:
        raise DataError(path, None, "no rows", "the file has a header but no data")
    return Table(path, columns[0], labels if require_labels else None, lines,
                 columns[1] if cfg.text_pair_column else None, cfg.label_column, cfg.label_sep)


def read_inputs(path: Path | str, cfg: DataConfig | None = None) -> Iterator[Item]:
    """What a model reads from an unlabelled table, one row at a time (memory stays flat in the file's size): the
    text, or the (text, pair) tuple, each row checked as `read_table` checks it."""
    cfg = cfg or DataConfig()
    path = Path(path)
    text_columns = _text_columns(cfg)
    empty = True
    for line, row in read_rows(path, text_columns):
        texts = row_texts(path, line, row, text_columns)
        yield texts[0] if len(texts) == 1 else (texts[0], texts[1])
        empty = False
    if empty:
        raise DataError(path, None, "no rows", "the file has a header but no data")


def _text_columns(cfg: DataConfig) -> list[str]:
    return [cfg.text_column] + ([cfg.text_pair_column] if cfg.text_pair_column else [])


def row_texts(path: Path, line: int, row: dict[str, Any], columns: list[str]) -> list[str]:
    """The row's texts in `columns`, or a DataError at `path`:`line` naming the first empty one."""
    texts = []
    for column in columns:
        text = _cell(row.get(column))
        if text is None:
            raise DataError(path, line, f"empty text in column {column!r}", "fill it in or remove the row")
        texts.append(text)
    return texts


def _label(path: Path, line: int, raw: Any, cfg: DataConfig) -> Label:
    """One label cell: a string, or a tuple of labels (a list cell, or a string split at `label_sep`)."""
    if isinstance(raw, list | tuple) or hasattr(raw, "tolist"):  # JSON list, Parquet list (maybe numpy)
        items = raw.tolist() if hasattr(raw, "tolist") else raw
        return tuple(_one_label(path, line, item, cfg.label_column) for item in items)
    label = _one_label(path, line, raw, cfg.label_column)
    if cfg.label_sep is not None and cfg.label_sep in label:
        parts = [part.strip() for part in label.split(cfg.label_sep)]
        if not all(parts):
            raise DataError(path, line, f"an empty label between separators in {label!r}",
                            f"remove the extra {cfg.label_sep!r}")
        return tuple(parts)
    return label


def _one_label(path: Path, line: int, raw: Any, column: str) -> str:
    label = _cell(raw)
    if label is None or label.strip().lower() in MISSING_LABELS or isinstance(raw, list | dict):
        shown = f" ({raw!r})" if label is not None or isinstance(raw, float) else ""
        raise DataError(path, line, f"missing label{shown} in column {column!r}", "label it or remove the row")
    return label.strip()


def _cell(value: Any) -> str | None:
    """A cell as text, or None when it holds nothing (absent, null, a float NaN, or only whitespace)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return text if text.strip() else None


def read_lines(stream: Iterator[str]) -> list[str]:
    """Texts from plain lines (stdin); blank lines are an error so outputs stay aligned with inputs."""
    return list(iter_lines(stream))


def iter_lines(stream: Iterator[str]) -> Iterator[str]:
    """`read_lines` one line at a time, for streams longer than memory."""
    for n, line in enumerate(stream, start=1):
        text = line.rstrip("\r\n")
        if not text.strip():
            raise DataError("<stdin>", n, "empty line", "give one text per line")
        yield text
