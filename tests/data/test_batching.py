from __future__ import annotations

import random

import torch

from textsift.data.batching import bucketed_batches, sorted_batches
from textsift.inference.torch_backend import collate


def test_bucketed_batches_cover_every_index_once() -> None:
    lengths = [random.Random(0).randint(3, 80) for _ in range(1000)]
    batches = bucketed_batches(lengths, 32, 10, seed=1)
    assert sorted(i for b in batches for i in b) == list(range(1000))


def test_bucketing_cuts_padding_against_random_batches() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(3, 80) for _ in range(3200)]

    def padded(batches: list[list[int]]) -> int:
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    assert padded(bucketed_batches(lengths, 32, 50, seed=1)) < 0.7 * padded(bucketed_batches(lengths, 32, 1, seed=1))


def test_bucketed_batches_depend_on_the_seed_only() -> None:
    lengths = list(range(100))
    assert bucketed_batches(lengths, 8, 4, seed=3) == bucketed_batches(lengths, 8, 4, seed=3)
    assert bucketed_batches(lengths, 8, 4, seed=3) != bucketed_batches(lengths, 8, 4, seed=4)


def test_sorted_batches_group_similar_lengths() -> None:
    assert sorted_batches([5, 1, 3, 2], 2) == [[1, 3], [2, 0]]


def test_collate_pads_to_the_longest_and_masks_padding() -> None:
    batch = collate([[1, 2, 3], [4]], pad_id=0)
    assert torch.equal(batch["input_ids"], torch.tensor([[1, 2, 3], [4, 0, 0]]))
    assert torch.equal(batch["attention_mask"], torch.tensor([[1, 1, 1], [1, 0, 0]]))
