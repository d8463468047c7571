from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import small_config
from textsift import FewshotConfig, TextsiftError, TrainConfig, load, train
from textsift.config import DataConfig
from textsift.data.io import read_table
from textsift.inference.torch_backend import Classifier
from textsift.modeling.build import build
from textsift.modeling.settings import ModelSettings
from textsift.tasks.registry import get_task
from textsift.training import fewshot
from textsift.training.pairs import ClassIndex


def _fewshot(data_dir: Path, out: Path, **overrides: object) -> TrainConfig:
    settings: dict = dict(validation_file=None, strategy="fewshot", shots=8, epochs=None, learning_rate=None,
                          batch_size=32)
    settings.update(overrides)
    return small_config(data_dir, out, **settings)


@pytest.fixture(scope="module")
def eight_shot(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """fewshot with its defaults on 8 real movie snippets per class, no validation file."""
    yield train(_fewshot(data_dir, tmp_path_factory.mktemp("fewshot")))


def _held_out(data_dir: Path, model: Path) -> tuple[list[str], list[str]]:
    """Every snippet of the slice the model did not train on (its rehearsal rows are its 16 training rows)."""
    used = {json.loads(line)["text"] for line in (model / "replay" / "train.jsonl").read_text().splitlines()}
    texts, labels = [], []
    for split in ("train", "validation", "test"):
        table = read_table(data_dir / f"{split}.csv")
        for text, label in zip(table.texts, table.labels or [], strict=True):
            if text not in used:
                texts.append(text)
                labels.append(str(label))
    return texts, labels


def test_fewshot_on_eight_examples_a_class_beats_chance_clearly(eight_shot: Path, data_dir: Path) -> None:
    texts, labels = _held_out(data_dir, eight_shot)
    predicted = load(eight_shot).predict(texts)
    accuracy = float(np.mean([p == y for p, y in zip(predicted, labels, strict=True)]))
    assert len(texts) == 300 - 16
    assert accuracy > 0.6  # chance is 0.5; on 284 texts 0.6 is 3.4 standard errors above it


def test_fewshot_trains_on_the_sampled_shots_and_records_its_two_stages(eight_shot: Path) -> None:
    settings = json.loads((eight_shot / "textsift.json").read_text())
    assert settings["strategy"] == "fewshot" and settings["pooling"] == "mean"
    assert settings["data"]["train"]["rows"] == 16 and settings["data"]["train"]["label_counts"] == {
        "negative": 8, "positive": 8}
    assert settings["parameters"]["trainable"] == 384 * 2 + 2  # the linear head on the tuned embeddings
    assert (eight_shot / "contrastive" / "runs").is_dir() and not (eight_shot / "contrastive" / "checkpoint").exists()


def test_without_a_validation_file_fewshot_keeps_its_last_head_epoch(eight_shot: Path) -> None:
    metrics = json.loads((eight_shot / "metrics.json").read_text())
    assert metrics["best_epoch"] == metrics["epochs_run"] == 30  # scored on the training rows, never selected


def test_the_contrastive_stage_pulls_classes_apart(data_dir: Path, tmp_path: Path) -> None:
    cfg = _fewshot(data_dir, tmp_path / "m")
    task = get_task("multi-class")
    table = read_table(data_dir / "train.csv").subset(list(range(48)))
    model, tokenizer = build("default", ["negative", "positive"], "mean")
    classifier = Classifier(model, tokenizer, ModelSettings(["negative", "positive"], 128, "mean"))
    from textsift.training.strategies import encode

    data = encode(classifier, table, table)
    classes = task.class_sets(table)
    index = ClassIndex(classes or [])
    before = fewshot.separation(fewshot.validation_embeddings(classifier, data.ids_val, classifier.device), index)
    fewshot.contrast(cfg, classifier, data, classes, classes, classifier.device)
    after = fewshot.separation(fewshot.validation_embeddings(classifier, data.ids_val, classifier.device), index)
    assert after > before + 0.05


def test_batch_negatives_loss_trains_a_working_folder(data_dir: Path, tmp_path: Path) -> None:
    cfg = _fewshot(data_dir, tmp_path / "m", shots=4, epochs=3,
                   fewshot=FewshotConfig(pair_loss="batch-negatives", pairs_per_example=2))
    folder = train(cfg)
    history = json.loads((folder / "metrics.json").read_text())["history"]
    assert len(history) == 3 and load(folder).predict(["a fine film"])[0] in ("negative", "positive")


def test_fewshot_pairs_multi_label_rows_by_shared_labels(debtags_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(train_file=debtags_dir / "train.csv", out=tmp_path / "m", task="multi-label",
                      strategy="fewshot", shots=4, epochs=2, num_threads=2,
                      data=DataConfig(text_column="text", label_column="tags", label_sep=";"),
                      fewshot=FewshotConfig(pairs_per_example=2))
    folder = train(cfg)
    assert json.loads((folder / "textsift.json").read_text())["task"] == "multi-label"
    assert isinstance(load(folder).predict(["a puzzle game for KDE"])[0], list)


def test_fewshot_refuses_a_task_without_classes(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="fewshot strategy pairs texts by class"):
        TrainConfig(train_file=data_dir / "train.csv", out=tmp_path, task="regression", strategy="fewshot",
                    data=DataConfig(label_column="valence"))


def test_a_fewshot_folder_exports_to_onnx_with_parity(eight_shot: Path, data_dir: Path, tmp_path: Path) -> None:
    from textsift import export

    out = export(eight_shot, tmp_path / "onnx", validate=data_dir / "validation.csv")
    parity = json.loads((out / "textsift.json").read_text())["parity"]
    assert parity["fp32"]["label_agreement"] == 1.0
    assert parity["fp32"]["max_abs_logit_diff"] <= parity["tolerance"]
