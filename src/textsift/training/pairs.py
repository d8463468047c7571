"""Pairs of labelled examples for contrastive training, drawn while training instead of generated up front.

Generating every pair first (SetFit's default) costs memory and time with the square of the examples. Here an
epoch is `pairs_per_example` seeded rounds over the examples, and each example draws its partner when its turn
comes: what is held is the examples' classes as two flat integer arrays, whatever the number of pairs.

Classes are sets, so multi-label rows pair by the same rule: two rows are a positive pair when they share a
label, a negative pair when they share none, and the cosine loss's target is the overlap of their label sets
(Jaccard: 1 for the same set, 1/3 for {a, b} and {b, c}, 0 for disjoint sets). Single-label rows are the case of
one label each: same class 1, other class 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

NEGATIVE_TRIES = 32  # a row with a label on almost every other row may find no negative; it draws a positive then


@dataclass(frozen=True)
class Pair:
    """Two training rows and the cosine similarity their embeddings should have."""

    a: int
    b: int
    target: float


class ClassIndex:
    """Which rows have which classes, as CSR arrays both ways (rows -> classes, classes -> rows)."""

    def __init__(self, classes: list[frozenset[str]]) -> None:
        names = {name: i for i, name in enumerate(sorted({c for row in classes for c in row}))}
        self.rows = len(classes)
        sizes = np.fromiter((len(row) for row in classes), dtype=np.int64, count=self.rows)
        self.row_offsets = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(sizes)])
        self.row_flat = np.fromiter((names[c] for row in classes for c in row), dtype=np.int32,
                                    count=int(self.row_offsets[-1]))
        order = np.argsort(self.row_flat, kind="stable")  # the rows of class 0, then of class 1, ...
        row_of_entry = np.repeat(np.arange(self.rows, dtype=np.int32), np.diff(self.row_offsets))
        self.class_rows = row_of_entry[order]
        self.class_offsets = np.searchsorted(self.row_flat[order], np.arange(len(names) + 1)).astype(np.int64)

    def classes_of(self, row: int) -> np.ndarray:
        return self.row_flat[self.row_offsets[row] : self.row_offsets[row + 1]]

    def members(self, cls: int) -> np.ndarray:
        return self.class_rows[self.class_offsets[cls] : self.class_offsets[cls + 1]]

    def overlap(self, a: int, b: int) -> float:
        """Jaccard overlap of two rows' class sets."""
        first, second = set(self.classes_of(a).tolist()), set(self.classes_of(b).tolist())
        return len(first & second) / len(first | second)

    def share_matrix(self, rows: list[int] | np.ndarray) -> np.ndarray:
        """Whether rows i and j of `rows` share a class, as an (n, n) boolean matrix."""
        hot = np.zeros((len(rows), len(self.class_offsets) - 1), dtype=np.float32)
        for i, row in enumerate(rows):
            hot[i, self.classes_of(int(row))] = 1.0
        return (hot @ hot.T) > 0


class PairStream:
    """The pairs of one contrastive epoch, in batches, from the epoch's seed; half positive, half negative.

    An epoch is `pairs_per_example` rounds, but never more pairs than there are distinct pairs of rows (N(N-1)/2):
    16 examples have 120, and drawing 320 of them would mostly repeat pairs already seen in the same epoch."""

    def __init__(self, classes: list[frozenset[str]], pairs_per_example: int) -> None:
        self.index = ClassIndex(classes)
        self.rounds = max(1, min(pairs_per_example, (self.index.rows - 1) // 2))

    def __len__(self) -> int:
        return self.index.rows * self.rounds

    def batches(self, seed: int, batch_size: int) -> Iterator[list[Pair]]:
        rng = np.random.default_rng(seed)
        batch: list[Pair] = []
        for round_ in range(self.rounds):
            for k, row in enumerate(rng.permutation(self.index.rows)):
                positive = (k + round_) % 2 == 0  # each row alternates kinds across rounds; batches mix both
                batch.append(self.draw(int(row), positive, rng))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def draw(self, row: int, positive: bool, rng: np.random.Generator) -> Pair:
        """A partner for `row`: one sharing a class (positive) or none (negative), falling back to the other
        kind when there is no such row (a class of one row has no positive partner)."""
        partner = self.positive(row, rng) if positive else self.negative(row, rng)
        if partner is None:
            partner = self.negative(row, rng) if positive else self.positive(row, rng)
        if partner is None:  # every row has the same class set; nothing to contrast, the pair teaches "same"
            partner = row
        return Pair(row, partner, self.index.overlap(row, partner))

    def positive(self, row: int, rng: np.random.Generator) -> int | None:
        own = self.index.classes_of(row)
        members = self.index.members(int(own[rng.integers(len(own))]))
        if len(members) < 2:
            return None
        partner = int(members[rng.integers(len(members) - 1)])
        return partner if partner != row else int(members[-1])  # uniform over the class's other rows

    def negative(self, row: int, rng: np.random.Generator) -> int | None:
        own = set(self.index.classes_of(row).tolist())
        for _ in range(NEGATIVE_TRIES):
            partner = int(rng.integers(self.index.rows))
            if not own.intersection(self.index.classes_of(partner).tolist()):
                return partner
        return None


def example_batches(rows: int, rounds: int, seed: int, batch_size: int) -> Iterator[list[int]]:
    """The batch-negatives loss's epoch: `rounds` seeded passes over the rows, cut into batches."""
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        order = rng.permutation(rows).tolist()
        yield from (order[i : i + batch_size] for i in range(0, rows, batch_size))
