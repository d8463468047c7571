from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from textsift.data.io import Table
from textsift.errors import TextsiftError
from textsift.training import replay
from textsift.training.replay import Buffer, Row


def rows(n: int, label: str, start: int = 0) -> list[Row]:
    table = Table(Path("x.csv"), [f"{label} text {i}" for i in range(start, start + n)], [label] * n,
                  list(range(n)))
    return replay.rows_of(table, "multi-class")


def test_the_buffer_is_bounded_and_gives_each_class_an_equal_share() -> None:
    chosen = replay.select(rows(500, "negative") + rows(100, "positive"), 60)
    kept = Counter((rows(500, "negative") + rows(100, "positive"))[i].label for i in chosen)
    assert kept == {"negative": 30, "positive": 30}


def test_a_class_with_fewer_rows_than_its_share_gives_the_spare_to_the_others() -> None:
    everything = rows(500, "negative") + rows(10, "positive")
    kept = Counter(everything[i].label for i in replay.select(everything, 60))
    assert kept == {"negative": 50, "positive": 10}


def test_selection_does_not_depend_on_the_order_of_the_rows() -> None:
    everything = rows(300, "negative") + rows(300, "positive")
    shuffled = [everything[i] for i in np.random.default_rng(0).permutation(len(everything))]
    keys = {everything[i].key for i in replay.select(everything, 100)}
    assert keys == {shuffled[i].key for i in replay.select(shuffled, 100)}


def test_a_buffer_carried_through_two_steps_equals_one_drawn_from_all_the_data() -> None:
    first, second = rows(300, "negative") + rows(300, "positive"), rows(200, "negative", 300) + rows(50, "neutral")
    step_one = replay.carry(None, Buffer(first), 90)
    step_two = replay.carry(step_one, Buffer(second), 90)
    at_once = {(first + second)[i].key for i in replay.select(first + second, 90)}
    assert {row.key for row in step_two.rows} == at_once and len(step_two.rows) == 90


def test_a_text_seen_again_counts_once() -> None:
    again = rows(5, "negative")
    assert len(replay.select(again + again, 100)) == 5


def test_features_replace_texts_and_only_chosen_new_rows_are_featurized(tmp_path: Path) -> None:
    featurized: list[int] = []

    def featurize(items: list[tuple[str, str | None]]) -> np.ndarray:
        featurized.append(len(items))
        return np.full((len(items), 4), float(len(featurized)), dtype=np.float32)

    buffer = replay.carry(None, Buffer(rows(100, "negative") + rows(100, "positive")), 20, featurize)
    assert featurized == [20] and buffer.features is not None and buffer.features.shape == (20, 4)
    assert all(row.text is None for row in buffer.rows)
    replay.write(tmp_path, "train", buffer)
    assert "text" not in (tmp_path / "replay" / "train.jsonl").read_text()
    again = replay.read(tmp_path, "train")
    assert again is not None and again.features is not None
    assert np.array_equal(again.features, buffer.features) and again.rows == buffer.rows


def test_multi_label_sets_and_pairs_round_trip(tmp_path: Path) -> None:
    table = Table(Path("x.jsonl"), ["a", "b"], [("tag2", "tag1"), ()], [1, 2], ["first answer", "second"])
    buffer = Buffer(replay.rows_of(table, "multi-label"))
    replay.write(tmp_path, "check", buffer)
    again = replay.read(tmp_path, "check")
    assert again is not None and again.rows == buffer.rows
    assert [row.stratum for row in again.rows] == ["tag1", ""]
    assert again.table().pairs == ["first answer", "second"] and again.table().labels == [("tag2", "tag1"), ()]


def test_a_damaged_buffer_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "replay").mkdir()
    (tmp_path / "replay" / "train.jsonl").write_text('{"key": "k", "label": "x"}\n')
    with pytest.raises(TextsiftError, match=r"train.jsonl:1: not a rehearsal row"):
        replay.read(tmp_path, "train")


def test_a_folder_without_a_buffer_reads_as_none(tmp_path: Path) -> None:
    assert replay.read(tmp_path, "train") is None
