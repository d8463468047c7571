"""Typed configs of the data verbs: `data clean` (normalise, mask, dedupe a file), `data leaks` (duplicates across
two files) and `data augment` (EDA-style copies of each row).

They live beside the data code, as the monitor's live beside the monitor; the CLI derives their flags the same way
(textsift.cli._options). What is done to each text is textsift.config.CleanConfig, the one a model folder records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from textsift.config import CleanConfig, DataConfig, check_finite
from textsift.errors import TextsiftError

Dedupe = Literal["none", "exact", "near"]
OnError = Literal["stop", "skip"]


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise TextsiftError(f"threshold must be in (0, 1], not {threshold}")


@dataclass(kw_only=True)
class DataCleanConfig:
    """How `textsift data clean` rewrites a file: every text cleaned (CleanConfig), duplicates and rows in other
    languages dropped and counted; the other columns are copied as they are.

    Attributes:
        input: CSV, TSV, JSONL or Parquet file to clean.
        out: File to write, of the same format and columns as the input.
        report: JSON report of every change by type, the dropped rows' lines and the skipped lines.
        dedupe: none; exact drops a row whose text equals an earlier one's after case, spacing and punctuation are
            normalised; near also drops near-duplicates (MinHash LSH, see --threshold). The first row is kept.
        threshold: Jaccard similarity of two texts' word sets (MinHash finds the candidates, the words decide)
            from which they are near-duplicates.
        lang: Keep only rows in this language (ISO 639-1 code such as en, de), by py3langid's bundled model;
            rows in other languages are dropped and counted.
        on_error: stop at the first unreadable row with its file:line, or skip it and list its line in the report.
        data: The columns: the text column (and the pair column, when given) is cleaned.
        clean: What is done to each text; pseudonyms are numbered across the whole file here.
    """

    input: Path
    out: Path
    report: Path | None = None
    dedupe: Dedupe = "none"
    threshold: float = 0.8
    lang: str | None = None
    on_error: OnError = "stop"
    data: DataConfig = field(default_factory=DataConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)

    def __post_init__(self) -> None:
        check_finite(self)
        _check_threshold(self.threshold)
        self.input, self.out = Path(self.input), Path(self.out)
        self.report = Path(self.report) if self.report is not None else None
        if self.input.resolve() == self.out.resolve():
            raise TextsiftError(f"--out {self.out} is the input file; write the cleaned rows to another file")
        if self.lang is not None and (len(self.lang) != 2 or not self.lang.isalpha()):
            raise TextsiftError(f"lang must be a two-letter ISO 639-1 code such as en or de, not {self.lang!r}")


@dataclass(kw_only=True)
class LeaksConfig:
    """How `textsift data leaks` compares two files: rows of the second that repeat a row of the first, exactly
    or nearly (with line numbers), e.g. test rows that are near-copies of training rows.

    Attributes:
        first: The file others should not repeat (the training file).
        second: The file checked against it (validation or test).
        threshold: Jaccard similarity of two texts' word sets (MinHash finds the candidates, the words decide)
            from which they are near-duplicates.
        report: JSON file listing every pair of lines found.
        fail: Exit with code 1 when a leak is found (for CI checks of a data split).
        data: The columns: the text column (and the pair column, when given) is compared.
    """

    first: Path
    second: Path
    threshold: float = 0.8
    report: Path | None = None
    fail: bool = False
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        check_finite(self)
        _check_threshold(self.threshold)
        self.first, self.second = Path(self.first), Path(self.second)
        self.report = Path(self.report) if self.report is not None else None


@dataclass(kw_only=True)
class AugmentConfig:
    """How `textsift data augment` writes EDA-style copies of each row (Wei & Zou, 2019): synonyms from WordNet,
    words swapped, deleted or inserted; placeholders of masked data are never edited. Augment the training split
    only, after splitting: a copy of a training row in a test file is a leak.

    Attributes:
        input: Labelled CSV, TSV, JSONL or Parquet file.
        out: File to write: each row, then its augmented copies (labels and other columns copied).
        ops: all, or the comma-separated operations to draw from: synonym, swap, delete, insert.
        factor: Rows written per input row, the row itself included (2 doubles the file).
        alpha: Share of a text's words each operation changes (EDA's alpha).
        seed: Seed of every random choice; a row's copies depend only on it, the row's line and its text.
        wordnet: Folder of the WordNet 3.0 database (data.noun, ...); default: $TEXTSIFT_WORDNET, then
            /usr/share/wordnet (Debian's wordnet-base) or nltk_data/corpora/wordnet.
        on_error: stop at the first unreadable row with its file:line, or skip it and list it at the end.
        data: The columns: the text column is augmented.
    """

    input: Path
    out: Path
    ops: str = "all"
    factor: int = 2
    alpha: float = 0.1
    seed: int = 1
    wordnet: Path | None = None
    on_error: OnError = "stop"
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        check_finite(self)
        if self.factor < 2:
            raise TextsiftError(f"factor counts the row itself, so it must be at least 2, not {self.factor}")
        if not 0 < self.alpha <= 0.5:
            raise TextsiftError(f"alpha must be in (0, 0.5], not {self.alpha}")
        self.input, self.out = Path(self.input), Path(self.out)
        self.wordnet = Path(self.wordnet) if self.wordnet is not None else None
        if self.input.resolve() == self.out.resolve():
            raise TextsiftError(f"--out {self.out} is the input file; write the augmented rows to another file")
