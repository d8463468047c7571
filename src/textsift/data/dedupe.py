"""Duplicates and leaks: exact keys of normalised text, a MinHash LSH index that finds near-duplicates while a file
streams through it batch by batch, and rows of one file that repeat rows of another (test rows copied from training).

Both compare text after NFKC, case folding and removal of zero-width characters. Exact: punctuation and whitespace
dropped too ("It's  ultra-violent!" = "its ultraviolent"); a text of punctuation only keeps it (":)" is not ":(").
Near: the Jaccard similarity of the texts' *word sets* (apostrophes dropped, other punctuation splits words).
Single words, because snippets are short: with one word of a real snippet changed, 85% of pairs keep J >= 0.8 as
word sets, 68% as word 1+2-gram sets, 22% as 3-grams, 58% as character 5-grams, while unrelated snippets stay under
J = 0.3 (99.99% of pairs). Word order is ignored: the same words reordered are near-duplicates.

Candidates come from MinHash LSH, whose internals live in `textsift.data.minhash`: datasketch's MinHash (scheme
"affine32", seeded permutations, words hashed by CRC-32), computed for a whole batch in one numpy product, banded
into sorted numpy runs (datasketch.MinHashLSH keeps a Python set and bytes objects per band per row: 1.9-3.5 kB a
row, ~50 us a row to query and insert). A candidate whose signature agrees well enough is then compared word by
word, so the threshold applies to the exact similarity of the word sets (of their 32-bit hashes): the estimate's
noise (+-0.05 at 64 values) neither drops a pair above it nor keeps one below it. This module keeps what callers
use (exact keys, `NearDuplicates`, `find_leaks`), the text normalisation and that word-by-word verification.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from textsift.data.minhash import MinHasher, SignatureStore, Texts, band_shape, jaccard, word_sets
from textsift.errors import TextsiftError

_APOSTROPHES = "'`\u2018\u2019\u02bc"


@functools.cache
def _tables() -> tuple[dict[int, int | None], dict[int, int | None], bytes, bytes, bytes]:
    """Translation tables of the exact and word forms, for any text and for ASCII bytes (built once, ~0.3 s)."""
    exact: dict[int, int | None] = {}
    words: dict[int, int | None] = {}
    for code in range(0x110000):
        char = chr(code)
        category = unicodedata.category(char)
        if char in _APOSTROPHES or category == "Cf":
            exact[code] = words[code] = None
        elif category[0] in "PZ" or category == "Cc" or char.isspace():
            exact[code], words[code] = None, ord(" ")
    ascii_exact_drop = bytes(code for code in range(128) if code in exact)
    ascii_words = bytes(ord(" ") if words.get(code) == ord(" ") else code for code in range(256))
    ascii_words_drop = bytes(code for code in range(128) if code in words and words[code] is None)
    return exact, words, ascii_exact_drop, ascii_words, ascii_words_drop


def _exact_form(text: str) -> bytes:
    exact, _, ascii_drop, _, _ = _tables()
    if text.isascii():  # NFKC leaves ASCII as it is and casefold is lower: the bytes route is ~5x faster
        form = text.encode().lower().translate(None, ascii_drop)
    else:
        form = unicodedata.normalize("NFKC", text).casefold().translate(exact).encode()
    return form or " ".join(text.split()).casefold().encode()


def _words(text: str) -> list[bytes]:
    _, words, _, ascii_words, ascii_drop = _tables()
    if text.isascii():
        found = text.encode().lower().translate(ascii_words, ascii_drop).split()
    else:
        found = unicodedata.normalize("NFKC", text).casefold().translate(words).encode().split()
    return found or [_exact_form(text)]


def exact_key(text: str) -> bytes:
    """A 16-byte hash of the text's normalised form: equal keys mean exact duplicates.

    The form is NFKC, case-folded, without punctuation, whitespace or zero-width characters, so texts differing
    only in those are duplicates; a text of punctuation only keeps its punctuation.
    """
    return hashlib.blake2b(_exact_form(text), digest_size=16).digest()


class NearDuplicates:
    """MinHash LSH index of the texts seen so far: datasketch's MinHash finds the candidates, the Jaccard similarity
    of the word sets decides (see the module docstring).

    Memory per indexed row: 4 bytes per distinct word (its hash), 2 per MinHash value (its low 16 bits: enough to
    count agreements), 8 per band and 20 for its key and where its words are: 300 bytes for 18 distinct words at
    the defaults (64 values, 10 bands).

    Args:
        threshold: Jaccard similarity of two texts' word sets from which they are near-duplicates.
        num_perm: MinHash values per text: more find the candidates more surely, at 2 bytes and some time each.
        seed: Seed of datasketch's permutations (and of the band hashing).
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 64, seed: int = 1) -> None:
        if not 0 < threshold <= 1:
            raise TextsiftError(f"threshold must be in (0, 1], not {threshold}")
        if num_perm < 2:
            raise TextsiftError(f"num_perm must be at least 2, not {num_perm}")
        self.threshold, self.num_perm = threshold, num_perm
        self.bands, self.rows = band_shape(threshold, num_perm)
        # A candidate is compared word by word when its signature agrees on this many values: 3 standard errors of
        # the estimate below the threshold, so 1 pair in ~750 at the threshold is lost here, fewer above it.
        margin = 3 * math.sqrt(threshold * (1 - threshold) / num_perm)
        self._min_agree = max(0, math.ceil((threshold - margin) * num_perm - 1e-9))
        self._hasher = MinHasher(num_perm, seed, self.bands, self.rows)
        self._store = SignatureStore(num_perm, self.bands)

    def __len__(self) -> int:
        return len(self._store)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """MinHash signatures of the texts' word sets, (len(texts), num_perm) uint32: each row is the hash values of
        `datasketch.MinHash(num_perm, seed, hashfunc=zlib.crc32)` updated with the text's words."""
        return self._hasher.signatures(*word_sets([_words(text) for text in texts]))

    def check_add(self, keys: Sequence[int], texts: Sequence[str]) -> list[int | None]:
        """For each text in order: the key of an earlier text (earlier in this batch or already indexed) it
        near-duplicates, else None, and then it is indexed under its key. Duplicates are not indexed.

        Args:
            keys: One int per text (its line, say), returned when a later text duplicates it.
            texts: The texts; batches of ~1000 keep the numpy work per text small.

        Returns:
            Per text, the key of the most similar earlier text at or above the threshold (the first indexed among
            equally similar ones), or None.
        """
        if len(keys) != len(texts):
            raise ValueError(f"{len(keys)} keys for {len(texts)} texts")
        batch = self._texts(texts)
        found: list[int | None] = [None] * len(texts)
        rows, matches, _ = self._verified(batch)
        for row, key in zip(rows.tolist()[::-1], matches.tolist()[::-1], strict=True):
            found[row] = key  # backwards, so that each text ends with its best match
        # Within the batch, in order: only bands that two of its texts share can pair them, so only those go
        # through a dict (of the texts indexed so far in this batch).
        _, inverse, counts = np.unique(batch.bands, return_inverse=True, return_counts=True)
        shared = (counts[inverse] > 1).reshape(batch.bands.shape)
        recent: dict[int, list[int]] = {}
        for row in np.flatnonzero(shared.any(axis=1)).tolist():
            row_bands = batch.bands[row][shared[row]].tolist()
            if found[row] is None:
                earlier = sorted({other for band in row_bands for other in recent.get(band, ())})
                found[row] = self._best_recent(batch, row, earlier, keys)
            if found[row] is None:
                for band in row_bands:
                    recent.setdefault(band, []).append(row)
        kept = np.array([row for row, match in enumerate(found) if match is None], np.int64)
        self._store.add(np.asarray(keys, np.int64)[kept], batch, kept)
        return found

    def query(self, texts: Sequence[str]) -> list[list[int]]:
        """Keys of the indexed texts each text near-duplicates, most similar first, without indexing it."""
        return [[key for key, _ in matches] for matches in self._matches(texts)]

    def _matches(self, texts: Sequence[str]) -> list[list[tuple[int, float]]]:
        """Per text, (key, similarity) of each indexed text at or above the threshold, most similar (then first
        indexed) first."""
        rows, keys, similarity = self._verified(self._texts(texts))
        bounds = np.searchsorted(rows, np.arange(len(texts) + 1))
        found = list(zip(keys.tolist(), similarity.tolist(), strict=True))
        return [found[low:high] for low, high in itertools.pairwise(bounds.tolist())]

    def _add(self, keys: Sequence[int], texts: Sequence[str]) -> None:
        """Index the texts without looking for their duplicates."""
        self._store.add(np.asarray(keys, np.int64), self._texts(texts), np.arange(len(texts)))

    def _texts(self, texts: Sequence[str]) -> Texts:
        return self._hasher.texts(*word_sets([_words(text) for text in texts]))

    def _verified(self, batch: Texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text, key, similarity) of each indexed text at or above the threshold that shares a band with a text of
        the batch, ordered by text, then most similar, then first indexed."""
        rows, positions = self._store.candidates(batch, self._min_agree)
        stored, counts = self._store.words(positions)
        similarity = jaccard(batch.words(rows), batch.counts[rows], stored, counts)
        near = similarity >= self.threshold - 1e-9
        rows, positions, similarity = rows[near], positions[near], similarity[near]
        order = np.lexsort((positions, -similarity, rows))
        return rows[order], self._store.keys(positions[order]), similarity[order]

    def _best_recent(self, batch: Texts, row: int, earlier: list[int], keys: Sequence[int]) -> int | None:
        """The key of the text of `earlier` (rows of the batch) most similar to text `row`, if near enough."""
        candidates = np.array(earlier, np.int64)
        agree = np.count_nonzero(batch.short[candidates] == batch.short[row], axis=1)
        candidates = candidates[agree >= self._min_agree]
        if not len(candidates):
            return None
        query = np.full(len(candidates), row)
        similarity = jaccard(batch.words(query), batch.counts[query], batch.words(candidates), batch.counts[candidates])
        best = int(similarity.argmax())
        return int(keys[candidates[best]]) if similarity[best] >= self.threshold - 1e-9 else None


@dataclass(frozen=True)
class Leak:
    """A row of the second file that repeats a row of the first.

    Attributes:
        first_line: The row of the first file it repeats.
        second_line: The row of the second file.
        kind: "exact" (equal after normalisation, see `exact_key`) or "near".
        similarity: Jaccard similarity of the two texts' word sets; 1.0 for exact.
    """

    first_line: int
    second_line: int
    kind: str
    similarity: float


def _chunks(rows: Iterable[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _index_first(first: Iterable[tuple[int, str]], index: NearDuplicates) -> dict[bytes, int]:
    """Exact key -> its first line; the rows of new exact keys are indexed (a copy of one would match whatever it
    matches)."""
    first_line: dict[bytes, int] = {}
    for chunk in _chunks(first, 1000):
        new_lines, new_texts = [], []
        for line, text in chunk:
            key = exact_key(text)
            if key not in first_line:
                first_line[key] = line
                new_lines.append(line)
                new_texts.append(text)
        index._add(new_lines, new_texts)
    return first_line


def find_leaks(
    first: Iterable[tuple[int, str]], second: Iterable[tuple[int, str]], threshold: float = 0.8, num_perm: int = 64,
    *, same_rows: bool = False,
) -> list[Leak]:
    """Rows of `second` (line, text) that duplicate a row of `first`, exactly or nearly, sorted by second_line.

    Each row of `second` is reported once: with the first line of its exact copy, else its most similar row.

    Args:
        first: (line, text) rows, e.g. of the training file; they are indexed (~0.4 kB a distinct text).
        second: (line, text) rows checked against them (validation or test); streamed.
        threshold: Jaccard similarity of the word sets from which two texts are near-duplicates.
        num_perm: MinHash values per text.
        same_rows: `second` is `first` again (duplicates within one file): a row is not its own copy, and is
            reported against earlier lines only, so each duplicate pair appears once. Two files that merely hold
            the same rows (a model evaluated on its own training file) are two files: leave it False.
    """
    index = NearDuplicates(threshold, num_perm)
    first_line = _index_first(first, index)
    leaks: list[Leak] = []
    for chunk in _chunks(second, 1000):
        for (line, text), matches in zip(chunk, index._matches([text for _, text in chunk]), strict=True):
            copied = first_line.get(exact_key(text))
            if copied is not None and not (same_rows and copied == line):
                leaks.append(Leak(copied, line, "exact", 1.0))
                continue
            if same_rows:
                matches = [(match, similarity) for match, similarity in matches if match < line]
            if matches:
                leaks.append(Leak(matches[0][0], line, "near", matches[0][1]))
    return sorted(leaks, key=lambda leak: leak.second_line)
