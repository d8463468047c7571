from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import copy_model
from textsift.cli.app import app
from textsift.evaluation.evaluate import evaluate, evaluate_files, folder_names
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
    assert "240 rows of" in caplog.text and "(240 exact, 0 near-duplicates" in caplog.text
    assert "train.csv:2 = " in caplog.text


def test_several_files_give_one_table_with_a_column_each(full_model: Path, data_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", str(full_model), str(data_dir / "test.csv"),
                                      str(data_dir / "validation.csv"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    test = json.loads((tmp_path / "test" / "metrics.json").read_text())
    validation = json.loads((tmp_path / "validation" / "metrics.json").read_text())
    rows = {cells[1]: cells[2:4] for line in result.stderr.splitlines()
            if len(cells := [c.strip() for c in line.replace("┃", "│").split("│")]) == 5}
    assert rows["metric"] == ["test", "validation"]
    assert rows["accuracy"] == [f"{test['accuracy']:.4f}", f"{validation['accuracy']:.4f}"]
    assert rows["macro-F1"] == [f"{test['macro']['f1']:.4f}", f"{validation['macro']['f1']:.4f}"]
    assert rows["rows"] == ["30", "30"]
    assert (tmp_path / "test" / "confusion_matrix.png").is_file()


def test_files_sharing_a_stem_get_their_parent_folders_name(full_model: Path, data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "movie").mkdir(), (tmp_path / "amazon").mkdir()
    (tmp_path / "movie" / "test.csv").write_bytes((data_dir / "test.csv").read_bytes())
    lines = (data_dir / "validation.csv").read_text().splitlines(keepends=True)
    (tmp_path / "amazon" / "test.csv").write_text("".join(lines[:11]))  # the header and ten rows
    movie, amazon = str(tmp_path / "movie" / "test.csv"), str(tmp_path / "amazon" / "test.csv")
    results = evaluate_files(full_model, [movie, amazon], tmp_path / "eval")
    assert {name: m["n"] for name, m in results.items()} == {movie: 30, amazon: 10}
    assert json.loads((tmp_path / "eval" / "movie-test" / "metrics.json").read_text()) == results[movie]
    assert json.loads((tmp_path / "eval" / "amazon-test" / "metrics.json").read_text()) == results[amazon]


def test_folder_names_number_files_whose_parent_and_stem_both_collide() -> None:
    paths = [Path("a/test.csv"), Path("b/test.csv"), Path("c/dev.csv"), Path("d/x.csv"), Path("d/x.jsonl")]
    assert folder_names(paths) == ["a-test", "b-test", "dev", "d-x-1", "d-x-2"]


def test_one_file_keeps_its_results_in_out_itself(full_model: Path, data_dir: Path, tmp_path: Path) -> None:
    results = evaluate_files(full_model, [data_dir / "test.csv"], tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text()) == results[str(data_dir / "test.csv")]
