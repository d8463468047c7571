"""`train(cfg)` -> model folder, for any task (multi-class, multi-label, regression, and pairs) and strategy: full
fine-tuning, a head on a frozen encoder (head), LoRA adapters merged on save (lora), or a contrastive stage on
pairs of examples before a head (fewshot). Every strategy is an `Objective` of the one loop."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

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
from textsift.training import distributed, launch, replay
from textsift.training.checkpoint import RunState
from textsift.training.loop import Objective, Scores, fit, prepare, write_metrics
from textsift.training.strategies import Encoded, encode, fine_tune, frozen_head, pooled_features

log = logging.getLogger("textsift")
AfterEpoch = Callable[[RunState], None]


def train(cfg: TrainConfig, after_epoch: AfterEpoch | None = None) -> Path:
    """Fine-tune a model on `cfg.train_file`; the best by the task's validation metric lands in `cfg.out`.
    `after_epoch` sees the run's state after each validated epoch (`textsift tune` reports and prunes there).
    With `cfg.nproc` > 1, or under torchrun, every process trains on its share of each batch and rank 0 writes."""
    if cfg.nproc > 1:
        check_processes(cfg, after_epoch)
        return launch.processes(train, cfg)
    if distributed.launched():
        check_processes(cfg, after_epoch)
    started = time.perf_counter()
    device = prepare(cfg, "textsift train", distributed_writes=True)
    task = get_task(cfg.task)
    train_table, val_table = read_training_data(cfg, task, shots=cfg.shots, hold_out=cfg.strategy != "fewshot")
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
    if cfg.strategy == "fewshot":
        from textsift.training import fewshot

        fewshot.contrast(cfg, classifier, data, task.class_sets(train_table), task.class_sets(val_table), device)
    objective = objective_for(cfg, classifier, data, device, batch_loss)
    if on_training_rows(cfg, train_table, val_table):  # nothing held out to select an epoch by: keep the last
        state = fit(dataclasses.replace(objective, validate=latest_wins(objective.validate), save=lambda: None),
                    cfg, device, after_epoch)
        if distributed.current().main:
            objective.save()
    else:
        state = fit(objective, cfg, device, after_epoch)
    if distributed.current().main:
        keep_rows(cfg, classifier, train_table, val_table)
        record(cfg, classifier, state.best_metrics)
        write_metrics(cfg.out, state, time.perf_counter() - started)
    distributed.finish()
    return cfg.out


def check_processes(cfg: TrainConfig, after_epoch: AfterEpoch | None) -> None:
    """What cannot train on several processes says so before any process starts."""
    if cfg.nproc > 1 and distributed.launched():
        raise TextsiftError("torchrun already started this process as one of several; drop --nproc")
    if cfg.strategy == "fewshot":
        raise TextsiftError("the fewshot strategy trains on a handful of examples per class in one process; drop "
                            "--nproc (or torchrun)")
    if after_epoch is not None:
        raise TextsiftError("each tune trial trains in one process; drop --nproc")


def objective_for(cfg: TrainConfig, classifier: Classifier, data: Encoded, device: torch.device,
                  batch_loss: Any) -> Objective:
    """The strategy's objective; the trainable and total parameter counts go into the folder's settings."""
    save: Callable[[], object] = lambda: classifier.save(cfg.out)  # noqa: E731
    if cfg.strategy in ("head", "fewshot"):
        pristine = cfg.strategy == "head" and cfg.init_from == "backbone"  # fewshot's encoder has been trained
        objective = frozen_head(classifier, data, device, batch_loss, save,
                                backbone=cfg.model.backbone if pristine else None)
    else:
        if cfg.strategy == "lora":
            from textsift.modeling import lora

            lora.attach(classifier, cfg.lora)
            save = lambda: lora.save(classifier, cfg.out)  # noqa: E731
        objective = fine_tune(classifier, data, device, batch_loss, save)
    counts = parameter_counts(objective.model)
    log.info("training %s of %s parameters (%.2f%%)", f"{counts['trainable']:,}", f"{counts['total']:,}",
             100 * counts["trainable"] / counts["total"])
    classifier.settings = dataclasses.replace(classifier.settings, parameters=counts)
    return objective


def on_training_rows(cfg: TrainConfig, train_table: Table, val_table: Table) -> bool:
    """Whether validation scores the training rows themselves (fewshot without a validation file, or a
    validation file that is the training file)."""
    same_file = cfg.validation_file is not None and cfg.validation_file.resolve() == cfg.train_file.resolve()
    return val_table is train_table or (same_file and cfg.shots is None)


def latest_wins(validate: Callable[[], Scores]) -> Callable[[], Scores]:
    """Validation on the training rows scores but does not select: each epoch counts as the best, so the loop keeps
    the final weights (an early epoch that already fits 16 examples has a head still close to its random start)."""
    return lambda: dataclasses.replace(validate(), latest=True)


def parameter_counts(model: torch.nn.Module) -> dict[str, int]:
    """Trainable (requires_grad) and total parameters; a LoRA model's total counts its adapters too."""
    params = list(model.parameters())
    return {"trainable": sum(p.numel() for p in params if p.requires_grad), "total": sum(p.numel() for p in params)}


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
        return Classifier(model, tokenizer, ModelSettings(names, cfg.model.max_length, cfg.pooling, task=task.name,
                                                          cleaning=cfg.clean))
    classifier = load(cfg.init_from)
    if not isinstance(classifier, Classifier):
        raise TextsiftError(f"{cfg.init_from}: an ONNX folder cannot be trained further; pass the torch model folder")
    if classifier.settings.task != task.name:
        raise TextsiftError(f"{cfg.init_from} is a {classifier.settings.task} model; train it further with --task "
                            f"{classifier.settings.task}")
    if cfg.strategy == "head" and classifier.pooling != "mean":
        raise TextsiftError(f"{cfg.init_from} uses cls pooling; the head strategy needs a mean-pooled model folder")
    # This run's cleaning, like the rest of its config: the texts it trains on are cleaned by it.
    classifier.settings = dataclasses.replace(classifier.settings, cleaning=cfg.clean)
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
