"""A folder is used only when it is whole and says what its weights do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import copy_model
from textsift import TextsiftError, load
from textsift.modeling import folder as model_folder
from textsift.modeling.settings import REMOTE_CODE_FILE, read_settings

TEXTS = ["a fine film", "dull and far too long"]


def edit_settings(folder: Path, **changes: object) -> None:
    raw = json.loads((folder / "textsift.json").read_text())
    (folder / "textsift.json").write_text(json.dumps({**raw, **changes}))


def test_swapped_labels_are_refused(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    edit_settings(folder, labels=["positive", "negative"])
    with pytest.raises(TextsiftError, match=r"orders the labels \['positive', 'negative'\] but the weights were saved "
                                            r"with \['negative', 'positive'\]; every prediction would be mislabelled"):
        load(folder)


def test_a_wrong_label_count_is_refused(full_model: Path, tmp_path: Path) -> None:
    folder = copy_model(full_model, tmp_path / "copy")
    edit_settings(folder, labels=["negative", "neutral", "positive"])
    with pytest.raises(TextsiftError, match=r"textsift.json has 3 labels .* but the weights were saved with 2"):
        load(folder)


def test_a_planted_model_code_file_is_refused(head_model: Path, tmp_path: Path) -> None:
    folder = copy_model(head_model, tmp_path / "copy")
    with (folder / REMOTE_CODE_FILE).open("a") as f:
        f.write("\nimport os  # anything could run here under trust_remote_code=True\n")
    with pytest.raises(TextsiftError, match=rf"{REMOTE_CODE_FILE}: differs from the sha256 recorded"):
        load(folder)


def test_the_model_card_gives_the_hash_of_the_model_code(head_model: Path) -> None:
    expected = read_settings(head_model).files[REMOTE_CODE_FILE]
    assert f"sha256({REMOTE_CODE_FILE}) == {expected}" in (head_model / "README.md").read_text()


def test_a_save_cut_short_is_refused_not_half_used(full_model: Path, head_model: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Saving another model over a folder dies after the weights are in place, before textsift.json is.
    folder = copy_model(full_model, tmp_path / "copy")
    other = load(head_model)

    def die(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(model_folder, "write_settings", die)
    with pytest.raises(KeyboardInterrupt):
        other.save(folder)
    with pytest.raises(TextsiftError, match=r"differs from the sha256 recorded in textsift.json; the folder was "
                                            r"changed or half-written"):
        load(folder)


def test_weights_are_readable_by_others_like_any_file(full_model: Path) -> None:
    assert (full_model / "model.safetensors").stat().st_mode & 0o044 == 0o044
