"""Run an exported model folder with ONNX Runtime: same interface as `Classifier`, and no torch anywhere.

`load()` picks this backend when textsift.json says `"backend": "onnx"`, so predict, evaluate and serve treat torch
and ONNX folders alike. Tokenisation uses the folder's tokenizer.json through the `tokenizers` library directly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textsift._optional import require
from textsift.data.batching import pad, sorted_batches
from textsift.data.io import Item
from textsift.errors import TextsiftError
from textsift.inference.predictor import BATCH_SIZE, Predictor, split_items
from textsift.modeling.settings import ModelSettings, OnnxFacts

ONNX_FILE = "model.onnx"


@dataclass
class OnnxClassifier(Predictor):
    """An exported classifier: ONNX Runtime session, fast tokenizer and the folder's settings."""

    session: Any
    tokenizer: Any
    settings: ModelSettings

    @property
    def pooling(self) -> str:
        return self.settings.pooling

    @property
    def facts(self) -> OnnxFacts:
        if self.settings.onnx is None:
            raise TextsiftError("an ONNX classifier needs the onnx facts of its textsift.json")
        return self.settings.onnx

    def tokenize(self, items: Sequence[Item]) -> list[list[int]]:
        """Token ids without padding (one batched call of the Rust tokenizer; pairs with its pair template)."""
        texts, pairs = split_items(items, self.task.pairs)
        batch = texts if pairs is None else list(zip(texts, pairs, strict=True))
        return [e.ids for e in self.tokenizer.encode_batch(batch)]

    def logits_from_ids(self, ids: list[list[int]], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Raw scores for already tokenized texts; batches are length-sorted to keep padding small."""
        out = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        facts = self.facts
        for batch in sorted_batches([len(s) for s in ids], batch_size):
            feed = pad([ids[i] for i in batch], facts.pad_token_id, facts.sep_token_id)
            out[batch] = self.session.run(["logits"], {name: feed[name] for name in facts.inputs})[0]
        return out


def load_onnx(folder: Path, settings: ModelSettings, num_threads: int | None = None) -> OnnxClassifier:
    """An `OnnxClassifier` for an exported folder whose textsift.json has already been read and checked."""
    ort = require("onnxruntime", extra="onnx")
    tokenizers = require("tokenizers", extra="onnx")
    for needed in (ONNX_FILE, "tokenizer.json"):
        if not (folder / needed).is_file():
            raise TextsiftError(f"{folder}: {needed} is missing; the folder is incomplete, export it again")
    if settings.onnx is None:
        raise TextsiftError(f"{folder}/textsift.json: no onnx.pad_token_id; export the folder again")
    options = ort.SessionOptions()
    # The cores this process may use, unless the caller shares them out between processes (the Dask recipe).
    options.intra_op_num_threads = num_threads or len(os.sched_getaffinity(0))
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ORT raises several types for a damaged graph; one line says it all
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TextsiftError(
            f"{folder / ONNX_FILE}: cannot load the ONNX graph ({first[:200]}); the file is damaged, export it again"
        ) from None
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as e:  # noqa: BLE001 - the Rust tokenizer raises a bare Exception for a damaged file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise TextsiftError(f"{folder / 'tokenizer.json'}: cannot be read ({first[:160]}); export the folder "
                            "again") from None
    width = session.get_outputs()[0].shape[-1]
    if isinstance(width, int) and width != len(settings.labels):
        raise TextsiftError(f"{folder / ONNX_FILE}: the graph gives {width} scores but textsift.json has "
                            f"{len(settings.labels)} labels; export the folder again")
    tokenizer.no_padding()  # pad per length-sorted batch instead, see `data.batching.pad`
    tokenizer.enable_truncation(settings.max_length)
    return OnnxClassifier(session, tokenizer, settings)
