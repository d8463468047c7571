"""MinHash signatures and the banded LSH index behind `textsift.data.dedupe.NearDuplicates`.

Word hashes (CRC-32) become datasketch's "affine32" MinHash signatures in one numpy product per batch; bands of a
signature are mixed into 32-bit keys kept in sorted numpy runs; the indexed texts' word hashes and signatures live in
block-grown columns, so that candidates can be checked against the signature, then word by word.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textsift._optional import require

# Texts per signature product: its temporary (words x num_perm x 4 bytes) stays near 10 MB.
_CHUNK = 2048
# Rows per block of a stored column (words: 16 times as many).
_BLOCK = 1 << 16
# Share of pairs at the threshold the banding must pass on to verification: 10 bands of 6 values at 0.8 and 64
# (95% at J = 0.8, 99.1% at 0.85, 15% at 0.5, 0.7% at 0.3); 12 of 5 found 0.01% more planted duplicates, but took
# twice as long on 1M rows.
_BAND_RECALL = 0.95


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, the premix datasketch applies to each input hash (uint32 arithmetic wraps)."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def band_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band): the longest bands that still pass `_BAND_RECALL` of the pairs at the threshold."""
    for rows in range(num_perm // 2, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= _BAND_RECALL:
            return bands, rows
    return num_perm, 1


def spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices start, start + 1, ..., start + count - 1 of each (start, count), concatenated."""
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())


def jaccard(first: np.ndarray, first_counts: np.ndarray, second: np.ndarray, second_counts: np.ndarray) -> np.ndarray:
    """Jaccard similarity of each pair of word sets: `first` and `second` hold each side's sets (sorted hashes)
    concatenated in pair order, the counts their sizes."""
    if not len(first_counts):
        return np.zeros(0)
    # Keys (pair << 32 | hash) are sorted on both sides, so one binary search per word finds the shared ones.
    first = np.repeat(np.arange(len(first_counts), dtype=np.uint64), first_counts) << np.uint64(32) | first
    second = np.repeat(np.arange(len(second_counts), dtype=np.uint64), second_counts) << np.uint64(32) | second
    at = np.minimum(np.searchsorted(second, first), len(second) - 1)
    shared = np.bincount((first[second[at] == first] >> np.uint64(32)).astype(np.intp), minlength=len(first_counts))
    return shared / (first_counts + second_counts - shared)


def word_sets(words: Sequence[list[bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct word hashes (CRC-32), sorted and concatenated; and how many each text has."""
    counts = np.fromiter(map(len, words), np.int64, len(words))
    hashes = np.fromiter(map(zlib.crc32, itertools.chain.from_iterable(words)), np.uint64, int(counts.sum()))
    distinct = np.unique(np.repeat(np.arange(len(words), dtype=np.uint64), counts) << np.uint64(32) | hashes)
    text = (distinct >> np.uint64(32)).astype(np.intp)
    return (distinct & np.uint64(0xFFFFFFFF)).astype(np.uint32), np.bincount(text, minlength=len(words))


@dataclass(frozen=True)
class Texts:
    """A batch of texts as the index compares them: distinct word hashes (CRC-32) of each text, sorted and
    concatenated; their MinHash signatures (the low 16 bits) and band keys."""

    hashes: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    short: np.ndarray
    bands: np.ndarray

    def words(self, rows: np.ndarray) -> np.ndarray:
        """The word hashes of each of the texts `rows`, concatenated."""
        return self.hashes[spans(self.starts[rows], self.counts[rows])]


class MinHasher:
    """datasketch's MinHash (scheme "affine32", seeded permutations) for whole batches, and the band keys of the
    signatures: each band's values mixed into one key (a chance collision only costs a comparison)."""

    def __init__(self, num_perm: int, seed: int, bands: int, rows: int) -> None:
        datasketch = require("datasketch", extra="clean")
        multipliers, offsets = datasketch.MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self._multipliers, self._offsets = np.asarray(multipliers, np.uint32), np.asarray(offsets, np.uint32)
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        rng = np.random.default_rng(seed)
        self._band_mix = rng.integers(0, 1 << 31, bands * rows, dtype=np.uint32) * np.uint32(2) + 1

    def signatures(self, hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(texts, num_perm) uint32 signatures of the word sets `hashes` (concatenated, `counts` per text)."""
        signatures = np.empty((len(counts), self.num_perm), np.uint32)
        starts = np.cumsum(counts) - counts
        for first in range(0, len(counts), _CHUNK):
            last = min(first + _CHUNK, len(counts))
            words = _fmix32(hashes[starts[first] : starts[last - 1] + counts[last - 1]])
            # One row per permutation, one column per word (a * h + b, wrapping at 2^32 as datasketch's does): the
            # minimum over a text's words then runs along memory, 3x faster than over the transpose.
            permuted = self._multipliers[:, None] * words + self._offsets[:, None]
            signatures[first:last] = np.minimum.reduceat(permuted, starts[first:last] - starts[first], axis=1).T
        return signatures

    def texts(self, hashes: np.ndarray, counts: np.ndarray) -> Texts:
        """The batch of word sets `hashes` (`counts` per text) with its signatures and band keys."""
        signatures = self.signatures(hashes, counts)
        mixed = (signatures[:, : self.bands * self.rows] * self._band_mix).reshape(len(counts), self.bands, self.rows)
        bands = mixed.sum(axis=2, dtype=np.uint32)
        return Texts(hashes, np.cumsum(counts) - counts, counts, signatures.astype(np.uint16), bands)


class _Column:
    """A growing array of values (or rows of them), in blocks so that growing never copies what it holds."""

    def __init__(self, dtype: type, width: int = 0, block_factor: int = 1) -> None:
        self._dtype, self._shape, self._block, self._count = dtype, (width,) if width else (), _BLOCK * block_factor, 0
        self._blocks: list[np.ndarray] = []

    def __len__(self) -> int:
        return self._count

    def extend(self, values: np.ndarray) -> None:
        done = 0
        while done < len(values):
            at = self._count % self._block
            if at == 0:
                self._blocks.append(np.empty((self._block, *self._shape), self._dtype))
            take = min(self._block - at, len(values) - done)
            self._blocks[-1][at : at + take] = values[done : done + take]
            done, self._count = done + take, self._count + take

    def take(self, indices: np.ndarray) -> np.ndarray:
        taken = np.empty((len(indices), *self._shape), self._dtype)
        blocks = indices // self._block
        # Grouped by block with a radix sort (16-bit keys): linear however many blocks there are.
        order = np.argsort(blocks.astype(np.uint16), kind="stable")
        bounds = np.searchsorted(blocks[order], np.arange(len(self._blocks) + 1))
        for block, (low, high) in enumerate(itertools.pairwise(bounds.tolist())):
            if high > low:
                mine = order[low:high]
                taken[mine] = self._blocks[block][indices[mine] % self._block]
        return taken


class _BandIndex:
    """Band key -> positions of the indexed rows with that key, as sorted numpy runs merged like a binary counter
    (adding is amortised O(log n), looking up costs a binary search per run, ~log2(rows / batch) runs), at 8 bytes
    an entry."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, keys: np.ndarray, positions: np.ndarray) -> None:
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        run = keys[order], positions[order]
        while self._runs and len(self._runs[-1][0]) <= len(run[0]):
            older_keys, older_positions = self._runs.pop()
            # The newer entries slot in after the older ones with equal keys: a linear merge, no re-sort.
            at = np.searchsorted(older_keys, run[0], side="right") + np.arange(len(run[0]))
            older = np.ones(len(older_keys) + len(run[0]), dtype=bool)
            older[at] = False
            merged_keys, merged_positions = np.empty(len(older), np.uint32), np.empty(len(older), np.uint32)
            merged_keys[at], merged_keys[older] = run[0], older_keys
            merged_positions[at], merged_positions[older] = run[1], older_positions
            run = merged_keys, merged_positions
        self._runs.append(run)

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(i, position) for every indexed entry whose key equals keys[i]."""
        found_at, found_positions = [np.empty(0, np.int64)], [np.empty(0, np.uint32)]
        # Sorted queries search faster (numpy narrows each search by the previous one); most find nothing, so
        # only the hits are searched a second time for the end of their range.
        order = np.argsort(keys)
        keys = keys[order]
        for run_keys, run_positions in self._runs:
            low = np.searchsorted(run_keys, keys, side="left")
            hit = np.flatnonzero(run_keys[np.minimum(low, len(run_keys) - 1)] == keys)
            if not len(hit):
                continue
            counts = np.zeros(len(keys), np.int64)
            counts[hit] = np.searchsorted(run_keys, keys[hit], side="right") - low[hit]
            found_at.append(np.repeat(order, counts))
            found_positions.append(run_positions[spans(low, counts)])
        return np.concatenate(found_at), np.concatenate(found_positions)


class SignatureStore:
    """The indexed texts: per text its key, signature (low 16 bits), and word hashes; its band keys in a
    `_BandIndex`. Positions number the texts in the order they were added."""

    def __init__(self, num_perm: int, bands: int) -> None:
        self._bands = bands
        self._index = _BandIndex()
        # Per indexed text: its key, signature (low 16 bits), and where its word hashes start and how many.
        self._keys, self._short = _Column(np.int64), _Column(np.uint16, num_perm)
        self._starts, self._counts = _Column(np.int64), _Column(np.int32)
        self._hashes = _Column(np.uint32, block_factor=16)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, keys: np.ndarray, batch: Texts, rows: np.ndarray) -> None:
        """Store the texts `rows` of the batch under `keys`, one per row."""
        positions = np.arange(len(self._keys), len(self._keys) + len(rows), dtype=np.uint32)
        counts = batch.counts[rows]
        self._starts.extend(len(self._hashes) + np.cumsum(counts) - counts)
        self._hashes.extend(batch.hashes[spans(batch.starts[rows], counts)])
        self._keys.extend(keys)
        self._short.extend(batch.short[rows])
        self._counts.extend(counts)
        self._index.add(batch.bands[rows].ravel(), np.repeat(positions, self._bands))

    def candidates(self, batch: Texts, min_agree: int) -> tuple[np.ndarray, np.ndarray]:
        """(text of the batch, position) of each stored text sharing a band with it whose signature agrees with
        its on at least `min_agree` values; each pair once."""
        at, positions = self._index.find(batch.bands.ravel())
        rows = at // self._bands
        agree = np.count_nonzero(self._short.take(positions) == batch.short[rows], axis=1)
        enough = agree >= min_agree
        # A candidate sharing several bands is found once per band: cheaper to drop the repeats after that check.
        _, once = np.unique(rows[enough] << 32 | positions[enough].astype(np.int64), return_index=True)
        return rows[enough][once], positions[enough][once]

    def words(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The word hashes of the stored texts at `positions`, concatenated, and how many each has."""
        counts = self._counts.take(positions).astype(np.int64)
        return self._hashes.take(spans(self._starts.take(positions), counts)), counts

    def keys(self, positions: np.ndarray) -> np.ndarray:
        """The keys of the stored texts at `positions`."""
        return self._keys.take(positions)
