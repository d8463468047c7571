from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.helpers import run_cli
from textsift import DistillConfig, TextsiftError, distill, evaluate, export, load
from textsift.modeling.settings import ModelSettings
from textsift.tasks.registry import get_task
from textsift.training.distill import pick_layers, shrink


@pytest.fixture(scope="module")
def student(full_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = DistillConfig(teacher=full_model, train_file=data_dir / "train.csv",
                        validation_file=data_dir / "validation.csv", out=tmp_path_factory.mktemp("student"),
                        layers=2, epochs=1, batch_size=16, num_threads=2)
    return distill(cfg)


def test_student_folder_loads_with_the_requested_layers(student: Path, data_dir: Path, tmp_path: Path) -> None:
    clf = load(student)
    assert clf.model.config.num_hidden_layers == 2 and clf.pooling == "cls"
    settings = json.loads((student / "textsift.json").read_text())
    assert settings["strategy"] == "distill" and settings["distill_config"]["layers"] == 2
    metrics = json.loads((student / "metrics.json").read_text())
    assert metrics["history"][0]["epoch"] == 1
    # The folder holds the weights its recorded validation score was measured on.
    scored = evaluate(student, data_dir / "validation.csv", tmp_path)
    assert scored["macro"]["f1"] == pytest.approx(metrics["validation"]["macro"]["f1"])


def test_student_folder_exports_to_onnx(student: Path, tmp_path: Path) -> None:
    folder = export(student, tmp_path / "onnx")
    texts = ["a fine film", "dull and far too long", "ok"]
    assert load(folder).predict(texts) == load(student).predict(texts)


def test_student_layers_are_copied_from_spread_teacher_layers(full_model: Path) -> None:
    teacher = load(full_model).model
    small = shrink(teacher, 2)
    assert pick_layers(6, 2) == [2, 5] and pick_layers(6, 3) == [1, 3, 5]
    for i, j in enumerate([2, 5]):
        got, want = small.bert.encoder.layer[i].output.dense.weight, teacher.bert.encoder.layer[j].output.dense.weight
        assert torch.equal(got, want)
    assert torch.equal(small.classifier.weight, teacher.classifier.weight)


def test_mean_pooled_teacher_shrinks_too(head_model: Path) -> None:
    teacher = load(head_model)
    small = shrink(teacher.model, 3).eval()
    assert small.config.num_hidden_layers == 3 and len(small.encoder.encoder.layer) == 3
    inputs = teacher.tokenizer(["a fine film"], return_tensors="pt")
    assert small(**inputs).logits.shape == (1, 2)


def test_loss_is_cross_entropy_alone_when_student_matches_teacher() -> None:
    logits, labels = torch.tensor([[2.0, -1.0], [0.5, 0.3]]), torch.tensor([0, 1])
    ce = torch.nn.functional.cross_entropy(logits, labels)
    loss = get_task("multi-class").distill_loss(logits, labels.numpy(), ModelSettings(["a", "b"], 8),
                                                torch.device("cpu"), temperature=2.0, alpha=0.5)
    assert loss(logits, [0, 1]) == pytest.approx(0.5 * ce.item())


def test_too_many_student_layers_are_refused(full_model: Path, data_dir: Path, monkeypatch, capsys) -> None:
    with pytest.raises(TextsiftError, match="between 1 and 5 layers"):
        pick_layers(6, 6)
    assert run_cli(monkeypatch, "distill", str(full_model), str(data_dir / "train.csv"), "--layers", "9") == 2
    assert "the student needs between 1 and 5 layers" in capsys.readouterr().err


@pytest.mark.parametrize("teacher_fixture", ["regression_model", "multilabel_model"])
def test_every_task_distils_into_a_folder_of_the_same_task(teacher_fixture: str, request: pytest.FixtureRequest,
                                                           tmp_path: Path) -> None:
    teacher_dir: Path = request.getfixturevalue(teacher_fixture)
    teacher = load(teacher_dir)
    data = Path(json.loads((teacher_dir / "textsift.json").read_text())["data"]["train"]["file"]).parent
    cfg = DistillConfig(teacher=teacher_dir, train_file=data / "train.csv", validation_file=data / "validation.csv",
                        out=tmp_path / "student", layers=2, epochs=1, batch_size=16, num_threads=2)
    student = load(distill(cfg))
    assert student.settings.task == teacher.settings.task and student.model.config.num_hidden_layers == 2
    # The columns come from the teacher's training run (valence; tags split at ';'), not the defaults.
    assert student.settings.data_columns() == teacher.settings.data_columns()
    assert student.settings.target_scaling == teacher.settings.target_scaling
    if teacher.settings.thresholds is not None:
        assert student.settings.thresholds is not None and len(student.settings.thresholds) == len(student.labels)
    answers = student.predict(["a warm and funny film", "Command-line tool to convert images"])
    assert len(answers) == 2 and all(isinstance(a, type(teacher.predict(["x"])[0])) for a in answers)
