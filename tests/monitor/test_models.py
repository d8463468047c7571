"""Which folder the monitor scores with: the int8 export of a torch folder by default, found or made once."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from textsift.errors import TextsiftError
from textsift.modeling.settings import SETTINGS_FILE, read_settings, update_settings
from textsift.monitor import models
from textsift.monitor.config import IngestConfig
from textsift.monitor.models import cache_folder, scoring_folder
from textsift.monitor.pipeline import Pipeline


def linked(folder: Path, out: Path) -> Path:
    """A cheap copy of a model folder: its files linked, its textsift.json its own (so it can be changed)."""
    out.mkdir(parents=True)
    for path in folder.iterdir():
        if path.name != SETTINGS_FILE:
            (out / path.name).symlink_to(path)
    shutil.copy(folder / SETTINGS_FILE, out / SETTINGS_FILE)
    return out


@pytest.fixture
def torch_folder(full_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEXTSIFT_CACHE", str(tmp_path / "cache"))
    return linked(full_model, tmp_path / "models" / "reviews")


def export_of(int8_model: Path, torch: Path, out: Path) -> Path:
    """`int8_model` as if exported from `torch` into `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    update_settings(linked(int8_model, out), source=str(torch))
    return out


def test_an_onnx_folder_is_scored_with_as_given(int8_model: Path) -> None:
    assert scoring_folder(int8_model) == (int8_model, f"{int8_model} (ONNX int8, as given)")


def test_an_int8_export_beside_the_torch_folder_is_picked(torch_folder: Path, int8_model: Path) -> None:
    beside = export_of(int8_model, torch_folder, torch_folder.parent / "reviews-int8")
    folder, described = scoring_folder(torch_folder)
    assert folder == beside and described == f"{beside} (int8 ONNX export of {torch_folder}, found beside it)"


def test_an_export_older_than_the_torch_folder_is_not_picked(torch_folder: Path, int8_model: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    beside = export_of(int8_model, torch_folder, torch_folder.parent / "reviews-int8")
    later = (beside / SETTINGS_FILE).stat().st_mtime + 10
    os.utime(torch_folder / SETTINGS_FILE, (later, later))  # trained again after the export
    monkeypatch.setattr(models, "_export", lambda model_dir, out: export_of(int8_model, model_dir, out))
    folder, described = scoring_folder(torch_folder)
    assert folder == cache_folder(torch_folder) and described.endswith("made now into the cache)")


def test_without_an_export_one_is_made_once_into_the_cache(torch_folder: Path, int8_model: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Path] = []
    monkeypatch.setattr(models, "_export", lambda model_dir, out: made.append(out) or export_of(int8_model,
                                                                                                model_dir, out))
    first, second = scoring_folder(torch_folder), scoring_folder(torch_folder)
    assert made == [first[0]] and first[0] == second[0] == cache_folder(torch_folder)
    assert first[0].parent == torch_folder.parent.parent / "cache" / "monitor-int8"
    assert second[1] == f"{first[0]} (int8 ONNX export of {torch_folder}, from the cache)"


def test_no_int8_keeps_the_torch_folder(torch_folder: Path, int8_model: Path) -> None:
    export_of(int8_model, torch_folder, torch_folder.parent / "reviews-int8")
    assert scoring_folder(torch_folder, int8=False) == (torch_folder, f"{torch_folder} (torch, as given with "
                                                                       "--no-int8)")


def test_a_failed_export_scores_with_the_torch_folder_and_says_why(torch_folder: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    def refuse(model_dir: Path, out: Path) -> Path:
        raise TextsiftError("onnx is not installed")

    monkeypatch.setattr(models, "_export", refuse)
    with caplog.at_level(logging.WARNING, logger="textsift"):
        assert scoring_folder(torch_folder) == (torch_folder, f"{torch_folder} (torch; the int8 export failed)")
    assert "no int8 export of it could be made (onnx is not installed)" in caplog.text


def test_the_pipeline_scores_with_the_export_and_attributes_with_the_torch_folder(
        torch_folder: Path, int8_model: Path, tmp_path: Path) -> None:
    beside = export_of(int8_model, torch_folder, torch_folder.parent / "reviews-int8")
    pipeline = Pipeline(torch_folder, IngestConfig(db=f"sqlite:///{tmp_path}/m.db"))
    assert (pipeline.model_dir, pipeline.model) == (beside, "reviews-int8")
    assert pipeline.predictor.settings.backend == "onnx" and pipeline.explainer() is not None
    assert read_settings(pipeline.model_dir).source == str(torch_folder)
    pipeline.close()


def test_a_real_export_lands_in_the_cache_and_is_reused(full_model: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTSIFT_CACHE", str(tmp_path / "cache"))
    torch = linked(full_model, tmp_path / "reviews")
    folder, described = scoring_folder(torch)
    settings = read_settings(folder)
    assert folder == cache_folder(torch) and described.endswith("made now into the cache)")
    assert (settings.backend, settings.quantize, settings.source) == ("onnx", "int8", str(torch.resolve()))
    assert scoring_folder(torch)[1].endswith("from the cache)")
