"""`train(cfg)` -> model folder: fine-tune a pretrained encoder (full) or train a head on a frozen one (head), for
any task (multi-class, multi-label, regression, and pairs)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from textsift import __version__
from textsift.config import TrainConfig, to_jsonable
from textsift.data.checks import read_training_data
from textsift.data.io import Table
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.inference.torch_backend import Classifier, to_device
from textsift.modeling import lineage
from textsift.modeling.build import build
from textsift.modeling.extend import output_layer
from textsift.modeling.settings import ModelSettings, update_settings
from textsift.tasks.base import Task
from textsift.tasks.registry import get_task
from textsift.training import replay
from textsift.training.loop import fit, prepare, write_metrics
from textsift.training.strategies import encode, fine_tune, frozen_head, pooled_features


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
    keep_rows(cfg, classifier, train_table, val_table)
    record(cfg, classifier, state.best_metrics)
    write_metrics(cfg.out, state, time.perf_counter() - started)
    return cfg.out


def keep_rows(cfg: TrainConfig, classifier: Classifier, train_table: Table, val_table: Table) -> None:
    """The rehearsal and check rows a later `textsift update` trains beside and measures forgetting on."""
    size = cfg.rehearsal.replay_size
    if not size:
        return
    featurize = None if cfg.rehearsal.keep_texts else (lambda rows: pooled_features(classifier, rows))
    for name, table in ((replay.TRAIN_ROWS, train_table), (replay.CHECK_ROWS, val_table)):
        buffer = replay.carry(None, replay.Buffer(replay.rows_of(table, classifier.task.name)), size, featurize)
        replay.write(cfg.out, name, buffer)


def record(cfg: TrainConfig, classifier: Classifier, metrics: dict[str, Any] | None) -> None:
    """The folder's lineage: this run, after the lineage of the folder it started from (if any)."""
    earlier = classifier.settings.lineage if cfg.init_from != "backbone" else []
    summary = classifier.task.summary(metrics) if metrics else {}
    entry = lineage.step("train", folder=cfg.out, settings=classifier.settings,
                         parent=cfg.init_from if cfg.init_from != "backbone" else None,
                         backbone=cfg.model.backbone, config=to_jsonable(cfg), metrics=summary)
    update_settings(cfg.out, lineage=lineage.extended(earlier, entry))


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
