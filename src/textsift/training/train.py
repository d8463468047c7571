"""`train(cfg)` -> model folder: fine-tune a pretrained encoder (full) or train a head on a frozen one (head), for
any task (multi-class, multi-label, regression, and pairs)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from textsift import __version__
from textsift.config import TrainConfig, to_jsonable
from textsift.data.checks import read_training_data
from textsift.data.io import Table
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.inference.torch_backend import Classifier, to_device
from textsift.modeling.build import build
from textsift.modeling.settings import ModelSettings
from textsift.tasks.base import Task
from textsift.tasks.registry import get_task
from textsift.training.loop import fit, prepare, write_metrics
from textsift.training.strategies import encode, fine_tune, frozen_head


def train(cfg: TrainConfig) -> Path:
    """Fine-tune a model on `cfg.train_file`; the best by the task's validation metric lands in `cfg.out`."""
    started = time.perf_counter()
    device = prepare(cfg)
    task = get_task(cfg.task)
    train_table, val_table = read_training_data(cfg, task)
    # Labels unknown to the training data stop the run here, before the backbone is loaded.
    task.targets(val_table, ModelSettings(task.label_names(train_table), cfg.model.max_length, task=task.name))
    classifier = start_from(cfg, task, train_table)
    to_device(classifier.model, device)
    classifier.settings = _settings(cfg, task, classifier, train_table, val_table)
    data = encode(classifier, train_table, val_table)
    classifier.settings = dataclasses.replace(classifier.settings, **task.fit(data.y_train, classifier.settings))
    if cfg.init_from == "backbone":
        task.init_output(output_layer(classifier.model, len(classifier.labels)).bias, data.y_train)
    batch_loss = task.loss(data.y_train, classifier.settings, device, balanced=cfg.class_weight == "balanced")
    strategy = frozen_head if cfg.strategy == "head" else fine_tune
    objective = strategy(classifier, data, device, batch_loss, lambda: classifier.save(cfg.out))
    state = fit(objective, cfg, device)
    write_metrics(cfg.out, state, time.perf_counter() - started)
    return cfg.out


def output_layer(model: torch.nn.Module, width: int) -> torch.nn.Linear:
    """The layer that gives the model's outputs: the last linear layer of that width (BERT's and textsift's
    `classifier`, RoBERTa's `classifier.out_proj`, ...)."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == width]
    if not layers:
        raise TextsiftError(f"cannot find the output layer of {type(model).__name__} ({width} outputs)")
    return layers[-1]


def start_from(cfg: TrainConfig, task: Task, train_table: Table) -> Classifier:
    """The one switch for where training starts: the pretrained backbone or an existing model folder."""
    if cfg.init_from == "backbone":
        names = task.label_names(train_table)
        layers, hidden = cfg.model.resolved_head(cfg.strategy)
        model, tokenizer = build(cfg.model.backbone, names, cfg.pooling, problem_type=task.problem_type,
                                 pool_layers=layers, head_hidden_size=hidden)
        return Classifier(model, tokenizer, ModelSettings(names, cfg.model.max_length, cfg.pooling, task=task.name))
    classifier = load(cfg.init_from)
    if not isinstance(classifier, Classifier):
        raise TextsiftError(f"{cfg.init_from}: an ONNX folder cannot be trained further; pass the torch model folder")
    if classifier.settings.task != task.name:
        raise TextsiftError(f"{cfg.init_from} is a {classifier.settings.task} model; train it further with --task "
                            f"{classifier.settings.task}")
    if cfg.strategy == "head" and classifier.pooling != "mean":
        raise TextsiftError(f"{cfg.init_from} uses cls pooling; the head strategy needs a mean-pooled model folder")
    return classifier


def _settings(cfg: TrainConfig, task: Task, classifier: Classifier, train_table: Table,
              val_table: Table) -> ModelSettings:
    """What the folder will say about this run; the data fingerprints are hashed once, not at every save."""
    return dataclasses.replace(
        classifier.settings, labels=classifier.labels, max_length=classifier.max_length, pooling=classifier.pooling,
        task=task.name, backbone=cfg.model.backbone, strategy=cfg.strategy, textsift_version=__version__,
        train_config=to_jsonable(cfg),
        data={split: table.fingerprint(task.label_counts(table))
              for split, table in (("train", train_table), ("validation", val_table))},
    )
