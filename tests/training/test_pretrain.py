"""Masked-LM pre-training on the real default backbone: held-out loss falls, the folder trains, words mask whole."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tests.conftest import shared
from tests.helpers import run_cli, small_config
from textsift.modeling.build import resolve_backbone
from textsift.training import pretrain as pt

STEPS = 20


@pytest.fixture(scope="module")
def texts_file(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 240 training texts as a .txt file, one per line, with two blank lines to drop."""
    with (data_dir / "train.csv").open(newline="") as f:
        texts = [row["text"].replace("\n", " ") for row in csv.DictReader(f)]
    path = tmp_path_factory.mktemp("text") / "reviews.txt"
    path.write_text("\n".join(texts[:100] + ["", "   "] + texts[100:]) + "\n")
    return path


@pytest.fixture(scope="module")
def backbone(texts_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A backbone pre-trained for 20 steps through the CLI."""
    out = tmp_path_factory.mktemp("pretrained") / "reviews"
    with pytest.MonkeyPatch.context() as mp:
        code = run_cli(mp, "pretrain", str(texts_file), "--out", str(out), "--steps", str(STEPS), "--validate-every",
                       "10", "--batch-size", "8", "--max-length", "32", "--learning-rate", "1e-4",
                       "--num-threads", "2")
    assert code == 0
    yield from shared(out)


def test_pretraining_lowers_held_out_mlm_loss(backbone: Path) -> None:
    summary = json.loads((backbone / pt.SUMMARY).read_text())
    before, after = summary["validation_before"], summary["validation_after"]
    assert summary["steps"] == STEPS and summary["backbone"] == "all-MiniLM-L6-v2"
    assert after["mlm_loss"] < before["mlm_loss"] - 1.0
    assert after["perplexity"] == pytest.approx(2.718281828 ** after["mlm_loss"], rel=1e-6)
    # 240 texts and 2 blank lines: 24 texts (10%) held out.
    assert summary["data"]["train"]["texts"] == 216 and summary["data"]["validation"]["texts"] == 24
    assert summary["data"]["train"]["blank_lines_dropped"] == 2


def test_the_backbone_keeps_the_pooler_it_was_given(backbone: Path) -> None:
    # The MLM model has no pooler; the folder carries the original one so a CLS classifier does not start random.
    with safe_open(str(backbone / "model.safetensors"), "pt") as new, \
         safe_open(str(Path(resolve_backbone("default")) / "model.safetensors"), "pt") as old:
        assert torch.equal(new.get_tensor("bert.pooler.dense.weight"), old.get_tensor("pooler.dense.weight"))


def test_the_backbone_loads_as_a_cls_classifier_with_its_trained_encoder(backbone: Path) -> None:
    from textsift.modeling.build import build

    model, _ = build(str(backbone), ["negative", "positive"], "cls")
    with safe_open(str(backbone / "model.safetensors"), "pt") as f:
        for name in ("bert.encoder.layer.5.output.dense.weight", "bert.pooler.dense.weight"):
            assert torch.equal(model.state_dict()[name], f.get_tensor(name))
    assert type(model).__name__ == "BertForSequenceClassification" and model.config.num_labels == 2


def test_the_backbone_trains_a_mean_pooled_head(backbone: Path, data_dir: Path, tmp_path: Path) -> None:
    from textsift import train
    from textsift.config import ModelConfig

    cfg = small_config(data_dir, tmp_path / "head", strategy="head", learning_rate=None,
                       model=ModelConfig(backbone=str(backbone), max_length=32))
    metrics = json.loads((train(cfg) / "metrics.json").read_text())
    assert json.loads((tmp_path / "head" / "textsift.json").read_text())["backbone"] == str(backbone)
    assert metrics["validation"]["accuracy"] > 0.6  # two balanced classes: a head on a broken encoder sits near 0.5


def test_whole_word_masking_masks_every_piece_of_a_word() -> None:
    location = resolve_backbone("default")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location)
    text = "an unbelievably underwhelming snowboarding documentary"
    feats = pt.tokenize(tokenizer, [text] * 16 + ["short"], 32)
    batch = pt.collate(pt.masker(tokenizer, 0.5, seed=0), feats)
    masked = batch["labels"][:16] != -100
    # Token positions 2-6 are un ##bel ##ie ##va ##bly, 7-10 under ##w ##helm ##ing, 11-12 snow ##boarding.
    for first, last in ((2, 6), (7, 10), (11, 12)):
        word = masked[:, first:last + 1]
        assert torch.equal(word.all(dim=1), word.any(dim=1))
    assert masked[:, 2:7].all(dim=1).any() and not masked[:, 2:7].all()
    assert (batch["input_ids"][:16][masked] == tokenizer.mask_token_id).all()
    assert not (batch["labels"][16] != -100)[3:].any()  # the short text's padding is never masked


def test_a_file_with_no_text_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "empty.txt").write_text("\n  \n\n")
    assert run_cli(monkeypatch, "pretrain", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "b")) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'empty.txt'}: no text (every line is blank); write one text per line"


def test_txt_lines_are_stripped_and_blank_ones_counted(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("  first text \n\n\tsecond\n \n")
    found = pt.read_texts(tmp_path / "t.txt", "text")
    assert (found.texts, found.dropped) == (["first text", "second"], 2)


def test_a_table_is_read_by_its_text_column(tmp_path: Path) -> None:
    rows = [{"review": " good film ", "stars": 5}, {"review": "dull", "stars": 1}]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = pt.read_texts(tmp_path / "t.jsonl", "review")
    assert (found.texts, found.dropped) == (["good film", "dull"], 0)


def test_the_loss_over_masked_positions_only_equals_the_models_own() -> None:
    model, tokenizer, _ = pt.load_mlm("default")
    texts = ["a gripping, beautifully acted story", "the plot is thin and the jokes fall flat"] * 8
    batch = pt.collate(pt.masker(tokenizer, 0.3, seed=1), pt.tokenize(tokenizer, texts, 32))
    model.eval()
    with torch.no_grad():
        assert pt.masked_loss(model, batch).item() == pytest.approx(model(**batch).loss.item(), rel=1e-5)
    assert pt.mlm_head(model) is model.cls
