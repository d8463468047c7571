"""Checks across rows and files: a table the task can learn from, duplicates and train/test leakage, the split."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from textsift.config import LoopConfig
from textsift.data.io import Item, Table, read_table
from textsift.data.shots import sample_shots
from textsift.errors import DataError

if TYPE_CHECKING:
    from textsift.tasks.base import Task

log = logging.getLogger("textsift")


def read_training_data(cfg: LoopConfig, task: Task, *, alone: bool = True, shots: int | None = None,
                       hold_out: bool = True) -> tuple[Table, Table]:
    """The checked training table and its validation table: the validation file, or a seeded share of the
    training file when there is none (stratified by class for single-label tasks). `alone=False` is for an
    update's new data, which trains beside the model's kept rows and known labels: one class is enough there.
    `shots` keeps that many rows per class of the training file (before any split); `hold_out=False` validates
    on the training rows themselves when there is no validation file (fewshot: with 8 examples a class, each one
    is worth more in training than in a split too small to measure anything)."""
    train_table = read_table(cfg.train_file, cfg.data)
    if shots is not None:
        train_table = sample_shots(train_table, task.class_sets(train_table), shots, cfg.seed)
    if alone:
        task.check_training(train_table)
    warn_duplicates(train_table, train_table)
    if cfg.validation_file is not None:
        val_table = read_table(cfg.validation_file, cfg.data)
        warn_duplicates(train_table, val_table)
        return train_table, val_table
    if not hold_out:
        log.info("no validation file: validating on the %d training rows", len(train_table))
        return train_table, train_table
    from sklearn.model_selection import train_test_split

    idx, strata = list(range(len(train_table))), task.stratify(train_table)
    try:
        keep, held = train_test_split(idx, test_size=cfg.validation_split, random_state=cfg.seed, stratify=strata)
    except ValueError:  # a class too small to appear on both sides, or fewer held-out rows than classes
        smallest = f", smallest class {min(Counter(strata).values())}" if strata else ""
        raise DataError(
            train_table.path, None,
            f"too few rows to hold out a{' stratified' if strata else ''} {cfg.validation_split:.0%} validation split "
            f"({len(idx)} rows{smallest})",
            "pass --validation with a labelled file, or add rows",
        ) from None
    how = " (stratified)" if strata else ""
    log.info("no validation file: holding out %d of %d training rows%s", len(held), len(idx), how)
    return train_table.subset(sorted(keep)), train_table.subset(sorted(held))


def _key(item: Item) -> str:
    return item.strip().lower() if isinstance(item, str) else "\x1f".join(part.strip().lower() for part in item)


def warn_duplicates(first: Table, second: Table) -> int:
    """Warn (with lines) about texts of `second` that also appear in `first`; leakage inflates test scores.

    Across two tables near-duplicates count too (textsift.data.leaks), when the clean extra is installed.
    """
    same_file = first is second
    if not same_file:
        from textsift.data.leaks import warn_leaks
        from textsift.errors import MissingExtraError

        try:
            return warn_leaks(first, second)
        except MissingExtraError as e:
            log.info("looking for exact repeats only, not near-duplicates (%s)", e)
    seen: dict[str, int] = {}
    for item, line in zip(first.inputs, first.lines, strict=True):
        seen.setdefault(_key(item), line)
    hits = []
    for item, line in zip(second.inputs, second.lines, strict=True):
        earlier = seen.get(_key(item))
        if earlier is not None and not (same_file and earlier == line):
            hits.append((earlier, line))
    if hits:
        sample = ", ".join(f"{second.path}:{b} = {first.path}:{a}" for a, b in hits[:3])
        what = "duplicate texts within" if same_file else "texts also in"
        log.warning("%d %s %s (%s%s)", len(hits), what, first.path, sample, ", ..." if len(hits) > 3 else "")
    return len(hits)
