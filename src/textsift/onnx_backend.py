"""Run an exported model folder with ONNX Runtime: same interface as `Classifier`, no torch in the forward pass.

`load()` picks this backend when textsift.json says `"backend": "onnx"`, so predict, evaluate and serve treat torch
and ONNX folders alike. Tokenisation uses the folder's tokenizer.json through the `tokenizers` library directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textsift._optional import require
from textsift.batching import sorted_batches
from textsift.errors import TextsiftError
from textsift.model import Predictor

ONNX_FILE = "model.onnx"

# The torch-free way to run a folder; written into each exported folder's README.md and run by the tests.
USAGE_SNIPPET = """\
import json
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

folder = "{folder}"
settings = json.load(open(f"{{folder}}/textsift.json"))
tokenizer = Tokenizer.from_file(f"{{folder}}/tokenizer.json")
tokenizer.enable_truncation(settings["max_length"])
tokenizer.enable_padding(pad_id=settings["onnx"]["pad_token_id"], pad_token=settings["onnx"]["pad_token"])
session = ort.InferenceSession(f"{{folder}}/model.onnx", providers=["CPUExecutionProvider"])
encodings = tokenizer.encode_batch(["a gripping, beautifully acted story", "dull and far too long"])
feed = {{"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}}
logits = session.run(["logits"], feed)[0]
print([settings["labels"][i] for i in logits.argmax(axis=1)])
"""


@dataclass
class OnnxClassifier(Predictor):
    """An exported classifier: ONNX Runtime session, fast tokenizer, label names and the folder's settings."""

    session: Any
    tokenizer: Any
    labels: list[str]
    max_length: int = 128
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def pooling(self) -> str:
        return str(self.settings.get("pooling", "cls"))

    @property
    def pad_token_id(self) -> int:
        return int(self.settings["onnx"]["pad_token_id"])

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids without padding (one batched call of the Rust tokenizer)."""
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def logits_from_ids(self, ids: list[list[int]], batch_size: int = 64) -> np.ndarray:
        """Raw scores for already tokenized texts; batches are length-sorted to keep padding small."""
        out = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        for batch in sorted_batches([len(s) for s in ids], batch_size):
            feed = pad([ids[i] for i in batch], self.pad_token_id)
            out[batch] = self.session.run(["logits"], feed)[0]
        return out


def pad(sequences: list[list[int]], pad_id: int) -> dict[str, np.ndarray]:
    """Pad token id lists to the longest in the batch (numpy twin of `batching.collate`)."""
    width = max(len(s) for s in sequences)
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = seq
        attention_mask[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def load_onnx(folder: Path, settings: dict[str, Any]) -> OnnxClassifier:
    """An `OnnxClassifier` for an exported folder whose textsift.json has already been read and checked."""
    ort = require("onnxruntime", extra="onnx")
    tokenizers = require("tokenizers", extra="onnx")
    for needed in (ONNX_FILE, "tokenizer.json"):
        if not (folder / needed).is_file():
            raise TextsiftError(f"{folder}: {needed} is missing; the folder is incomplete, export it again")
    if "pad_token_id" not in settings.get("onnx", {}):
        raise TextsiftError(f"{folder}/textsift.json: no onnx.pad_token_id; export the folder again")
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ORT raises several types for a damaged graph; one line says it all
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TextsiftError(
            f"{folder / ONNX_FILE}: cannot load the ONNX graph ({first[:200]}); the file is damaged, export it again"
        ) from None
    tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # pad per length-sorted batch instead, see `pad`
    tokenizer.enable_truncation(int(settings["max_length"]))
    return OnnxClassifier(session, tokenizer, list(settings["labels"]), int(settings["max_length"]), settings)
