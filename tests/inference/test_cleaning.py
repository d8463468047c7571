"""A model trained with --mask-pii: its folder records the cleaning, and predict, ONNX, serve and monitor apply it
exactly as training did (no train/serve skew)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import small_config
from tests.serving.helpers import serving
from textsift.config import CleanConfig
from textsift.inference.load import load
from textsift.modeling.settings import read_settings

WITH_PII = "Loved it! Tell jane.doe@example.com or ring (415) 555-0100, card 4111 1111 1111 1111."
MASKED = "Loved it! Tell <EMAIL> or ring <PHONE>, card <CARD>."


@pytest.fixture(scope="module")
def masked_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A head model trained on the slice with personal data masked (one epoch: the behaviour, not the score)."""
    from textsift.training.train import train

    out = tmp_path_factory.mktemp("masked") / "model"
    train(small_config(data_dir, out, strategy="head", epochs=1, clean=CleanConfig(mask_pii=True)))
    yield out


def test_the_folder_records_the_cleaning(masked_model: Path) -> None:
    cleaning = read_settings(masked_model).cleaning
    assert cleaning == CleanConfig(mask_pii=True)
    raw = json.loads((masked_model / "textsift.json").read_text())
    assert raw["cleaning"]["mask_pii"] is True and raw["train_config"]["clean"]["mask_pii"] is True


def test_the_model_card_says_how_to_clean_inputs_outside_textsift(masked_model: Path) -> None:
    card = (masked_model / "README.md").read_text()
    assert "## Cleaning" in card and "personal data masked (all; phone region US)" in card


def test_predict_reads_the_masked_text(masked_model: Path) -> None:
    model = load(masked_model)
    assert model.prepare([WITH_PII]) == [MASKED]
    np.testing.assert_array_equal(model.logits([WITH_PII]), model.logits([MASKED]))
    model.settings.cleaning = None  # the same weights reading the raw text answer differently
    assert not np.array_equal(model.logits([WITH_PII]), model.logits([MASKED]))


def test_a_folder_without_cleaning_reads_the_text_as_it_is(head_model: Path) -> None:
    model = load(head_model)
    model.settings.cleaning = None
    assert model.prepare([WITH_PII + "  "]) == [WITH_PII + "  "]


def test_the_onnx_export_masks_too(masked_model: Path, tmp_path: Path) -> None:
    from textsift.exporting.onnx import export

    folder = export(masked_model, tmp_path / "onnx")
    onnx = load(folder)
    assert read_settings(folder).cleaning == CleanConfig(mask_pii=True)
    np.testing.assert_allclose(onnx.scores([WITH_PII]), load(masked_model).scores([MASKED]), atol=1e-4)


def test_the_server_masks_what_it_is_sent(masked_model: Path) -> None:
    model = load(masked_model)
    with serving(masked_model, model) as client:
        raw = client.post("/v1/predict", json={"text": WITH_PII}).json()
        masked = client.post("/v1/predict", json={"text": MASKED}).json()
    assert raw["predictions"] == masked["predictions"]


def test_the_monitor_stores_only_the_masked_text(masked_model: Path, tmp_path: Path) -> None:
    from textsift.monitor.config import IngestConfig
    from textsift.monitor.pipeline import Pipeline
    from textsift.monitor.stream import Event

    pipeline = Pipeline(masked_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db", int8=False))
    pipeline.ingest([Event("1", 1_800_000_000.0, "web", WITH_PII)])
    with pipeline.store.read() as conn:
        stored = conn.exec_driver_sql("select text from events").scalar_one()
    assert stored == MASKED
