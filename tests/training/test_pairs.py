from __future__ import annotations

import itertools
import tracemalloc

import numpy as np

from textsift.training.pairs import ClassIndex, PairStream, example_batches


def _stream(classes: list[frozenset[str]], pairs_per_example: int = 4) -> PairStream:
    return PairStream(classes, pairs_per_example)


def test_an_epoch_has_pairs_per_example_pairs_for_each_row_half_of_them_positive() -> None:
    classes = [frozenset({"a"})] * 10 + [frozenset({"b"})] * 10
    pairs = [p for batch in _stream(classes).batches(seed=0, batch_size=16) for p in batch]
    assert len(pairs) == 80 and sum(p.target == 1.0 for p in pairs) == 40
    assert all((p.target == 1.0) == (classes[p.a] == classes[p.b]) and p.a != p.b for p in pairs)


def test_the_same_seed_draws_the_same_pairs() -> None:
    classes = [frozenset({str(i % 3)}) for i in range(30)]
    first = list(_stream(classes).batches(seed=5, batch_size=8))
    assert first == list(_stream(classes).batches(seed=5, batch_size=8))
    assert first != list(_stream(classes).batches(seed=6, batch_size=8))


def test_multi_label_pairs_target_the_overlap_of_their_label_sets() -> None:
    classes = [frozenset({"a", "b"}), frozenset({"b", "c"}), frozenset({"d"}), frozenset({"a", "b"})]
    index = ClassIndex(classes)
    assert index.overlap(0, 1) == 1 / 3 and index.overlap(0, 3) == 1.0 and index.overlap(0, 2) == 0.0
    classes = classes * 3
    pairs = [p for batch in _stream(classes, 10).batches(seed=0, batch_size=4) for p in batch]
    positives = [p for p in pairs if p.target > 0]
    assert positives and all(classes[p.a] & classes[p.b] for p in positives)
    assert all(not classes[p.a] & classes[p.b] for p in pairs if p.target == 0)


def test_a_class_of_one_row_pairs_it_with_another_class_instead() -> None:
    classes = [frozenset({"lonely"})] + [frozenset({"b"})] * 5
    pairs = [p for batch in _stream(classes).batches(seed=0, batch_size=8) for p in batch if p.a == 0]
    assert len(pairs) == 2 and all(p.b != 0 and p.target == 0.0 for p in pairs)  # 6 rows: 2 rounds of 15 pairs


def test_an_epoch_holds_no_more_pairs_than_there_are_distinct_ones() -> None:
    classes = [frozenset({"a"})] * 8 + [frozenset({"b"})] * 8
    assert len(_stream(classes, 20)) == 16 * 7 <= 16 * 15 // 2  # 7 rounds, not 20: 112 of 120 distinct pairs
    assert len(_stream(classes * 8, 20)) == 128 * 20


def test_share_matrix_marks_rows_with_a_common_class() -> None:
    index = ClassIndex([frozenset({"a"}), frozenset({"a", "b"}), frozenset({"c"})])
    assert index.share_matrix([0, 1, 2]).tolist() == [[True, True, False], [True, True, False],
                                                      [False, False, True]]


def _peak_bytes(rows: int, pairs_per_example: int, batches: int) -> int:
    classes = [frozenset({str(i % 4)}) for i in range(rows)]
    tracemalloc.start()
    stream = PairStream(classes, pairs_per_example)
    for batch in itertools.islice(stream.batches(seed=0, batch_size=64), batches):
        assert len(batch) == 64
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_pair_memory_stays_flat_however_many_pairs_an_epoch_holds() -> None:
    # 200,000 rows x 100 pairs each is 20 million pairs per epoch; generated up front as (text, text, label) they
    # would take gigabytes. The stream holds its class index (a few int arrays) and one batch.
    many = _peak_bytes(200_000, pairs_per_example=100, batches=500)
    few = _peak_bytes(200_000, pairs_per_example=1, batches=500)
    assert many < 64 * 200_000  # under 64 bytes a row: building the index, a permutation, one batch
    assert many < 1.1 * few  # and no more for 100 pairs a row than for one


def test_example_batches_visit_every_row_once_a_round() -> None:
    batches = list(example_batches(10, rounds=3, seed=0, batch_size=4))
    assert len(batches) == 9
    for start in (0, 3, 6):
        assert sorted(itertools.chain(*batches[start : start + 3])) == list(range(10))
    assert np.concatenate(batches).size == 30
