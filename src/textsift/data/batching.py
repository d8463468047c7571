"""Dynamic padding and length-bucketed batches: most of the speed on CPU comes from not multiplying padding.

Pure Python and numpy, so the ONNX path pads without torch; the torch backend wraps `pad` in tensors.
"""

from __future__ import annotations

import random

import numpy as np


def bucketed_batches(lengths: list[int], batch_size: int, bucket_size: int, seed: int) -> list[list[int]]:
    """Shuffled batches whose members have similar lengths.

    Indices are shuffled, cut into chunks of `bucket_size` batches, sorted by length inside each chunk, and the
    resulting batches shuffled again, so training order stays random while padding stays small.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * max(bucket_size, 1)
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lengths.__getitem__)
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Batches over indices sorted by length, for inference; callers put results back in input order."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad(sequences: list[list[int]], pad_id: int, sep_id: int | None = None) -> dict[str, np.ndarray]:
    """Pad token id lists to the longest in the batch: int64 `input_ids` and `attention_mask` arrays, and
    `token_type_ids` when `sep_id` is given (pairs: 0 up to and including the first separator, 1 after it).

    Segment ids follow from the ids because a pair encodes as [CLS] a [SEP] b [SEP]: so one list of ids per row
    carries a pair through bucketing, caching and padding unchanged, on the torch and ONNX paths alike.
    """
    width = max(len(s) for s in sequences)
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = seq
        attention_mask[row, : len(seq)] = 1
    out = {"input_ids": input_ids, "attention_mask": attention_mask}
    if sep_id is not None:
        first_sep = np.argmax(input_ids == sep_id, axis=1)  # every pair row has one
        out["token_type_ids"] = ((np.arange(width)[None, :] > first_sep[:, None]) & (attention_mask == 1)).astype(
            np.int64)
    return out
