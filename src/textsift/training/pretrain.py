"""pretrain(cfg) -> a backbone folder: masked-LM pre-training continued on unlabelled text, through the one loop.

Whole words are masked (every piece of a chosen word at once, transformers' DataCollatorForLanguageModeling), so
the model cannot fill in "##ably" from "unbeliev"; the loss is the cross-entropy of the masked pieces. The model's
own MLM head is used when the backbone ships one; a sentence-embedding backbone such as all-MiniLM-L6-v2 ships none,
so a fresh head is trained (its early loss is high and falls fast). Pointed at a labelled file's own texts, this is
task-adaptive pre-training (Gururangan et al. 2020): `textsift pretrain data/train.csv --out backbones/tapt`, then
`textsift train data/train.csv --backbone backbones/tapt`. The folder written is a plain Hugging Face model folder
(safetensors and tokenizer) plus textsift-pretrain.json, which records the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling

from textsift import __version__, files
from textsift.config import DataConfig, to_jsonable
from textsift.data.batching import sorted_batches
from textsift.data.io import read_table
from textsift.errors import DataError, TextsiftError
from textsift.inference.torch_backend import to_device
from textsift.modeling.build import resolve_backbone
from textsift.training.config import PretrainConfig
from textsift.training.loop import Objective, Scores, fit, prepare

log = logging.getLogger("textsift")
SUMMARY = "textsift-pretrain.json"
Features = dict[str, list[Any]]


@dataclass
class Texts:
    """The texts of one file, and how many blank lines were dropped from it."""

    path: Path
    texts: list[str]
    dropped: int = 0


def pretrain(cfg: PretrainConfig) -> Path:
    """Continue masked-LM pre-training of `cfg.backbone` on `cfg.train_file` for `cfg.steps` steps; the weights
    with the lowest held-out MLM loss land in `cfg.out`, ready for `textsift train --backbone`."""
    started = time.perf_counter()
    device = prepare(cfg, "textsift pretrain")
    train_texts, val_texts = read_pretraining_data(cfg)
    model, tokenizer, carried = load_mlm(cfg.backbone)
    to_device(model, device)
    train_feats = tokenize(tokenizer, train_texts.texts, cfg.max_length)
    val_feats = tokenize(tokenizer, val_texts.texts, cfg.max_length)
    # An epoch of the loop is `validate_every` steps: a short file is repeated, so validation, checkpoints and the
    # best-model save come at a steady pace however small the file is.
    repeats = max(1, math.ceil(min(cfg.validate_every, cfg.steps) * cfg.batch_size / len(train_feats)))
    per_epoch = math.ceil(len(train_feats) * repeats / cfg.batch_size)
    cfg = dataclasses.replace(cfg, epochs=math.ceil(cfg.steps / per_epoch))
    objective = mlm_objective(model, tokenizer, train_feats, val_feats, repeats, cfg, device,
                              lambda: save_backbone(model, tokenizer, cfg.out, carried))
    before = objective.validate().logged
    log.info("held-out MLM loss before pre-training %.4f (perplexity %.1f)", before["mlm_loss"], before["perplexity"])
    state = fit(objective, cfg, device)
    after = next(h for h in state.history if h["epoch"] == state.best_epoch)
    log.info("held-out MLM loss %.4f -> %.4f (perplexity %.1f -> %.1f) after %d steps", before["mlm_loss"],
             after["mlm_loss"], before["perplexity"], after["perplexity"], state.step)
    summary = {
        "backbone": cfg.backbone, "steps": state.step, "best_epoch": state.best_epoch, "textsift_version": __version__,
        "data": {"train": fingerprint(train_texts), "validation": fingerprint(val_texts)},
        "validation_before": before, "validation_after": {k: after[k] for k in before},
        "seconds": round(time.perf_counter() - started, 1), "history": state.history,
        "pretrain_config": to_jsonable(cfg),
    }
    files.write_text(cfg.out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return cfg.out


def read_texts(path: Path, text_column: str) -> Texts:
    """The stripped, non-blank texts of a .txt file (one per line) or of a table's text column."""
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise DataError(path, None, "file not found", "check the path")
        try:
            lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
        except UnicodeDecodeError:
            raise DataError(path, None, "not UTF-8 text", "re-save the file as UTF-8") from None
        texts = [line for line in lines if line]
        found = Texts(path, texts, len(lines) - len(texts))
    else:  # read_table reports an empty cell with its line rather than dropping it
        found = Texts(path, [t.strip() for t in read_table(path, DataConfig(text_column), require_labels=False).texts])
    if not found.texts:
        raise DataError(path, None, "no text (every line is blank)", "write one text per line")
    if found.dropped:
        log.info("%s: dropped %d blank lines, kept %d texts", path, found.dropped, len(found.texts))
    return found


