"""Grow a classifier's output layer by new labels, keeping every old label's weights (and so its logits) as they
were: the old rows of the layer are copied, the new rows start like a fresh layer's (normal, std
`initializer_range`; bias 0), and the label names are appended, so old label i stays output i."""

from __future__ import annotations

from typing import Any

import torch

from textsift.errors import TextsiftError


def output_layer(model: torch.nn.Module, width: int) -> torch.nn.Linear:
    """The layer that gives the model's outputs: the last linear layer of that width (BERT's and textsift's
    `classifier`, RoBERTa's `classifier.out_proj`, ...)."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == width]
    if not layers:
        raise TextsiftError(f"cannot find the output layer of {type(model).__name__} ({width} outputs)")
    return layers[-1]


def add_outputs(model: torch.nn.Module, labels: list[str], new: list[str], seed: int = 0) -> None:
    """Replace the output layer of `model` (one output per name in `labels`) by one with `new` rows appended and
    record the names in its config (num_labels, id2label, label2id)."""
    old = output_layer(model, len(labels))
    grown = torch.nn.Linear(old.in_features, old.out_features + len(new), bias=old.bias is not None,
                            device=old.weight.device, dtype=old.weight.dtype)
    std = float(getattr(getattr(model, "config", None), "initializer_range", 0.02))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        grown.weight[: old.out_features] = old.weight
        fresh = torch.randn(len(new), old.in_features, generator=generator) * std
        grown.weight[old.out_features:] = fresh.to(grown.weight)
        if old.bias is not None and grown.bias is not None:
            grown.bias[: old.out_features] = old.bias
            grown.bias[old.out_features:] = 0.0
    _swap(model, old, grown)
    names = labels + new
    config: Any = model.config
    config.num_labels = len(names)
    config.id2label = dict(enumerate(names))
    config.label2id = {name: i for i, name in enumerate(names)}


def _swap(model: torch.nn.Module, old: torch.nn.Module, new: torch.nn.Module) -> None:
    for parent in model.modules():
        for name, child in parent.named_children():
            if child is old:
                parent.register_module(name, new)
                return
    raise TextsiftError(f"cannot replace the output layer of {type(model).__name__}")
