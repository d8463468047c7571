"""`train(cfg)` -> model folder: fine-tune a pretrained encoder (full) or train a head on a frozen one (head)."""

from __future__ import annotations

import time
from pathlib import Path

from textsift import __version__
from textsift.config import TrainConfig, to_jsonable
from textsift.data.checks import read_training_data
from textsift.data.io import Table
from textsift.data.labels import LabelMap
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.inference.torch_backend import Classifier, to_device
from textsift.modeling.build import build
from textsift.modeling.settings import ModelSettings
from textsift.training.loop import fit, prepare, write_metrics
from textsift.training.strategies import balanced_class_weights, cross_entropy, encode, fine_tune, frozen_head


def train(cfg: TrainConfig) -> Path:
    """Fine-tune a classifier on `cfg.train_file`; the best model by validation macro-F1 lands in `cfg.out`."""
    started = time.perf_counter()
    device = prepare(cfg)
    train_table, val_table = read_training_data(cfg)
    classifier = start_from(cfg, train_table)
    to_device(classifier.model, device)
    classifier.settings = _settings(cfg, classifier, train_table, val_table)
    data = encode(classifier, train_table, val_table)
    weight = None
    if cfg.class_weight == "balanced":
        weight = balanced_class_weights(data.y_train, len(data.labels)).to(device)
    strategy = frozen_head if cfg.strategy == "head" else fine_tune
    objective = strategy(classifier, data, device, cross_entropy(data.y_train, device, weight),
                         lambda: classifier.save(cfg.out))
    state = fit(objective, cfg, device)
    write_metrics(cfg.out, state, time.perf_counter() - started)
    return cfg.out


def start_from(cfg: TrainConfig, train_table: Table) -> Classifier:
    """The one switch for where training starts: the pretrained backbone or an existing model folder."""
    if cfg.init_from == "backbone":
        names = LabelMap.from_labels(train_table.labels or []).names
        layers, hidden = cfg.model.resolved_head(cfg.strategy)
        model, tokenizer = build(cfg.model.backbone, names, cfg.pooling, pool_layers=layers, head_hidden_size=hidden)
        return Classifier(model, tokenizer, ModelSettings(names, cfg.model.max_length, cfg.pooling))
    classifier = load(cfg.init_from)
    if not isinstance(classifier, Classifier):
        raise TextsiftError(f"{cfg.init_from}: an ONNX folder cannot be trained further; pass the torch model folder")
    if cfg.strategy == "head" and classifier.pooling != "mean":
        raise TextsiftError(f"{cfg.init_from} uses cls pooling; the head strategy needs a mean-pooled model folder")
    return classifier


def _settings(cfg: TrainConfig, classifier: Classifier, train_table: Table, val_table: Table) -> ModelSettings:
    """What the folder will say about this run; the data fingerprints are hashed once, not at every save."""
    return ModelSettings(
        labels=classifier.labels, max_length=classifier.max_length, pooling=classifier.pooling, task="multi-class",
        backbone=cfg.model.backbone, strategy=cfg.strategy, textsift_version=__version__,
        train_config=to_jsonable(cfg),
        data={"train": train_table.fingerprint(), "validation": val_table.fingerprint()},
    )
