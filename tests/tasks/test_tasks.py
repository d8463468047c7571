"""The Task classes on their own: targets, decoding, thresholds, scaling and metrics, without a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textsift.config import DataConfig
from textsift.data.io import read_table
from textsift.errors import DataError, TextsiftError
from textsift.evaluation.metrics import best_thresholds
from textsift.modeling.settings import ModelSettings
from textsift.tasks.registry import get_task


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_multi_label_cells_split_at_the_separator_and_json_lists_are_read_as_sets(tmp_path: Path) -> None:
    csv_table = read_table(write(tmp_path / "a.csv", "text,tags\na,x; y\nb,y\n"),
                           DataConfig(label_column="tags", label_sep=";"))
    jsonl_table = read_table(write(tmp_path / "a.jsonl", '{"text": "a", "tags": ["x", "y"]}\n{"text": "b", '
                                   '"tags": ["y"]}\n'), DataConfig(label_column="tags"))
    task = get_task("multi-label")
    settings = ModelSettings(task.label_names(csv_table), 16, task="multi-label")
    assert settings.labels == ["x", "y"]
    expected = [[1.0, 1.0], [0.0, 1.0]]
    assert task.targets(csv_table, settings).tolist() == task.targets(jsonl_table, settings).tolist() == expected


def test_an_empty_multi_label_set_names_its_line(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.jsonl", '{"text": "a", "tags": ["x"]}\n{"text": "b", "tags": []}\n'),
                       DataConfig(label_column="tags"))
    with pytest.raises(DataError, match=r"a.jsonl:2: an empty label set"):
        get_task("multi-label").label_names(table)


def test_a_separator_that_never_occurs_is_refused(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text,tags\na,x|y\nb,y\n"),
                       DataConfig(label_column="tags", label_sep=";"))
    with pytest.raises(DataError, match=r"the label separator ';' occurs in no label cell"):
        get_task("multi-label").check_training(table)


def test_an_unknown_multi_label_names_its_line(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text,tags\na,x;z\n"), DataConfig(label_column="tags", label_sep=";"))
    with pytest.raises(DataError, match=r"a.csv:2: label 'z' was not in the training data"):
        get_task("multi-label").targets(table, ModelSettings(["x", "y"], 16, task="multi-label"))


def test_a_non_numeric_regression_target_names_its_line(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text,score\na,1.5\nb,high\n"), DataConfig(label_column="score"))
    with pytest.raises(DataError, match=r"a.csv:3: target 'high' in column 'score' is not a finite number"):
        get_task("regression").targets(table, ModelSettings(["score"], 16, task="regression"))


def test_a_list_of_labels_in_a_multi_class_task_points_to_multi_label(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.jsonl", '{"text": "a", "label": ["x", "y"]}\n'))
    with pytest.raises(DataError, match=r"a.jsonl:1: a list of labels .* pass --task multi-label"):
        get_task("multi-class").label_names(table)


def test_thresholds_maximise_each_labels_f1_and_fall_back_to_one_half() -> None:
    y = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    proba = np.array([[0.30, 0.9, 0.2], [0.25, 0.1, 0.1], [0.10, 0.8, 0.3], [0.05, 0.7, 0.1]])
    cut = best_thresholds(y, proba)
    # label 0: any threshold in (0.10, 0.25] separates it perfectly, and the one nearest 0.5 is 0.25;
    # label 1: its one positive (0.8) scores below a negative (0.9), so the best F1 (2/3) is for (0.70, 0.80].
    assert cut[0] == pytest.approx(0.25)
    assert (proba[:, 0] >= cut[0]).tolist() == [True, True, False, False]
    assert cut[1] == pytest.approx(0.71)
    assert cut[2] == 0.5  # no positive row: the documented fallback


def test_regression_outputs_are_mapped_back_to_the_targets_units() -> None:
    task = get_task("regression")
    y = np.array([-2.0, 0.0, 4.0])
    settings = ModelSettings(["valence"], 16, task="regression", **task.fit(y, ModelSettings(["v"], 16)))
    standardised = (y - y.mean()) / y.std()
    assert task.activate(standardised[:, None], settings)[:, 0] == pytest.approx(y)
    assert task.decode(np.array([1.23456789]), settings, 1) == {"value": 1.234568}


def test_multi_label_answers_honour_each_labels_threshold() -> None:
    task = get_task("multi-label")
    settings = ModelSettings(["a", "b", "c"], 16, task="multi-label", thresholds=[0.9, 0.2, 0.5])
    assert task.answer(np.array([0.8, 0.3, 0.6]), settings) == ["c", "b"]
    flat = ModelSettings(["a", "b", "c"], 16, task="multi-label")
    assert task.answer(np.array([0.8, 0.3, 0.6]), flat) == ["a", "c"]


def test_regression_refuses_a_class_weight() -> None:
    from textsift.config import TrainConfig

    with pytest.raises(TextsiftError, match="a regression task has none, drop --class-weight"):
        TrainConfig(train_file=Path("t.csv"), task="regression", class_weight="balanced")


def test_a_pair_task_without_a_second_column_is_refused() -> None:
    from textsift.config import TrainConfig

    with pytest.raises(TextsiftError, match="pass --text-pair-column"):
        TrainConfig(train_file=Path("t.csv"), task="pair")


def test_a_missing_pair_column_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"a.csv:1: no column 'answer'"):
        read_table(write(tmp_path / "a.csv", "question,label\nq,match\n"),
                   DataConfig(text_column="question", text_pair_column="answer"))


def test_regression_metrics_match_scipy_and_sklearn() -> None:
    from scipy.stats import pearsonr

    from textsift.evaluation.metrics import regression_metrics

    y, pred = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 1.5, 3.5, 3.0])
    metrics = regression_metrics(y, pred)
    assert metrics["pearson"] == pytest.approx(pearsonr(y, pred).statistic)
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean((y - pred) ** 2)))
    assert metrics["mean_residual"] == pytest.approx(-0.125)  # predicted minus true


def test_multi_label_outputs_start_at_each_labels_training_frequency() -> None:
    import torch

    bias = torch.zeros(3)
    get_task("multi-label").init_output(bias, np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=float))
    assert torch.sigmoid(bias).tolist() == pytest.approx([0.75, 0.25, 1e-3], abs=1e-6)


def test_other_tasks_leave_the_output_bias_alone() -> None:
    import torch

    bias = torch.full((2,), 0.1)
    get_task("multi-class").init_output(bias, np.array([0, 1, 1]))
    assert bias.tolist() == pytest.approx([0.1, 0.1])