def read_pretraining_data(cfg: PretrainConfig) -> tuple[Texts, Texts]:
    """The training texts and the held-out texts: the validation file's, or a seeded share of the lines."""
    texts = read_texts(cfg.train_file, cfg.data.text_column)
    if cfg.validation_file is not None:
        return texts, read_texts(cfg.validation_file, cfg.data.text_column)
    if len(texts.texts) < 2:
        raise DataError(cfg.train_file, None, "only one text, none left to hold out",
                        "add texts or pass --validation with held-out text")
    order = list(range(len(texts.texts)))
    random.Random(cfg.seed).shuffle(order)
    held = sorted(order[: max(1, round(cfg.validation_split * len(order)))])
    kept = sorted(set(order) - set(held))
    log.info("holding out %d of %d texts for validation", len(held), len(order))
    return (Texts(texts.path, [texts.texts[i] for i in kept], texts.dropped),
            Texts(texts.path, [texts.texts[i] for i in held]))


def fingerprint(texts: Texts) -> dict[str, Any]:
    return {"file": str(texts.path), "sha256": hashlib.sha256(texts.path.read_bytes()).hexdigest(),
            "texts": len(texts.texts), "blank_lines_dropped": texts.dropped}


def load_mlm(backbone: str) -> tuple[torch.nn.Module, Any, dict[str, torch.Tensor]]:
    """The backbone with a masked-LM head, its tokenizer, and the backbone's weights the MLM model has no place
    for (BERT's pooler), which are written back into the saved folder so a CLS classifier built on it starts from
    them rather than from random ones."""
    location = resolve_backbone(backbone)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
        model, info = AutoModelForMaskedLM.from_pretrained(location, use_safetensors=True, output_loading_info=True)
    except (OSError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise TextsiftError(f"cannot load backbone {backbone!r} with a masked-LM head ({first[:160]}); pass a local "
                            "BERT-style model folder") from None
    if not tokenizer.is_fast or tokenizer.mask_token is None:
        raise TextsiftError(f"{backbone}: whole-word masking needs a fast tokenizer with a mask token; pick another "
                            "backbone")
    missing = sorted(info["missing_keys"])
    if missing:
        log.info("%s has no masked-LM head (%d weights missing, e.g. %s): training a fresh one", backbone,
                 len(missing), missing[0])
    else:
        log.info("%s: continuing with its own masked-LM head", backbone)
    return model, tokenizer, _carried_weights(location, model, set(info["unexpected_keys"]))


def _carried_weights(location: str, model: Any, unexpected: set[str]) -> dict[str, torch.Tensor]:
    if not unexpected:
        return {}
    # Hidden cost: a second load of the backbone, once, to read the weights the MLM model dropped.
    prefix = model.base_model_prefix
    base = AutoModel.from_pretrained(location, use_safetensors=True).state_dict()
    carried = {}
    for key in unexpected:
        bare = key.removeprefix(f"{prefix}.")
        if bare in base:
            carried[f"{prefix}.{bare}"] = base[bare].detach().clone().contiguous()
    return carried


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[Features]:
    """Token ids with the character offsets and special-token mask that whole-word masking reads."""
    enc = tokenizer(texts, truncation=True, max_length=max_length, return_offsets_mapping=True,
                    return_special_tokens_mask=True, return_token_type_ids=False)
    return [{k: enc[k][i] for k in ("input_ids", "attention_mask", "special_tokens_mask", "offset_mapping")}
            for i in range(len(texts))]


def collate(collator: DataCollatorForLanguageModeling, feats: list[Features]) -> dict[str, torch.Tensor]:
    """A masked batch. The tokenizer pads every field but the offsets, so they are padded here with (0, 0)
    (padding is a special token, which the collator never masks)."""
    width = max(len(f["input_ids"]) for f in feats)
    padded = [{**f, "offset_mapping": list(f["offset_mapping"]) + [(0, 0)] * (width - len(f["input_ids"]))}
              for f in feats]
    return dict(collator(padded))


def masker(tokenizer: Any, probability: float, seed: int | None) -> DataCollatorForLanguageModeling:
    # Whole-word masking replaces every chosen piece with [MASK] (the collator forces this); saying so up front
    # keeps it from warning.
    return DataCollatorForLanguageModeling(tokenizer, mlm_probability=probability, whole_word_mask=True,
                                           mask_replace_prob=1.0, random_replace_prob=0.0, seed=seed)


def mlm_objective(model: Any, tokenizer: Any, train_feats: list[Features], val_feats: list[Features], repeats: int,
                  cfg: PretrainConfig, device: torch.device, save: Any) -> Objective:
    """Loss = MLM loss of a freshly masked batch; validation = the MLM loss of held-out batches masked once with
    a fixed seed, so every validation scores the same masked tokens and epochs compare."""
    # seed=None: training masks draw from torch's global generator, which the loop seeds and its checkpoints
    # restore, so a resumed run masks exactly as an uninterrupted one would.
    train_masker = masker(tokenizer, cfg.mlm_probability, None)
    val_masker = masker(tokenizer, cfg.mlm_probability, cfg.seed)
    val_batches = [collate(val_masker, [val_feats[i] for i in idx])
                   for idx in sorted_batches([len(f["input_ids"]) for f in val_feats], cfg.batch_size)]
    n = len(train_feats)

    def loss(idx: list[int]) -> torch.Tensor:
        batch = collate(train_masker, [train_feats[i % n] for i in idx])
        return masked_loss(model, {k: v.to(device) for k, v in batch.items()})

    def validate() -> Scores:
        model.eval()
        total, count = 0.0, 0
        with torch.inference_mode():
            for batch in val_batches:
                masked = int((batch["labels"] != -100).sum())
                if masked:
                    total += float(model(**{k: v.to(device) for k, v in batch.items()}).loss) * masked
                    count += masked
        if not count:
            raise TextsiftError("the held-out texts are too short to mask any word; hold out more text")
        mean = total / count
        return Scores("neg_mlm_loss", -mean, {"mlm_loss": mean, "perplexity": math.exp(min(mean, 50.0))})

    lengths = [len(f["input_ids"]) for f in train_feats] * repeats
    return Objective(model, lengths, loss, validate, save)


def mlm_head(model: Any) -> torch.nn.Module | None:
    """The model's MLM head when it is one module beside the encoder (BERT's `cls`, RoBERTa's `lm_head`), else
    None (e.g. DistilBERT spreads its head over three)."""
    heads = [m for name, m in model.named_children() if name != model.base_model_prefix]
    return heads[0] if len(heads) == 1 else None


def masked_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The MLM loss of a masked batch. The head runs on the masked positions only: its vocabulary-wide output
    (30,522 logits per token for BERT) over every token of the batch costs as much as a third of the step, and
    about 15% of the tokens are masked. Without a single head module the model's own forward computes it."""
    labels = batch["labels"]
    where = labels != -100
    head = mlm_head(model)
    if head is None:
        out = model(**batch)
        return out.loss.float() if where.any() else out.logits.float().sum() * 0.0
    states = model.base_model(**{k: v for k, v in batch.items() if k != "labels"}).last_hidden_state
    if not where.any():  # nothing masked: the mean over no tokens would be NaN
        return states.float().sum() * 0.0
    return torch.nn.functional.cross_entropy(head(states[where]).float(), labels[where])


def save_backbone(model: Any, tokenizer: Any, out: Path, carried: dict[str, torch.Tensor]) -> None:
    """The model (safetensors, with the carried weights) and tokenizer: a folder AutoModel and
    AutoModelForSequenceClassification load."""
    state = {k: v for k, v in model.state_dict().items()}
    state.update({k: v.to(next(iter(state.values())).device) for k, v in carried.items()})
    model.save_pretrained(out, state_dict=state, safe_serialization=True)
    tokenizer.save_pretrained(out)
