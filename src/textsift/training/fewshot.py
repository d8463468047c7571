"""The contrastive stage of `--strategy fewshot`: the encoder learns from pairs of the labelled examples to put
texts of one class close together, then `train` fits the ordinary head strategy on its embeddings.

After SetFit (Tunstall et al., 2022), as objectives of the one loop. Two losses: `cosine` regresses the cosine
similarity of each pair's mean-pooled embeddings on the overlap of their classes (SetFit's loss, pairs drawn by
training/pairs.py); `batch-negatives` scores every example of a batch against all the others at once, the ones
sharing a class as positives (supervised contrastive loss, Khosla et al., 2020). BENCHMARKS.md compares them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from textsift.config import LoopConfig, TrainConfig
from textsift.errors import TextsiftError
from textsift.inference.torch_backend import Classifier, collate
from textsift.modeling.heads import MeanPoolingForSequenceClassification
from textsift.training.loop import CHECKPOINT, Objective, Scores, autocast, fit
from textsift.training.pairs import ClassIndex, Pair, PairStream, example_batches
from textsift.training.strategies import Encoded, cache_features

log = logging.getLogger("textsift")
CONTRASTIVE = "contrastive"  # the stage's TensorBoard logs, inside the model folder
BATCH_NEGATIVES_SCALE = 20.0  # similarity scale (1 / temperature) of the batch-negatives loss, as in MNRL
SEPARATION_ROWS = 2000  # validation rows the stage's score compares pairwise, at most
Embed = Callable[[list[int]], torch.Tensor]


def contrast(cfg: TrainConfig, classifier: Classifier, data: Encoded, train_classes: list[frozenset[str]] | None,
             val_classes: list[frozenset[str]] | None, device: torch.device) -> None:
    """Train the encoder of `classifier` in place on pairs of its training examples; keeps the best epoch."""
    model = classifier.model
    if not isinstance(model, MeanPoolingForSequenceClassification) or train_classes is None or val_classes is None:
        raise TextsiftError("the fewshot strategy needs a mean-pooled classifier (pooling mean or auto)")
    stage = stage_config(cfg)
    embed = embedder(classifier, data.ids_train, device)
    val_index = ClassIndex(val_classes)
    best: dict[str, torch.Tensor] = {}

    def validate() -> Scores:
        gap = separation(validation_embeddings(classifier, data.ids_val, device), val_index)
        return Scores("separation", gap, {"separation": gap})

    def save() -> None:
        best.update({k: v.detach().clone() for k, v in model.encoder.state_dict().items()})

    if cfg.fewshot.pair_loss == "cosine":
        objective = cosine_objective(model, embed, PairStream(train_classes, cfg.fewshot.pairs_per_example),
                                     validate, save)
    else:
        objective = batch_negatives_objective(model, embed, ClassIndex(train_classes),
                                              cfg.fewshot.pairs_per_example, validate, save)
    log.info("fewshot: contrastive stage, %d %s per epoch", len(objective.lengths),
             "pairs" if cfg.fewshot.pair_loss == "cosine" else "examples")
    fit(objective, stage, device)
    model.encoder.load_state_dict(best)
    shutil.rmtree(stage.out / CHECKPOINT, ignore_errors=True)  # the stage is not resumable; its logs stay


def stage_config(cfg: TrainConfig) -> LoopConfig:
    """The loop settings of the contrastive stage: its own epochs, rate and batch; the run's seed and device."""
    fs = cfg.fewshot
    return LoopConfig(train_file=cfg.train_file, out=cfg.out / CONTRASTIVE, epochs=fs.contrastive_epochs,
                      learning_rate=fs.contrastive_learning_rate, batch_size=fs.contrastive_batch_size,
                      weight_decay=cfg.weight_decay, warmup_ratio=cfg.warmup_ratio, max_grad_norm=cfg.max_grad_norm,
                      seed=cfg.seed, num_threads=cfg.num_threads, device=cfg.device)


def embedder(classifier: Classifier, ids: list[list[int]], device: torch.device) -> Embed:
    """Training rows (by index) -> their L2-normalised mean-pooled embeddings, with gradients."""
    model = classifier.model
    assert isinstance(model, MeanPoolingForSequenceClassification)
    pad_id, sep_id = classifier.tokenizer.pad_token_id, classifier.sep_id

    def embed(rows: list[int]) -> torch.Tensor:
        inputs = collate([ids[i] for i in rows], pad_id, sep_id)
        with autocast(device):
            features = model.features(**{k: v.to(device) for k, v in inputs.items()})
        return F.normalize(features.float(), dim=-1)

    return embed


def cosine_objective(model: torch.nn.Module, embed: Embed, stream: PairStream, validate: Callable[[], Scores],
                     save: Callable[[], object]) -> Objective:
    """Each batch: both texts of every pair in one forward pass, the MSE of their cosine on the pair's target."""

    def loss(pairs: list[Pair]) -> torch.Tensor:
        vectors = embed([p.a for p in pairs] + [p.b for p in pairs])
        first, second = vectors[: len(pairs)], vectors[len(pairs) :]
        target = torch.tensor([p.target for p in pairs], device=vectors.device)
        return F.mse_loss((first * second).sum(-1), target)

    return Objective(model, range(len(stream)), loss, validate, save, batches=stream.batches)


def batch_negatives_objective(model: torch.nn.Module, embed: Embed, index: ClassIndex, rounds: int,
                              validate: Callable[[], Scores], save: Callable[[], object]) -> Objective:
    """Each batch: examples, each pulled towards the others sharing a class and pushed from the rest."""

    def loss(rows: list[int]) -> torch.Tensor:
        vectors = embed(rows)
        scores = vectors @ vectors.T * BATCH_NEGATIVES_SCALE
        n = len(rows)
        positive = torch.from_numpy(index.share_matrix(rows)).to(vectors.device).fill_diagonal_(False)
        self_mask = torch.eye(n, dtype=torch.bool, device=vectors.device)
        log_prob = scores.masked_fill(self_mask, -1e9).log_softmax(-1)
        has_positive = positive.any(-1)
        if not has_positive.any():  # a batch of one class each: nothing to pull together
            return (scores * 0).sum()
        per_row = (log_prob * positive).sum(-1) / positive.sum(-1).clamp(min=1)
        return -per_row[has_positive].mean()

    def batches(seed: int, batch_size: int) -> Iterator[list[int]]:
        return example_batches(index.rows, rounds, seed, batch_size)

    return Objective(model, range(index.rows * rounds), loss, validate, save, batches=batches)


def validation_embeddings(classifier: Classifier, ids: list[list[int]], device: torch.device) -> np.ndarray:
    """Normalised embeddings of (a sample of) the validation rows, the first SEPARATION_ROWS in file order."""
    model = classifier.model
    assert isinstance(model, MeanPoolingForSequenceClassification)
    feats = cache_features(model, ids[:SEPARATION_ROWS], classifier.tokenizer.pad_token_id, device,
                           "contrastive validation", classifier.sep_id)
    return F.normalize(feats.float(), dim=-1).cpu().numpy()


def separation(vectors: np.ndarray, index: ClassIndex) -> float:
    """Mean cosine of pairs sharing a class minus that of pairs sharing none: how far apart the classes sit."""
    n = len(vectors)
    a, b = np.triu_indices(n, k=1)
    same = index.share_matrix(np.arange(n))[a, b]
    if same.all() or not same.any():
        return 0.0
    pairs = (vectors @ vectors.T)[a, b]
    return float(pairs[same].mean() - pairs[~same].mean())
