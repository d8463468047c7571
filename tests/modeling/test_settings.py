from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import copy_model
from textsift import TextsiftError, load
from textsift.modeling.settings import FORMAT_VERSION, ModelSettings, read_settings, update_settings, write_settings

FORMAT_1 = Path(__file__).parents[1] / "data" / "format-1"
TEXTS = ["a gripping, beautifully acted story", "dull and far too long", "ok"]


def with_settings(folder: Path, target: Path, settings_file: Path) -> Path:
    copy = copy_model(folder, target)
    shutil.copy(settings_file, copy / "textsift.json")
    return copy


@pytest.mark.parametrize("name", ["torch.json", "distill.json"])
def test_a_format_1_torch_folder_loads_and_predicts_as_before(full_model: Path, tmp_path: Path, name: str) -> None:
    old = with_settings(full_model, tmp_path / "old", FORMAT_1 / name)
    assert json.loads((old / "textsift.json").read_text())["format"] == 1
    assert load(old).logits(TEXTS) == pytest.approx(load(full_model).logits(TEXTS), abs=1e-6)
    assert read_settings(old).strategy == json.loads((FORMAT_1 / name).read_text())["strategy"]


def test_a_format_1_onnx_folder_loads_and_predicts_as_before(int8_model: Path, tmp_path: Path) -> None:
    old = with_settings(int8_model, tmp_path / "old", FORMAT_1 / "onnx-int8.json")
    settings = read_settings(old)
    assert settings.backend == "onnx" and settings.onnx is not None and settings.onnx.pad_token_id == 0
    assert load(old).predict(TEXTS) == load(int8_model).predict(TEXTS)


def test_new_folders_are_written_in_the_current_format_with_every_field(full_model: Path) -> None:
    raw = json.loads((full_model / "textsift.json").read_text())
    assert raw["format"] == FORMAT_VERSION == 2
    assert set(raw) == {"format"} | {name for name in ModelSettings.__dataclass_fields__ if name != "extra"}


def test_settings_survive_a_write_and_a_read(full_model: Path, tmp_path: Path) -> None:
    settings = read_settings(full_model)
    tmp_path.joinpath("copy").mkdir()
    write_settings(tmp_path / "copy", settings)
    assert read_settings(tmp_path / "copy") == settings


def test_unknown_keys_are_kept_when_the_file_is_rewritten(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    raw = json.loads((folder / "textsift.json").read_text())
    (folder / "textsift.json").write_text(json.dumps({**raw, "owner": "team-a"}))
    update_settings(folder, temperature=0.5)
    rewritten = json.loads((folder / "textsift.json").read_text())
    assert rewritten["owner"] == "team-a" and rewritten["temperature"] == 0.5


def test_a_folder_from_a_newer_textsift_is_one_clear_error(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    raw = json.loads((folder / "textsift.json").read_text())
    (folder / "textsift.json").write_text(json.dumps({**raw, "format": FORMAT_VERSION + 1}))
    with pytest.raises(TextsiftError, match=r"textsift.json: written by a newer textsift \(format 3\); upgrade"):
        load(folder)


@pytest.mark.parametrize(("change", "message"), [
    ({"pooling": "max"}, "pooling must be one of cls, mean, not 'max'"),
    ({"labels": []}, "labels must be a non-empty list of strings"),
    ({"temperature": -1}, "temperature must be a positive number"),
    ({"data": {"train": {"file": "x.csv"}}}, "no data.train.sha256"),
])
def test_a_damaged_field_is_one_line_naming_it(full_model: Path, tmp_path: Path, change: dict, message: str) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    raw = json.loads((folder / "textsift.json").read_text())
    (folder / "textsift.json").write_text(json.dumps({**raw, **change}))
    with pytest.raises(TextsiftError, match=message) as error:
        load(folder)
    assert len(str(error.value).splitlines()) == 1


def test_an_onnx_folder_without_its_pad_token_is_refused(int8_model: Path, tmp_path: Path) -> None:
    folder = copy_model(int8_model, tmp_path / "copy")
    raw = json.loads((folder / "textsift.json").read_text())
    del raw["onnx"]["pad_token_id"]
    (folder / "textsift.json").write_text(json.dumps(raw))
    with pytest.raises(TextsiftError, match="no onnx.pad_token_id"):
        load(folder)
