"""distill(cfg) -> a shallower model folder trained on a fine-tuned teacher's soft labels.

The student is the teacher's architecture with fewer encoder layers, initialised from evenly spaced teacher layers
(the last one always kept, so the classifier head keeps reading states like those it was trained on; DistilBERT
initialised from every other layer for the same reason). Loss = alpha * T^2 * KL(teacher_T || student_T)
+ (1 - alpha) * CE(student, labels), as in Hinton et al. (2015). The output is a normal textsift model folder.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from textsift import __version__
from textsift.batching import bucketed_batches, collate
from textsift.card import write_card
from textsift.config import DistillConfig, to_jsonable
from textsift.data import LabelMap
from textsift.errors import TextsiftError
from textsift.evaluate import compute_metrics
from textsift.model import Classifier, load
from textsift.train import _autocast, _fingerprint, _load_tables, _param_groups, _pick_device

log = logging.getLogger("textsift")


def distill(cfg: DistillConfig) -> Path:
    """Train a `cfg.layers`-layer student on the teacher's soft labels; the best by validation macro-F1 lands in
    `cfg.out`."""
    started = time.perf_counter()
    device = _pick_device(cfg)
    teacher = load(cfg.teacher, str(device))  # its one pass over the training set runs where training does
    if not isinstance(teacher, Classifier):
        raise TextsiftError(f"{cfg.teacher}: an ONNX folder cannot teach; distil from the torch model folder")
    train_table, val_table = _load_tables(cfg)  # checks the training table too
    labels = LabelMap(teacher.labels)
    y_train = torch.tensor(labels.encode(train_table))
    y_val = labels.encode(val_table)
    ids_train, ids_val = teacher.encode(train_table.texts), teacher.encode(val_table.texts)
    lengths = [len(s) for s in ids_train]
    pad_id = teacher.tokenizer.pad_token_id

    student = Classifier(shrink(teacher.model, cfg.layers), teacher.tokenizer, teacher.labels, teacher.max_length)

    # Hidden cost: one teacher pass over the training set, once; soft targets never change between epochs.
    log.info("teacher logits for %d training texts", len(ids_train))
    soft_targets = torch.from_numpy(teacher.logits_from_ids(ids_train, 128))
    model = student.model.to(device)

    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.learning_rate, fused=True)
    total_steps = math.ceil(len(ids_train) / cfg.batch_size) * cfg.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    best: dict[str, Any] = {"f1": -1.0, "epoch": 0, "metrics": None}
    history = []

    for epoch in range(cfg.epochs):
        # Train one epoch over shuffled, length-bucketed batches, against soft targets and true labels.
        model.train()
        epoch_start = time.perf_counter()
        batches = bucketed_batches(lengths, cfg.batch_size, cfg.bucket_size, cfg.seed + epoch)
        bar = tqdm(total=len(ids_train), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="text", leave=False, disable=None)
        for idx in batches:
            inputs = collate([ids_train[i] for i in idx], pad_id)
            with _autocast(device):
                logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
            loss = distillation_loss(logits.float(), soft_targets[idx].to(device), y_train[idx].to(device),
                                     cfg.temperature, cfg.alpha)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.update(len(idx))
        bar.close()
        rate = len(ids_train) / (time.perf_counter() - epoch_start)

        # Validate; keep the best student.
        metrics = compute_metrics(y_val, student.logits_from_ids(ids_val).argmax(axis=1), labels.names)
        f1 = metrics["macro"]["f1"]
        history.append({"epoch": epoch + 1, "macro_f1": f1, "accuracy": metrics["accuracy"], "texts_per_s": rate})
        log.info("epoch %d: loss %.4f, validation macro-F1 %.4f, accuracy %.4f, %.0f texts/s",
                 epoch + 1, loss.item(), f1, metrics["accuracy"], rate)
        if f1 > best["f1"]:
            best.update(f1=f1, epoch=epoch + 1, metrics=metrics)
            student.settings = _settings(teacher, cfg, train_table, val_table)
            student.save(cfg.out)

    metrics_out = {"validation": best["metrics"], "best_epoch": best["epoch"], "epochs_run": cfg.epochs,
                   "history": history, "train_seconds": round(time.perf_counter() - started, 1)}
    (cfg.out / "metrics.json").write_text(json.dumps(metrics_out, indent=2) + "\n")
    write_card(cfg.out)
    return cfg.out


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      temperature: float, alpha: float) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, labels).

    The T^2 factor keeps the soft-target gradients on the same scale as the hard-label ones when T changes.
    """
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.log_softmax(teacher_logits / temperature, dim=-1), reduction="batchmean", log_target=True)
    hard = F.cross_entropy(student_logits, labels)
    return alpha * temperature**2 * soft + (1 - alpha) * hard


def pick_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Evenly spaced teacher layer indices ending with the last layer, e.g. 6 -> 3 gives [1, 3, 5]."""
    if not 1 <= student_layers < teacher_layers:
        raise TextsiftError(f"the student needs between 1 and {teacher_layers - 1} layers (the teacher has "
                            f"{teacher_layers}), not {student_layers}; pass another --layers")
    return [round((i + 1) * teacher_layers / student_layers) - 1 for i in range(student_layers)]


def shrink(teacher: torch.nn.Module, layers: int) -> torch.nn.Module:
    """A copy of the teacher with `layers` encoder layers taken from it; embeddings and head copied as they are.

    Works for any architecture whose encoder layers sit in one ModuleList of `num_hidden_layers` blocks: the stock
    CLS classifiers (BertForSequenceClassification, ...) and textsift's mean-pooling model alike.
    """
    keep = pick_layers(teacher.config.num_hidden_layers, layers)
    path = _layer_list_path(teacher, teacher.config.num_hidden_layers)
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = layers
    student = type(teacher)(config)
    # Everything outside the layer list has the same shape in both; layers beyond `layers` are simply not used.
    student.load_state_dict(teacher.state_dict(), strict=False)
    teacher_layers, student_layers = teacher.get_submodule(path), student.get_submodule(path)
    for i, j in enumerate(keep):
        student_layers[i].load_state_dict(teacher_layers[j].state_dict())
    log.info("student: %d layers initialised from teacher layers %s", layers, keep)
    return student


def _layer_list_path(model: torch.nn.Module, n_layers: int) -> str:
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers:
            return name
    raise TextsiftError(f"cannot find the {n_layers} encoder layers of {type(model).__name__}; distillation "
                        "supports encoders that keep their layers in one list (BERT, RoBERTa, MiniLM, ...)")


def _settings(teacher: Classifier, cfg: DistillConfig, train_table: Any, val_table: Any) -> dict[str, Any]:
    return {
        "textsift_version": __version__,
        "task": teacher.settings.get("task", "multi-class"),
        "backbone": teacher.settings.get("backbone"),
        "strategy": "distill",
        "teacher": str(cfg.teacher),
        "distill_config": to_jsonable(cfg),
        "data": {"train": _fingerprint(train_table), "validation": _fingerprint(val_table)},
    }
