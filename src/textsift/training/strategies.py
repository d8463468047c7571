"""How each strategy trains, as an `Objective` for the one loop: full fine-tuning, and a head on a frozen backbone.

Both score validation by macro-F1 and take the loss of a batch's logits as a function, so distillation reuses
`fine_tune` with its own loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from textsift.data.batching import sorted_batches
from textsift.data.io import Table
from textsift.data.labels import LabelMap
from textsift.errors import TextsiftError
from textsift.evaluation.metrics import compute_metrics
from textsift.inference.torch_backend import Classifier, collate
from textsift.modeling.heads import MeanPoolingForSequenceClassification
from textsift.training.loop import Objective, Scores, autocast

BatchLoss = Callable[[torch.Tensor, list[int]], torch.Tensor]  # (float32 logits of a batch, its indices) -> loss


@dataclass
class Encoded:
    """A run's data tokenized once: token ids and class ids of the training and validation rows."""

    ids_train: list[list[int]]
    ids_val: list[list[int]]
    y_train: torch.Tensor
    y_val: list[int]
    labels: list[str]

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.ids_train]


def encode(classifier: Classifier, train: Table, validation: Table) -> Encoded:
    labels = LabelMap(classifier.labels)
    y_train, y_val = torch.tensor(labels.encode(train)), labels.encode(validation)
    return Encoded(classifier.encode(train.texts), classifier.encode(validation.texts), y_train, y_val,
                   classifier.labels)


def classification_scores(y_true: list[int], logits: np.ndarray, labels: list[str]) -> Scores:
    """Validation scores of a classifier: macro-F1 selects the best epoch; accuracy is logged beside it."""
    metrics = compute_metrics(y_true, logits.argmax(axis=1), labels)
    f1 = metrics["macro"]["f1"]
    return Scores("macro_f1", f1, {"macro_f1": f1, "accuracy": metrics["accuracy"]}, metrics)


def cross_entropy(y: torch.Tensor, device: torch.device, weight: torch.Tensor | None = None) -> BatchLoss:
    """Cross-entropy against the true classes, optionally class-weighted."""
    return lambda logits, idx: F.cross_entropy(logits, y[idx].to(device), weight=weight)


def balanced_class_weights(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Inverse class frequency, scaled so a balanced training set gets weight 1 for every class."""
    counts = torch.bincount(y, minlength=n_classes).float().clamp(min=1)
    return len(y) / (n_classes * counts)


def fine_tune(classifier: Classifier, data: Encoded, device: torch.device, batch_loss: BatchLoss,
              save: Callable[[], object]) -> Objective:
    """Every weight trains: each batch is padded token ids through the whole network."""
    model, pad_id = classifier.model, classifier.tokenizer.pad_token_id

    def loss(idx: list[int]) -> torch.Tensor:
        inputs = collate([data.ids_train[i] for i in idx], pad_id)
        logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
        return batch_loss(logits.float(), idx)

    def validate() -> Scores:
        return classification_scores(data.y_val, classifier.logits_from_ids(data.ids_val), data.labels)

    return Objective(model, data.lengths, loss, validate, save)


def frozen_head(classifier: Classifier, data: Encoded, device: torch.device, batch_loss: BatchLoss,
                save: Callable[[], object]) -> Objective:
    """Only the head trains. The frozen encoder's pooled features never change, so they are computed once here
    (the one slow step: a pass over every text) and each batch is a lookup plus the head."""
    model = classifier.model
    if not isinstance(model, MeanPoolingForSequenceClassification):
        raise TextsiftError("the head strategy needs a mean-pooled model (pooling mean or auto)")
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    pad_id = classifier.tokenizer.pad_token_id
    feats_train = cache_features(model, data.ids_train, pad_id, device, "train features")
    feats_val = cache_features(model, data.ids_val, pad_id, device, "validation features")

    def loss(idx: list[int]) -> torch.Tensor:
        return batch_loss(model.head(feats_train[idx]).float(), idx)

    def validate() -> Scores:
        model.eval()  # no dropout while scoring
        with torch.inference_mode():
            logits = model.head(feats_val).float().cpu().numpy()
        return classification_scores(data.y_val, logits, data.labels)

    def train_mode() -> None:
        model.train()
        model.encoder.eval()

    return Objective(model, data.lengths, loss, validate, save, train_mode)


def cache_features(model: MeanPoolingForSequenceClassification, ids: list[list[int]], pad_id: int, device: torch.device,
                   desc: str) -> torch.Tensor:
    """The pooled sentence vectors of `ids` from a mean-pooling model, in input order."""
    model.eval()
    out = torch.zeros(len(ids), model.feature_size, device=device)
    with torch.inference_mode(), tqdm(total=len(ids), desc=desc, unit="text", leave=False, disable=None) as bar:
        for batch in sorted_batches([len(s) for s in ids], 128):
            inputs = collate([ids[i] for i in batch], pad_id)
            with autocast(device):
                out[batch] = model.features(**{k: v.to(device) for k, v in inputs.items()}).float()
            bar.update(len(batch))
    return out.clone()  # leave inference mode so the head can be trained on it
