"""LoRA (modeling/lora.py): one real run on the 240-row slice; the folder it writes reloads, merges and exports with
parity, through textsift, plain transformers and PEFT alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from tests.helpers import run_cli, small_config
from textsift import export, load, train
from textsift.config import LoraConfig
from textsift.data.io import read_table
from textsift.inference.torch_backend import Classifier
from textsift.modeling import lora
from textsift.modeling.build import build, resolve_backbone
from textsift.modeling.settings import ModelSettings

pytest.importorskip("peft")
from peft import PeftModel  # noqa: E402
from peft.tuners.lora import LoraLayer  # noqa: E402

# MiniLM: 6 layers; query and value adapters of rank 8 on 384 x 384 projections, plus the CLS pooler's dense layer
# and the 2-label classifier.
EXPECTED_TRAINABLE = 6 * 2 * (384 * 8 + 8 * 384) + (384 * 384 + 384) + (384 * 2 + 2)


@pytest.fixture(scope="module")
def run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Classifier]]:
    """One epoch of LoRA (default settings) and the classifier as training left it, adapters unmerged."""
    seen: list[Classifier] = []
    real_save = lora.save

    def keep_classifier(classifier: Classifier, folder: Path | str) -> Path:
        seen.append(classifier)
        return real_save(classifier, folder)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lora, "save", keep_classifier)
        folder = train(small_config(data_dir, tmp_path_factory.mktemp("lora"), strategy="lora", learning_rate=None))
    yield folder, seen[-1]


@pytest.fixture(scope="module")
def reloaded(run: tuple[Path, Classifier]) -> Classifier:
    classifier = load(run[0])
    assert isinstance(classifier, Classifier)
    return classifier


@pytest.fixture(scope="module")
def texts(data_dir: Path) -> list[str]:
    return read_table(data_dir / "test.csv").texts


def settings_of(folder: Path) -> dict:
    return json.loads((folder / "textsift.json").read_text())


def test_lora_trains_under_two_percent_of_the_weights_and_records_the_count(run: tuple[Path, Classifier]) -> None:
    parameters = settings_of(run[0])["parameters"]
    assert parameters["trainable"] == EXPECTED_TRAINABLE
    assert parameters["trainable"] / parameters["total"] < 0.02


def test_the_folder_lists_the_adapter_and_says_how_it_was_trained(run: tuple[Path, Classifier]) -> None:
    settings = settings_of(run[0])
    assert (settings["strategy"], settings["adapter"], settings["pooling"]) == ("lora", "adapter", "cls")
    assert {"adapter/adapter_model.safetensors", "adapter/adapter_config.json"} <= set(settings["files"])
    adapter_config = json.loads((run[0] / "adapter" / "adapter_config.json").read_text())
    assert (adapter_config["r"], sorted(adapter_config["target_modules"])) == (8, ["query", "value"])


def test_training_goes_on_with_unmerged_adapters_after_a_save(run: tuple[Path, Classifier]) -> None:
    layers = [m for m in run[1].model.modules() if isinstance(m, LoraLayer)]
    assert len(layers) == 12 and not any(layer.merged for layer in layers)


def test_the_saved_weights_are_the_adapters_merged_into_the_backbone(run: tuple[Path, Classifier]) -> None:
    name = "encoder.layer.0.attention.self.query.weight"
    with safe_open(str(resolve_backbone("default") + "/model.safetensors"), "pt") as f:
        original = f.get_tensor(name)
    with safe_open(str(run[0] / "model.safetensors"), "pt") as f:
        merged = f.get_tensor(f"bert.{name}")
        assert not any("lora_" in key for key in f.keys())
    model = run[1].model.get_base_model().bert.encoder.layer[0].attention.self.query
    update = model.get_delta_weight("default").detach()
    assert update.abs().max() > 1e-5  # the adapter learned something to merge
    torch.testing.assert_close(merged, original + update)


def test_textsift_reloads_the_folder_with_the_trained_models_logits(run: tuple[Path, Classifier], reloaded: Classifier,
                                                                    texts: list[str]) -> None:
    assert not isinstance(reloaded.model, PeftModel)
    np.testing.assert_allclose(reloaded.logits(texts), run[1].logits(texts), atol=1e-4)


def test_plain_transformers_loads_the_merged_folder_without_peft(run: tuple[Path, Classifier], reloaded: Classifier,
                                                                 texts: list[str]) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = run[0]
    model, info = AutoModelForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    assert type(model).__name__ == "BertForSequenceClassification"
    assert not info["missing_keys"] and not info["unexpected_keys"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.inference_mode():
        logits = model.eval()(**tokenizer(texts, padding=True, truncation=True, return_tensors="pt")).logits
    np.testing.assert_allclose(logits.numpy(), reloaded.logits(texts), atol=1e-4)


def test_the_adapter_on_the_backbone_reproduces_the_merged_logits(run: tuple[Path, Classifier], reloaded: Classifier,
                                                                  texts: list[str]) -> None:
    base, _ = build("default", reloaded.labels, "cls")
    adapted = Classifier(PeftModel.from_pretrained(base, run[0] / "adapter"), reloaded.tokenizer, reloaded.settings)
    np.testing.assert_allclose(adapted.logits(texts), reloaded.logits(texts), atol=1e-4)


def test_the_merged_folder_exports_to_onnx_with_parity(run: tuple[Path, Classifier], data_dir: Path,
                                                       tmp_path: Path) -> None:
    out = export(run[0], tmp_path / "onnx", validate=data_dir / "validation.csv")
    parity = settings_of(out)["parity"]
    assert parity["fp32"]["label_agreement"] == 1.0
    assert parity["fp32"]["max_abs_logit_diff"] <= parity["tolerance"]
    assert settings_of(out)["strategy"] == "lora"


def test_a_mean_pooling_head_trains_in_full_beside_the_adapters() -> None:
    model, tokenizer = build("default", ["neg", "pos"], "mean", head_hidden_size=16)
    classifier = Classifier(model, tokenizer, ModelSettings(["neg", "pos"], 128, "mean"))
    lora.attach(classifier, LoraConfig())
    trainable = {name for name, p in classifier.model.named_parameters() if p.requires_grad}
    assert classifier.pooling == "mean"
    assert {n for n in trainable if "lora_" not in n} == {
        f"base_model.model.{part}.modules_to_save.default.{leaf}"
        for part, leaf in (("classifier", "weight"), ("classifier", "bias"), ("hidden", "0.weight"),
                           ("hidden", "0.bias"))}
    assert len([n for n in trainable if "lora_" in n]) == 6 * 2 * 2


def test_a_target_naming_no_backbone_layer_is_one_clear_error(data_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture) -> None:
    code = run_cli(monkeypatch, "train", str(data_dir / "train.csv"), "--out", str(tmp_path / "m"),
                   "--strategy", "lora", "--lora-targets", "query,qurey", "--epochs", "1")
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if line.startswith("error: ")]  # after the backbone's loading bar
    assert code == 2 and len(errors) == 1 and err.endswith(errors[0]) and "Traceback" not in err
    assert "'qurey' names no linear layer of the backbone" in errors[0] and "dense, key, query, value" in errors[0]


def test_a_mean_pooled_folder_reloads_with_the_adapted_models_logits(texts: list[str], tmp_path: Path) -> None:
    model, tokenizer = build("default", ["neg", "pos"], "mean", head_hidden_size=16)
    classifier = Classifier(model, tokenizer, ModelSettings(["neg", "pos"], 128, "mean"))
    lora.attach(classifier, LoraConfig())
    torch.manual_seed(0)
    for name, p in classifier.model.named_parameters():
        if "lora_B" in name:  # zero at the start; a trained adapter's are not
            torch.nn.init.normal_(p, std=0.02)
    reloaded = load(lora.save(classifier, tmp_path / "mean"))
    assert reloaded.settings.pooling == "mean" and (tmp_path / "mean" / "modeling_textsift.py").is_file()
    np.testing.assert_allclose(reloaded.logits(texts), classifier.logits(texts), atol=1e-4)
