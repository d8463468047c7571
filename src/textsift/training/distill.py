"""distill(cfg) -> a shallower model folder trained on a fine-tuned teacher's soft labels.

The student is the teacher's architecture with fewer encoder layers, initialised from evenly spaced teacher layers
(the last one always kept, so the classifier head keeps reading states like those it was trained on; DistilBERT
initialised from every other layer for the same reason). Loss = alpha x (student against the teacher's soft outputs)
+ (1 - alpha) x the task's loss on the true labels; the soft part is the task's: T^2 * KL of tempered softmaxes
(Hinton et al., 2015), BCE against tempered sigmoids (multi-label), MSE against the teacher's value (regression).
The output is a normal textsift model folder of the teacher's task.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from pathlib import Path

import torch
from transformers import PreTrainedModel

from textsift import __version__
from textsift.config import DistillConfig, to_jsonable
from textsift.data.checks import read_training_data
from textsift.data.io import Table
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.inference.torch_backend import Classifier, to_device
from textsift.modeling.settings import ModelSettings
from textsift.training.loop import fit, prepare, write_metrics
from textsift.training.strategies import encode, fine_tune

log = logging.getLogger("textsift")


def distill(cfg: DistillConfig) -> Path:
    """Train a `cfg.layers`-layer student on the teacher's soft outputs; the best by the task's validation metric
    lands in `cfg.out`. It runs through the same loop as `train`, so TensorBoard, checkpoints and `resume` work
    alike. The data columns default to those the teacher was trained with."""
    started = time.perf_counter()
    device = prepare(cfg, "textsift distill")
    teacher = load(cfg.teacher, str(device))  # its one pass over the training set runs where training does
    if not isinstance(teacher, Classifier):
        raise TextsiftError(f"{cfg.teacher}: an ONNX folder cannot teach; distil from the torch model folder")
    cfg.data = teacher.settings.data_columns(cfg.data)
    task = teacher.task
    train_table, val_table = read_training_data(cfg, task)
    data = encode(teacher, train_table, val_table)
    student = Classifier(shrink(teacher.model, cfg.layers), teacher.tokenizer,
                         _settings(teacher, cfg, train_table, val_table))
    # Hidden cost: one teacher pass over the training set, once; soft targets never change between epochs.
    log.info("teacher outputs for %d training texts", len(data.ids_train))
    soft_targets = torch.from_numpy(teacher.logits_from_ids(data.ids_train, 128))
    to_device(student.model, device)
    # The student keeps the teacher's target scaling: the soft targets are in the teacher's standardised units.
    batch_loss = task.distill_loss(soft_targets, data.y_train, student.settings, device, cfg.temperature, cfg.alpha)
    objective = fine_tune(student, data, device, batch_loss, lambda: student.save(cfg.out))
    state = fit(objective, cfg, device)
    write_metrics(cfg.out, state, time.perf_counter() - started)
    return cfg.out


def pick_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Evenly spaced teacher layer indices ending with the last layer, e.g. 6 -> 3 gives [1, 3, 5]."""
    if not 1 <= student_layers < teacher_layers:
        raise TextsiftError(f"the student needs between 1 and {teacher_layers - 1} layers (the teacher has "
                            f"{teacher_layers}), not {student_layers}; pass another --layers")
    return [round((i + 1) * teacher_layers / student_layers) - 1 for i in range(student_layers)]


def shrink(teacher: PreTrainedModel, layers: int) -> PreTrainedModel:
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
    assert isinstance(teacher_layers, torch.nn.ModuleList) and isinstance(student_layers, torch.nn.ModuleList)
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


def _settings(teacher: Classifier, cfg: DistillConfig, train_table: Table, val_table: Table) -> ModelSettings:
    task = teacher.task
    return dataclasses.replace(
        ModelSettings(labels=teacher.labels, max_length=teacher.max_length),
        pooling=teacher.settings.pooling, task=teacher.settings.task, backbone=teacher.settings.backbone,
        strategy="distill", textsift_version=__version__, teacher=str(cfg.teacher), distill_config=to_jsonable(cfg),
        thresholds=teacher.settings.thresholds, target_scaling=teacher.settings.target_scaling,
        cleaning=teacher.settings.cleaning,
        data={split: table.fingerprint(task.label_counts(table))
              for split, table in (("train", train_table), ("validation", val_table))},
    )
