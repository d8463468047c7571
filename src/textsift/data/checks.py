"""Checks across rows and files: enough classes to train, duplicates and train/test leakage, the validation split."""

from __future__ import annotations

import logging
from collections import Counter

from textsift.config import LoopConfig
from textsift.data.io import Table, read_table
from textsift.errors import DataError

log = logging.getLogger("textsift")


def read_training_data(cfg: LoopConfig) -> tuple[Table, Table]:
    """The checked training table and its validation table: the validation file, or a stratified, seeded share
    of the training file when there is none."""
    train_table = read_table(cfg.train_file, cfg.data)
    check_training_table(train_table)
    if cfg.validation_file is not None:
        val_table = read_table(cfg.validation_file, cfg.data)
        warn_duplicates(train_table, val_table)
        return train_table, val_table
    from sklearn.model_selection import train_test_split

    idx = list(range(len(train_table)))
    try:
        keep, held = train_test_split(
            idx, test_size=cfg.validation_split, random_state=cfg.seed, stratify=train_table.labels
        )
    except ValueError:  # a class too small to appear on both sides, or fewer held-out rows than classes
        smallest = min(Counter(train_table.labels or []).values())
        raise DataError(
            train_table.path, None,
            f"too few rows to hold out a stratified {cfg.validation_split:.0%} validation split ({len(idx)} rows, "
            f"smallest class {smallest})", "pass --validation with a labelled file, or add rows",
        ) from None
    log.info("no validation file: holding out %d of %d training rows (stratified)", len(held), len(idx))
    return train_table.subset(sorted(keep)), train_table.subset(sorted(held))


def check_training_table(table: Table) -> None:
    """A training file must hold at least two classes; duplicates inside it are worth a warning."""
    if table.labels is None:
        raise DataError(table.path, None, "no labels", "pass a labelled file")
    counts = Counter(table.labels)
    if len(counts) < 2:
        only = next(iter(counts))
        raise DataError(table.path, None, f"only one class ({only!r}) in the labels", "a classifier needs two or more")
    warn_duplicates(table, table)


def warn_duplicates(first: Table, second: Table) -> int:
    """Warn (with lines) about texts of `second` that also appear in `first`; leakage inflates test scores."""
    seen: dict[str, int] = {}
    for text, line in zip(first.texts, first.lines, strict=True):
        seen.setdefault(text.strip().lower(), line)
    same_file = first is second
    hits = []
    for text, line in zip(second.texts, second.lines, strict=True):
        earlier = seen.get(text.strip().lower())
        if earlier is not None and not (same_file and earlier == line):
            hits.append((earlier, line))
    if hits:
        sample = ", ".join(f"{second.path}:{b} = {first.path}:{a}" for a, b in hits[:3])
        what = "duplicate texts within" if same_file else "texts also in"
        log.warning("%d %s %s (%s%s)", len(hits), what, first.path, sample, ", ..." if len(hits) > 3 else "")
    return len(hits)
