from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from textsift import load
from textsift.errors import TextsiftError
from textsift.inference.torch_backend import Classifier
from textsift.modeling.extend import add_outputs, output_layer

TEXTS = ["a gripping, beautifully acted story", "dull and far too long", "it is a film"]


@pytest.mark.parametrize("fixture", ["full_model", "head_model"])
def test_a_grown_head_keeps_the_old_logits_exactly(fixture: str, request: pytest.FixtureRequest) -> None:
    model = load(request.getfixturevalue(fixture))
    assert isinstance(model, Classifier)
    before = model.logits(TEXTS)
    add_outputs(model.model, model.labels, ["neutral", "mixed"])
    model.settings.labels = [*model.labels, "neutral", "mixed"]
    after = model.logits(TEXTS)
    assert after.shape == (3, 4)
    assert np.array_equal(after[:, :2], before)


def test_the_config_names_the_new_labels_after_the_old(full_model: Path) -> None:
    model = load(full_model)
    assert isinstance(model, Classifier)
    add_outputs(model.model, model.labels, ["neutral"])
    assert model.model.config.id2label == {0: "negative", 1: "positive", 2: "neutral"}
    assert model.model.config.num_labels == 3 and model.model.config.label2id["neutral"] == 2
    assert output_layer(model.model, 3).weight.shape[0] == 3


def test_new_rows_start_small_and_are_seeded(full_model: Path) -> None:
    rows = []
    for _ in range(2):
        model = load(full_model)
        assert isinstance(model, Classifier)
        add_outputs(model.model, model.labels, ["neutral"], seed=3)
        rows.append(output_layer(model.model, 3).weight[2].detach().clone())
    assert torch.equal(rows[0], rows[1]) and rows[0].abs().max().item() < 0.2


def test_a_model_without_an_output_of_that_width_is_one_clear_error() -> None:
    with pytest.raises(TextsiftError, match="cannot find the output layer"):
        output_layer(torch.nn.Linear(3, 5), 2)
