from __future__ import annotations

import csv
import unicodedata
import zlib
from pathlib import Path

import numpy as np
import pytest

from textsift.data import minhash
from textsift.data.dedupe import Leak, NearDuplicates, exact_key, find_leaks
from textsift.errors import TextsiftError

SNIPPETS = Path(__file__).parent / "movie-snippets-300"


def read_texts(split: str) -> list[str]:
    with (SNIPPETS / f"{split}.csv").open(encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


TRAIN = read_texts("train")
# 21 distinct words: one changed leaves 20 of 22 shared (J = 0.91).
CROCODILE = next(text for text in TRAIN if text.startswith("The filmmakers wisely"))
CROCODILE_EDITED = CROCODILE.replace("wisely", "foolishly")
FORMULA = next(text for text in TRAIN if text.startswith("Formula 51"))
FORMULA_EDITED = FORMULA.replace("trite", "tired")


def test_exact_keys_are_equal_across_case_spacing_and_punctuation() -> None:
    variants = [
        CROCODILE.upper(),
        "  ".join(CROCODILE.split()).replace(",", ""),
        CROCODILE.rstrip(".") + "!!!",
        CROCODILE.replace("Crocodile Hunter", "Crocodile-Hunter"),
    ]
    assert len(exact_key(CROCODILE)) == 16
    assert {exact_key(variant) for variant in variants} == {exact_key(CROCODILE)}


def test_exact_keys_normalise_unicode_forms_and_case() -> None:
    metropolis = next(text for text in TRAIN if text.startswith("Apart from its own"))
    # Decomposed accents (E + combining acute) and a compatibility ligature ("\ufb01" for "fi").
    variant = unicodedata.normalize("NFD", metropolis.upper()).replace("FI", "\ufb01")
    assert "anim\u00e9" in metropolis and "\ufb01" in variant
    assert exact_key(variant) == exact_key(metropolis)


def test_exact_keys_differ_for_different_texts() -> None:
    assert len({exact_key(text) for text in TRAIN}) == len(TRAIN)
    assert exact_key(CROCODILE) != exact_key(CROCODILE_EDITED)


def test_exact_keys_keep_the_punctuation_of_texts_made_only_of_it() -> None:
    assert exact_key(":)") != exact_key(":(")
    assert exact_key(" :)  ") == exact_key(":)")


def test_signatures_are_datasketch_minhashes_of_the_word_set() -> None:
    datasketch = pytest.importorskip("datasketch")
    words = [word.strip(",.").encode() for word in CROCODILE.lower().split()]
    expected = datasketch.MinHash(num_perm=64, seed=1, hashfunc=zlib.crc32)
    expected.update_batch(words)
    assert np.array_equal(NearDuplicates(num_perm=64, seed=1).signatures([CROCODILE])[0], expected.hashvalues)


def test_a_one_word_edit_of_a_20_word_snippet_is_a_near_duplicate() -> None:
    index = NearDuplicates()
    index.check_add([1], [CROCODILE])
    assert index.query([CROCODILE_EDITED]) == [[1]]


def test_unrelated_snippets_are_not_near_duplicates() -> None:
    assert NearDuplicates().check_add(list(range(len(TRAIN))), TRAIN) == [None] * len(TRAIN)


def test_check_add_returns_the_earlier_key_within_one_batch_and_indexes_only_new_texts() -> None:
    index = NearDuplicates()
    assert index.check_add([7, 8, 9, 10], [CROCODILE, FORMULA, CROCODILE_EDITED, CROCODILE.upper()]) == [
        None,
        None,
        7,
        7,
    ]
    assert len(index) == 2


def test_check_add_finds_texts_indexed_by_earlier_batches() -> None:
    index = NearDuplicates()
    for start in range(0, len(TRAIN), 40):
        index.check_add(list(range(start, start + 40)), TRAIN[start : start + 40])
    assert index.check_add([1000, 1001], [FORMULA_EDITED, CROCODILE_EDITED]) == [
        TRAIN.index(FORMULA),
        TRAIN.index(CROCODILE),
    ]


def test_texts_stored_across_blocks_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minhash, "_BLOCK", 16)
    index = NearDuplicates()
    index.check_add(list(range(len(TRAIN))), TRAIN)
    assert index.query([FORMULA_EDITED, CROCODILE_EDITED]) == [[TRAIN.index(FORMULA)], [TRAIN.index(CROCODILE)]]


def test_query_does_not_index_the_texts() -> None:
    index = NearDuplicates()
    index.check_add([1], [FORMULA])
    assert index.query([CROCODILE]) == [[]]
    assert len(index) == 1
    assert index.check_add([2], [CROCODILE_EDITED]) == [None]


def test_a_higher_threshold_rejects_an_edit_a_lower_one_accepts() -> None:
    lenient, strict = NearDuplicates(threshold=0.9), NearDuplicates(threshold=0.95)
    lenient.check_add([1], [CROCODILE])
    strict.check_add([1], [CROCODILE])
    assert lenient.query([CROCODILE_EDITED]) == [[1]]
    assert strict.query([CROCODILE_EDITED]) == [[]]


def test_a_threshold_outside_0_to_1_is_refused() -> None:
    with pytest.raises(TextsiftError, match="threshold"):
        NearDuplicates(threshold=1.5)


def test_find_leaks_pairs_the_lines_of_exact_and_near_copies() -> None:
    first = [(2, CROCODILE), (3, FORMULA), (4, TRAIN[0])]
    second = [(2, TRAIN[1]), (5, FORMULA.upper()), (7, CROCODILE_EDITED)]
    leaks = find_leaks(first, second)
    assert [(leak.first_line, leak.second_line, leak.kind) for leak in leaks] == [(3, 5, "exact"), (2, 7, "near")]
    assert [leak.similarity for leak in leaks] == [1.0, pytest.approx(20 / 22)]


def test_find_leaks_on_the_same_rows_twice_reports_only_their_duplicates_within() -> None:
    rows = [(2, CROCODILE), (3, FORMULA), (4, CROCODILE.lower()), (5, TRAIN[0]), (6, FORMULA_EDITED)]
    leaks = find_leaks(rows, list(rows), same_rows=True)
    assert [(leak.first_line, leak.second_line, leak.kind) for leak in leaks] == [(2, 4, "exact"), (3, 6, "near")]


def test_find_leaks_reports_a_copy_on_the_same_line_of_another_file() -> None:
    assert find_leaks([(2, CROCODILE), (3, FORMULA)], [(2, CROCODILE)]) == [Leak(2, 2, "exact", 1.0)]


def test_find_leaks_reports_every_row_of_a_file_given_twice_unless_told_they_are_the_same_rows() -> None:
    rows = [(2, CROCODILE), (3, FORMULA)]
    assert find_leaks(rows, list(rows)) == [Leak(2, 2, "exact", 1.0), Leak(3, 3, "exact", 1.0)]
