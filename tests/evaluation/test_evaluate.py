from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import copy_model
from textsift.evaluation.evaluate import evaluate
from textsift.evaluation.metrics import compute_metrics


def test_metrics_match_hand_computed_values() -> None:
    m = compute_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos"])
    assert m["accuracy"] == 0.75
    assert m["per_class"]["neg"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["per_class"]["pos"]["precision"] == pytest.approx(2 / 3)
    assert m["macro"]["f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert m["micro"]["f1"] == 0.75
    assert m["confusion_matrix"] == [[1, 1], [0, 2]]


def test_evaluate_writes_metrics_and_confusion_matrix(full_model: Path, data_dir: Path, tmp_path: Path) -> None:
    metrics = evaluate(full_model, data_dir / "test.csv", tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["accuracy"] == metrics["accuracy"] and saved["n"] == 30
    assert sum(map(sum, saved["confusion_matrix"])) == 30
    assert (tmp_path / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_defaults_to_a_folder_inside_the_model(full_model: Path, data_dir: Path, tmp_path: Path) -> None:
    model = copy_model(full_model, tmp_path / "model")
    metrics = evaluate(model, data_dir / "validation.csv")
    assert json.loads((model / "eval" / "validation" / "metrics.json").read_text())["n"] == metrics["n"] == 30


def test_evaluate_warns_about_test_rows_seen_in_training(full_model: Path, data_dir: Path, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="textsift"):
        evaluate(full_model, data_dir / "train.csv", tmp_path)
    assert "240 texts also in" in caplog.text and "train.csv:2" in caplog.text
