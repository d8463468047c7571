"""`--shots N`: a seeded sample of N training examples per class, for learning curves and labelling budgets."""

from __future__ import annotations

import logging
import random
from collections import Counter

from textsift.data.io import Table
from textsift.errors import TextsiftError

log = logging.getLogger("textsift")


def sample_shots(table: Table, classes: list[frozenset[str]] | None, shots: int, seed: int) -> Table:
    """N rows per class, the same for the same seed. Rows are visited in one seeded order, the rarest class
    first; a row joins while one of its classes still has fewer than N rows. A multi-label row counts for each of
    its labels, so a label that often co-occurs may end up with more than N. A class with fewer rows keeps all."""
    if classes is None:
        raise TextsiftError("--shots samples examples per class; a regression task has no classes, drop --shots")
    order = list(range(len(table)))
    random.Random(seed).shuffle(order)
    available = Counter(label for labels in classes for label in labels)
    have: Counter[str] = Counter()
    chosen: set[int] = set()
    for label in sorted(available, key=lambda name: (available[name], name)):
        for row in order:
            if have[label] >= shots:
                break
            if label in classes[row] and row not in chosen:
                chosen.add(row)
                have.update(classes[row])
    short = {label: count for label, count in available.items() if count < shots}
    if short:
        log.warning("--shots %d: fewer rows than that for %s; keeping all of them", shots,
                    ", ".join(f"{label!r} ({count})" for label, count in sorted(short.items())))
    log.info("--shots %d: training on %d of %d rows (seed %d)", shots, len(chosen), len(table), seed)
    return table.subset(sorted(chosen))
