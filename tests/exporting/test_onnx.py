from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import run_cli
from textsift import TextsiftError, evaluate, export, load
from textsift.data.io import read_table
from textsift.exporting import onnx as export_module
from textsift.inference.onnx_backend import OnnxClassifier
from textsift.modeling.card import onnx_snippet
from textsift.modeling.settings import read_settings, update_settings


@pytest.fixture(scope="module")
def onnx_folder(full_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(full_model, tmp_path_factory.mktemp("onnx") / "fp32", validate=data_dir / "validation.csv")


@pytest.fixture(scope="module")
def int8_folder(int8_model: Path) -> Path:
    return int8_model


def texts_of(data_dir: Path) -> list[str]:
    return read_table(data_dir / "test.csv").texts


def copy_small_files(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("model.onnx"))
    return target


def test_fp32_folder_predicts_like_the_torch_model(onnx_folder: Path, full_model: Path, data_dir: Path) -> None:
    texts = texts_of(data_dir)
    onnx_clf, torch_clf = load(onnx_folder), load(full_model)
    assert isinstance(onnx_clf, OnnxClassifier)
    assert onnx_clf.predict(texts) == torch_clf.predict(texts)
    assert np.abs(onnx_clf.logits(texts, batch_size=7) - torch_clf.logits(texts)).max() < 1e-3


def test_exported_folder_is_self_contained_and_records_parity(onnx_folder: Path) -> None:
    for name in ("model.onnx", "tokenizer.json", "config.json", "textsift.json", "metrics.json", "README.md"):
        assert (onnx_folder / name).is_file(), name
    settings = json.loads((onnx_folder / "textsift.json").read_text())
    assert settings["backend"] == "onnx" and settings["quantize"] is None and settings["strategy"] == "full"
    assert settings["parity"]["sample"] == 30 and settings["parity"]["fp32"]["label_agreement"] == 1.0
    assert json.loads((onnx_folder / "metrics.json").read_text())["export"] == settings["parity"]
    assert "import onnxruntime as ort" in (onnx_folder / "README.md").read_text()


def test_int8_folder_loads_predicts_and_records_the_accuracy_change(int8_folder: Path, full_model: Path,
                                                                      data_dir: Path) -> None:
    texts = texts_of(data_dir)
    labels = load(int8_folder).predict(texts)
    agreement = np.mean([a == b for a, b in zip(labels, load(full_model).predict(texts), strict=True)])
    assert agreement >= 0.9
    settings = json.loads((int8_folder / "textsift.json").read_text())
    assert settings["quantize"] == "int8"
    change = settings["parity"]["validation"]
    assert change["n"] == 30 and change["delta_points"] == pytest.approx(
        100 * (change["onnx_accuracy"] - change["torch_accuracy"]), abs=0.01)
    assert (int8_folder / "model.onnx").stat().st_size < 0.4 * (full_model / "model.safetensors").stat().st_size


def test_evaluate_scores_an_onnx_folder_like_the_torch_one(onnx_folder: Path, full_model: Path, data_dir: Path,
                                                           tmp_path: Path) -> None:
    got = evaluate(onnx_folder, data_dir / "test.csv", tmp_path / "onnx")
    expected = evaluate(full_model, data_dir / "test.csv", tmp_path / "torch")
    assert got["n"] == 30 and got["confusion_matrix"] == expected["confusion_matrix"]


def test_predict_command_reads_an_onnx_folder(onnx_folder: Path, data_dir: Path, monkeypatch, capsys) -> None:
    assert run_cli(monkeypatch, "predict", str(onnx_folder), str(data_dir / "test.csv")) == 0
    assert len(capsys.readouterr().out.splitlines()) == 30


def test_probabilities_use_the_folder_temperature(onnx_folder: Path) -> None:
    clf = load(onnx_folder)
    texts = ["a fine film", "dull"]
    clf.settings = dataclasses.replace(clf.settings, temperature=2.0)
    logits = clf.logits(texts) / 2.0
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert clf.predict_proba(texts) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("listed", "message"), [
    (True, r"model.onnx: differs from the sha256 recorded in textsift.json"),
    (False, r"model.onnx: cannot load the ONNX graph .*export it again"),
])
def test_corrupt_onnx_file_gives_one_clear_line(onnx_folder: Path, tmp_path: Path, listed: bool,
                                                message: str) -> None:
    folder = copy_small_files(onnx_folder, tmp_path / "broken")
    if not listed:
        update_settings(folder, files={})  # as in a format-1 folder: only ONNX Runtime can tell
    (folder / "model.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(TextsiftError, match=message) as info:
        load(folder)
    assert len(str(info.value).splitlines()) == 1


def test_failing_parity_refuses_to_write(full_model: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(export_module, "compare", lambda *a: {"max_abs_logit_diff": 0.5, "label_agreement": 0.9})
    with pytest.raises(TextsiftError, match="disagrees with the torch model .* nothing written"):
        export(full_model, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_non_empty_out_folder(full_model: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert run_cli(monkeypatch, "export", str(full_model), "--out", str(tmp_path)) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


def test_torch_free_snippet_gets_the_same_labels(int8_folder: Path) -> None:
    # The README snippet, run where importing torch fails: onnxruntime, tokenizers and numpy must be enough.
    code = 'import sys\nsys.modules["torch"] = None\n' + onnx_snippet(str(int8_folder), read_settings(int8_folder))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = load(int8_folder).predict(["a gripping, beautifully acted story", "dull and far too long"])
    assert done.stdout.strip() == str(expected)


def test_a_truncated_tokenizer_in_an_unlisted_onnx_folder_is_one_line(onnx_folder: Path, tmp_path: Path) -> None:
    folder = copy_small_files(onnx_folder, tmp_path / "broken")
    shutil.copy(onnx_folder / "model.onnx", folder / "model.onnx")
    update_settings(folder, files={})  # as in a format-1 folder: only the tokenizer library can tell
    text = (folder / "tokenizer.json").read_text()
    (folder / "tokenizer.json").write_text(text[: len(text) // 2])
    with pytest.raises(TextsiftError, match=r"tokenizer.json: cannot be read .*export the folder again") as info:
        load(folder)
    assert len(str(info.value).splitlines()) == 1
