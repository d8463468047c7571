"""The torch backend: a fine-tuned Hugging Face classifier, its tokenizer and the folder's settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from transformers import PreTrainedModel

from textsift.data.batching import pad, sorted_batches
from textsift.data.io import Item
from textsift.errors import TextsiftError
from textsift.inference.predictor import BATCH_SIZE, Predictor, split_items
from textsift.modeling import folder as model_folder
from textsift.modeling.heads import MeanPoolingForSequenceClassification
from textsift.modeling.settings import ModelSettings


@dataclass
class Classifier(Predictor):
    """A fine-tuned text model (classifier or regressor): network, tokenizer, and the settings it was trained with."""

    model: PreTrainedModel
    tokenizer: Any
    settings: ModelSettings
    explainable: ClassVar[bool] = True

    @property
    def pooling(self) -> Literal["cls", "mean"]:
        # Through the PEFT wrapper of a LoRA run (modeling/lora.py) to the network it adapts.
        unwrap = getattr(self.model, "get_base_model", None)
        model = unwrap() if unwrap is not None else self.model
        return "mean" if isinstance(model, MeanPoolingForSequenceClassification) else "cls"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def sep_id(self) -> int | None:
        """The separator whose first occurrence ends segment 0, for a pair model whose backbone reads
        token_type_ids (BERT-like; RoBERTa-like models have no segments and get none)."""
        if not self.task.pairs or "token_type_ids" not in self.tokenizer.model_input_names:
            return None
        return int(self.tokenizer.sep_token_id)

    def tokenize(self, items: Sequence[Item]) -> list[list[int]]:
        """Token ids without padding (fast tokenizer, one batched call; pairs as the tokenizer pairs them)."""
        texts, pairs = split_items(items, self.task.pairs)
        return self.tokenizer(texts, pairs, truncation=True, max_length=self.max_length)["input_ids"]

    @torch.inference_mode()
    def logits_from_ids(self, ids: list[list[int]], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Raw scores for already tokenized texts; batches are length-sorted to keep padding small."""
        self.model.eval()
        device = self.device
        out = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        for batch in sorted_batches([len(s) for s in ids], batch_size):
            inputs = collate([ids[i] for i in batch], self.tokenizer.pad_token_id, self.sep_id)
            logits = self.model(**{k: v.to(device) for k, v in inputs.items()}).logits
            out[batch] = logits.float().cpu().numpy()
        return out

    def save(self, folder: Path | str) -> Path:
        """Write a folder that both textsift and plain transformers can load."""
        # No adapter is written here (modeling/lora.py saves those), so none is listed, e.g. after an update.
        settings = dataclasses.replace(self.settings, pooling=self.pooling, adapter=None)
        return model_folder.save_folder(self.model, self.tokenizer, settings, folder)


def collate(sequences: list[list[int]], pad_id: int, sep_id: int | None = None) -> dict[str, torch.Tensor]:
    """Pad token id lists to the longest in the batch, as tensors (see `data.batching.pad`)."""
    return {name: torch.from_numpy(array) for name, array in pad(sequences, pad_id, sep_id).items()}


def load_torch(folder: Path, settings: ModelSettings, device: str = "cpu", num_threads: int | None = None
               ) -> Classifier:
    """A `Classifier` for a torch folder whose textsift.json has already been read and checked."""
    target = resolve_device(device)
    if num_threads is not None:
        torch.set_num_threads(num_threads)  # process-wide: torch has no per-model thread pool
    model, tokenizer = model_folder.load_weights(folder, settings)
    to_device(model, target)
    return Classifier(model, tokenizer, settings)


def to_device(model: torch.nn.Module, device: torch.device) -> None:
    """Move a model's weights in place (typed as a plain Module: transformers' wrapped `to` confuses mypy)."""
    model.to(device)


def resolve_device(name: str) -> torch.device:
    """"auto" picks the GPU when there is one; asking for CUDA without one is one clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TextsiftError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TextsiftError(f"device {name!r} asked for, but torch sees no CUDA GPU here; use --device cpu")
    return device
