"""How each strategy trains, as an `Objective` for the one loop: full fine-tuning, and a head on a frozen backbone.

Both take the loss of a batch's logits as a function (the task's, or distillation's) and score validation with the
model's task, so they work alike for every task and distillation reuses `fine_tune`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from textsift.data.batching import sorted_batches
from textsift.data.io import Table
from textsift.errors import TextsiftError
from textsift.inference.torch_backend import Classifier, collate
from textsift.modeling.heads import MeanPoolingForSequenceClassification
from textsift.tasks.base import BatchLoss
from textsift.training.loop import Objective, Scores, autocast


@dataclass
class Encoded:
    """A run's data tokenized once: token ids and task targets of the training and validation rows."""

    ids_train: list[list[int]]
    ids_val: list[list[int]]
    y_train: np.ndarray
    y_val: np.ndarray

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.ids_train]


def encode(classifier: Classifier, train: Table, validation: Table) -> Encoded:
    task, settings = classifier.task, classifier.settings
    return Encoded(classifier.encode(train.inputs), classifier.encode(validation.inputs),
                   task.targets(train, settings), task.targets(validation, settings))


def validation_scores(classifier: Classifier, y: np.ndarray, logits: np.ndarray) -> Scores:
    """Score validation outputs with the model's task; settings it tunes on them (multi-label thresholds) go
    into the classifier's settings first, so the best epoch is saved with the settings it was scored with."""
    task = classifier.task
    classifier.settings = dataclasses.replace(classifier.settings, **task.tune(y, logits, classifier.settings))
    metrics = task.metrics(y, task.activate(logits, classifier.settings), classifier.settings)
    logged = task.summary(metrics)
    return Scores(task.selects, logged[task.selects], logged, metrics)


def fine_tune(classifier: Classifier, data: Encoded, device: torch.device, batch_loss: BatchLoss,
              save: Callable[[], object]) -> Objective:
    """Every weight trains: each batch is padded token ids through the whole network."""
    model, pad_id = classifier.model, classifier.tokenizer.pad_token_id

    def loss(idx: list[int]) -> torch.Tensor:
        inputs = collate([data.ids_train[i] for i in idx], pad_id, classifier.sep_id)
        logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
        return batch_loss(logits.float(), idx)

    def validate() -> Scores:
        return validation_scores(classifier, data.y_val, classifier.logits_from_ids(data.ids_val))

    return Objective(model, data.lengths, loss, validate, save)


# Pooled features of pristine backbones, while `remembered_features` is active: key -> features.
_REMEMBERED: dict[str, torch.Tensor] | None = None


@contextlib.contextmanager
def remembered_features() -> Iterator[None]:
    """Within this block, the features of a pretrained backbone are computed once per (backbone, pooled layers,
    token ids) and reused: a search over head settings passes over its texts once, not once a trial."""
    global _REMEMBERED
    outer, _REMEMBERED = _REMEMBERED, {} if _REMEMBERED is None else _REMEMBERED
    try:
        yield
    finally:
        _REMEMBERED = outer


def frozen_head(classifier: Classifier, data: Encoded, device: torch.device, batch_loss: BatchLoss,
                save: Callable[[], object], kept_features: torch.Tensor | None = None,
                backbone: str | None = None) -> Objective:
    """Only the head trains. The frozen encoder's pooled features never change, so they are computed once here
    (the one slow step: a pass over every text) and each batch is a lookup plus the head. `kept_features` are
    rows without texts (an update's rehearsal rows kept as features), after the texts' rows; `data.y_train` holds
    the targets of both. `backbone` names an encoder still as pretrained, whose features may be remembered."""
    model = classifier.model
    if not isinstance(model, MeanPoolingForSequenceClassification):
        raise TextsiftError("the head strategy needs a mean-pooled model (pooling mean or auto)")
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    pad_id, sep_id = classifier.tokenizer.pad_token_id, classifier.sep_id

    def features(ids: list[list[int]], desc: str) -> torch.Tensor:
        if _REMEMBERED is None or backbone is None:
            return cache_features(model, ids, pad_id, device, desc, sep_id)
        key = hashlib.sha256(repr((backbone, model.pool_layers, sep_id, ids)).encode()).hexdigest()
        if key not in _REMEMBERED:
            _REMEMBERED[key] = cache_features(model, ids, pad_id, device, desc, sep_id)
        return _REMEMBERED[key]

    feats_train, feats_val = features(data.ids_train, "train features"), features(data.ids_val, "validation features")
    lengths = data.lengths
    if kept_features is not None:
        feats_train = torch.cat([feats_train, kept_features.to(device)])
        lengths = lengths + [1] * len(kept_features)  # any length: only the batch order reads them

    def loss(idx: list[int]) -> torch.Tensor:
        return batch_loss(model.head(feats_train[idx]).float(), idx)

    def validate() -> Scores:
        model.eval()  # no dropout while scoring
        with torch.inference_mode():
            logits = model.head(feats_val).float().cpu().numpy()
        return validation_scores(classifier, data.y_val, logits)

    def train_mode() -> None:
        model.train()
        model.encoder.eval()

    return Objective(model, lengths, loss, validate, save, train_mode)


def cache_features(model: MeanPoolingForSequenceClassification, ids: list[list[int]], pad_id: int, device: torch.device,
                   desc: str, sep_id: int | None = None) -> torch.Tensor:
    """The pooled sentence vectors of `ids` from a mean-pooling model, in input order."""
    model.eval()
    out = torch.zeros(len(ids), model.feature_size, device=device)
    with torch.inference_mode(), tqdm(total=len(ids), desc=desc, unit="text", leave=False, disable=None) as bar:
        for batch in sorted_batches([len(s) for s in ids], 128):
            inputs = collate([ids[i] for i in batch], pad_id, sep_id)
            with autocast(device):
                out[batch] = model.features(**{k: v.to(device) for k, v in inputs.items()}).float()
            bar.update(len(batch))
    return out.clone()  # leave inference mode so the head can be trained on it


def pooled_features(classifier: Classifier, rows: list[tuple[str, str | None]]) -> np.ndarray:
    """The frozen encoder's pooled features of (text, pair) rows, what a buffer without texts keeps."""
    model = classifier.model
    if not isinstance(model, MeanPoolingForSequenceClassification):
        raise TextsiftError("keeping features instead of texts needs a mean-pooled head model (--strategy head)")
    items = [(text, pair) if classifier.task.pairs else text for text, pair in rows]
    ids = classifier.encode(items)  # type: ignore[arg-type]
    feats = cache_features(model, ids, classifier.tokenizer.pad_token_id, classifier.device, "kept features",
                           classifier.sep_id)
    return feats.cpu().numpy()
