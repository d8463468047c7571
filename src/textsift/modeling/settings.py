"""textsift.json, the settings of a model folder, as one typed dataclass with one reader and one writer.

Format 1 (textsift 0.1.0 up to this change) had the same keys with the optional ones left out; format 2 writes
every field. Both load; a folder of a newer format is refused with one line. Only the standard library and
textsift's light modules are imported here, so reading a folder never loads torch.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from textsift import files
from textsift.config import CleanConfig, DataConfig, TaskName
from textsift.data.io import Fingerprint
from textsift.errors import TextsiftError

SETTINGS_FILE = "textsift.json"
REMOTE_CODE_FILE = "modeling_textsift.py"  # a mean-pooled folder's model class, for plain transformers
FORMAT_VERSION = 2
Backend = Literal["torch", "onnx"]
TrainedBy = Literal["full", "head", "lora", "fewshot", "distill"]
T = TypeVar("T")


@dataclass
class OnnxFacts:
    """How an exported graph is fed; the torch-free snippet in the model card reads the pad token from here."""

    file: str
    opset: int
    inputs: list[str]
    outputs: list[str]
    optimisation: str
    pad_token_id: int
    pad_token: str
    sep_token_id: int | None = None  # pair tasks: token_type_ids are 1 after the first separator


@dataclass
class ModelSettings:
    """Everything textsift needs to use a model folder besides its weights and tokenizer.

    Attributes:
        labels: Output names; index i is the model's output i (a regression's one output is named after its
            target column).
        max_length: Texts (pairs: both texts together) are truncated to this many tokens.
        pooling: cls (the stock Hugging Face classifier) or mean (textsift's mean-pooling head).
        task: multi-class, multi-label, regression, pair or pair-regression (textsift.tasks).
        backbone: The encoder training started from.
        strategy: How the weights were trained: full, head, lora, fewshot or distill.
        parameters: The run's trainable and total parameter counts ({"trainable": n, "total": m}).
        adapter: lora only: the subfolder holding the LoRA adapter (PEFT format); the folder's weights are the
            adapter merged into the backbone, so loading them needs neither PEFT nor the adapter.
        cleaning: What is done to every text before the model reads it (normalisation, masking of personal data);
            every backend applies it to its inputs, so predict, serve and monitor clean as training did. None in
            folders written before cleaning existed: their texts go in as they are.
        textsift_version: The textsift that trained the weights.
        train_config: The resolved TrainConfig of the run that wrote the weights (train only).
        distill_config: The resolved DistillConfig (distill only).
        teacher: The teacher folder (distill only).
        data: Fingerprints of the training and validation data, by split.
        temperature: Probabilities are softmax(logits / temperature); set by `report --fit-temperature`.
        thresholds: Multi-label only: a label is predicted when its probability reaches its threshold; tuned on
            the validation data, 0.5 for each label when absent.
        target_scaling: Regression only: the training targets' mean and std; outputs are logit * std + mean.
        backend: torch (safetensors weights) or onnx (model.onnx).
        quantize: int8, or None for fp32 (onnx only).
        source: The torch folder the graph was exported from (onnx only).
        onnx: How the graph is fed (onnx only).
        parity: The export's checks against the torch model (onnx only).
        lineage: Every step that led to these weights, oldest first (textsift.modeling.lineage): the verb, the
            parent folder and the sha256 of its textsift.json, data fingerprints, the config and the metrics.
        files: sha256 of every file written with these settings (weights, config, tokenizer, model code); `load`
            refuses a folder whose files no longer match, so a half-written or altered folder is never used.
        extra: Keys this version does not know, kept so that rewriting the file loses nothing.
    """

    labels: list[str]
    max_length: int
    pooling: Literal["cls", "mean"] = "cls"
    task: str = "multi-class"
    backbone: str | None = None
    strategy: TrainedBy | None = None
    parameters: dict[str, int] | None = None
    adapter: str | None = None
    cleaning: CleanConfig | None = None
    textsift_version: str | None = None
    train_config: dict[str, Any] | None = None
    distill_config: dict[str, Any] | None = None
    teacher: str | None = None
    data: dict[str, Fingerprint] = field(default_factory=dict)
    temperature: float = 1.0
    thresholds: list[float] | None = None
    target_scaling: dict[str, float] | None = None
    backend: Backend = "torch"
    quantize: Literal["int8"] | None = None
    source: str | None = None
    onnx: OnnxFacts | None = None
    parity: dict[str, Any] | None = None
    lineage: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def data_columns(self, given: DataConfig | None = None) -> DataConfig:
        """The columns to read a file with: those `given`, where a column left at its default is the one the
        training data was read with (so a model trained with --label-column valence evaluates on valence)."""
        trained = (self.train_config or self.distill_config or {}).get("data") or {}
        known = {f.name for f in dataclasses.fields(DataConfig)}
        columns = DataConfig(**{k: v for k, v in trained.items() if k in known})
        if given is None:
            return columns
        default = DataConfig()
        return DataConfig(**{name: getattr(given, name) if getattr(given, name) != getattr(default, name)
                             else getattr(columns, name) for name in known})

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values, `format` first; unknown keys read from an older file go back as they were."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        values["data"] = {split: dataclasses.asdict(fp) for split, fp in self.data.items()}
        values["onnx"] = dataclasses.asdict(self.onnx) if self.onnx is not None else None
        values["cleaning"] = dataclasses.asdict(self.cleaning) if self.cleaning is not None else None
        return {"format": FORMAT_VERSION, **values, **self.extra}

    @classmethod
    def from_json(cls, raw: Any, path: Path) -> ModelSettings:
        """Check a parsed textsift.json of any known format; every problem is one line naming the file."""
        if not isinstance(raw, dict) or not isinstance(raw.get("labels"), list) or "max_length" not in raw:
            raise TextsiftError(f"{path}: labels or max_length missing; restore it or train again")
        version = raw.get("format", 1)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise TextsiftError(f"{path}: written by a newer textsift (format {version}); upgrade textsift")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in raw.items() if k in known}
        values["data"] = {split: _typed(Fingerprint, fp, path, f"data.{split}")
                          for split, fp in (raw.get("data") or {}).items()}
        if raw.get("onnx") is not None:
            values["onnx"] = _typed(OnnxFacts, raw["onnx"], path, "onnx")
        if raw.get("cleaning") is not None:
            values["cleaning"] = _typed(CleanConfig, raw["cleaning"], path, "cleaning")
        settings = cls(**values, extra={k: v for k, v in raw.items() if k not in known and k != "format"})
        settings.check(path)
        return settings

    def check(self, path: Path) -> None:
        """Types and choices of the fields textsift acts on."""
        problems = []
        if not self.labels or not all(isinstance(label, str) for label in self.labels):
            problems.append("labels must be a non-empty list of strings")
        if not isinstance(self.max_length, int) or self.max_length < 1:
            problems.append(f"max_length must be a positive integer, not {self.max_length!r}")
        for name, allowed in (("pooling", ("cls", "mean")), ("backend", get_args(Backend)),
                              ("task", get_args(TaskName))):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if not isinstance(self.temperature, int | float) or not 0 < self.temperature < math.inf:
            problems.append(f"temperature must be a positive number, not {self.temperature!r}")
        if self.thresholds is not None and (len(self.thresholds) != len(self.labels) or not all(
                isinstance(t, int | float) and 0 <= t <= 1 for t in self.thresholds)):
            problems.append(f"thresholds must be one number in [0, 1] per label, not {self.thresholds!r}")
        scaling = self.target_scaling
        if scaling is not None and not (isinstance(scaling, dict) and isinstance(scaling.get("mean"), int | float)
                                        and isinstance(scaling.get("std"), int | float) and scaling["std"] > 0):
            problems.append(f"target_scaling must be {{'mean': number, 'std': positive number}}, not {scaling!r}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.files.items()):
            problems.append("files must map file names to sha256 hex digests")
        if problems:
            raise TextsiftError(f"{path}: {problems[0]}; restore it or train again")


def _typed(cls: type[T], raw: Any, path: Path, key: str) -> T:
    """A nested record of textsift.json as its dataclass, or one line naming the key that is missing."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in fields]
    if not isinstance(raw, dict):
        raise TextsiftError(f"{path}: {key} must be an object with {', '.join(names)}; restore it or train again")
    missing = [f.name for f in fields if f.name not in raw and f.default is dataclasses.MISSING]
    if missing:
        raise TextsiftError(f"{path}: no {key}.{missing[0]}; restore the file, or train or export the folder again")
    return cls(**{name: raw[name] for name in names if name in raw})


def read_settings(folder: Path | str) -> ModelSettings:
    """The checked textsift.json of a model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TextsiftError(f"{folder}: no such model folder; pass a folder written by `textsift train`")
    path = folder / SETTINGS_FILE
    if not path.is_file():
        raise TextsiftError(f"{folder}: not a textsift model folder (no {SETTINGS_FILE}); train one with textsift")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TextsiftError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); restore it or train again") from None
    except UnicodeDecodeError:
        raise TextsiftError(f"{path}: not UTF-8 text; restore it or train again") from None
    return ModelSettings.from_json(raw, path)


def write_settings(folder: Path | str, settings: ModelSettings) -> Path:
    """Write textsift.json (current format) into a model folder, atomically: it is the folder's commit point."""
    return files.write_text(Path(folder) / SETTINGS_FILE, json.dumps(settings.to_json(), indent=2) + "\n")


def update_settings(folder: Path | str, **changes: Any) -> ModelSettings:
    """Read, change and write back textsift.json (e.g. a fitted temperature); returns the new settings."""
    settings = dataclasses.replace(read_settings(folder), **changes)
    write_settings(folder, settings)
    return settings
