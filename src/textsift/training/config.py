"""Typed configs of the verbs that build on training: `update` (new labelled data, forgetting measured and
bounded), `pretrain` (masked-LM pre-training of a backbone on unlabelled text) and `tune` (a search over training
settings, one `train` run per trial).

They live beside the training code, as the monitor's live beside the monitor, so textsift/config.py stays the
home of the core verbs; the CLI derives their flags the same way (textsift.cli._options).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from textsift.config import DEFAULT_BACKBONE, LoopConfig, RehearsalConfig, TrainConfig, check_finite
from textsift.errors import TextsiftError

Anchor = Literal["none", "l2", "ewc"]
# The anchor penalty's default weight, by kind: L2 sums squared weight moves (about 1e-4 each for a 22 M model after
# an update); EWC weights each move by its Fisher value, which is tiny for most weights (BENCHMARKS.md, Keep learning).
ANCHOR_STRENGTH = {"none": 0.0, "l2": 1.0, "ewc": 1000.0}


@dataclass(kw_only=True)
class UpdateConfig(LoopConfig):
    """How `textsift update` continues training a model folder on new labelled data without forgetting the old.

    Attributes:
        model_dir: The torch model folder to continue from (written by train or update); it is never changed.
        train_file: New labelled CSV, TSV, JSONL or Parquet file.
        out: Folder for the updated model; must differ from model_dir.
        validation_file: Validation file of the new data; without one, validation_split of it is held out.
        previous_validation: Labelled file of the old data to measure forgetting on; default the validation file
            recorded in the model folder.
        replay: Share of each epoch's rows drawn from the folder's rehearsal buffer of earlier training rows (0
            turns rehearsal off).
        anchor: none, l2 (penalise the distance to the previous weights) or ewc (the same, each weight scaled by
            its Fisher information on the rehearsal rows, Kirkpatrick et al. 2017).
        anchor_strength: Weight of the anchor penalty; default 1 for l2 and 1000 for ewc.
        max_forgetting: Largest drop, in points of the task's headline metric on the previous validation data,
            that an update may cause; an update that forgets more is written beside --out as <out>.rejected and the
            command exits with code 3. None only reports.
        new_labels: refuse (labels the model does not know stop the update) or allow (the head grows a row per new
            label; the old rows keep their weights).
        class_weight: none, or balanced to weight the loss by inverse class frequency of the update's rows (new
            and kept): new data of one class, e.g. a new label's, otherwise pulls every answer towards it.
        epochs: Maximum epochs; default 2.
        learning_rate: Peak learning rate; default 2e-5 for a fully fine-tuned model and 3e-4 for a head model,
            below train's so the update moves the weights less.
        patience: Stop after this many epochs without a better validation score; default 1.
        rehearsal: What the updated folder keeps for the next update: the kept rows merged with the new ones.
    """

    model_dir: Path
    previous_validation: Path | None = None
    replay: float = 0.2
    anchor: Anchor = "none"
    anchor_strength: float | None = None
    max_forgetting: float | None = 1.0
    new_labels: Literal["refuse", "allow"] = "refuse"
    class_weight: Literal["none", "balanced"] = "none"
    epochs: int | None = 2
    patience: int | None = 1
    rehearsal: RehearsalConfig = field(default_factory=RehearsalConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_finite(self)
        self.model_dir = Path(self.model_dir)
        if self.previous_validation is not None:
            self.previous_validation = Path(self.previous_validation)
        if not 0.0 <= self.replay < 1.0:
            raise TextsiftError(f"replay must be in [0, 1), not {self.replay}")
        if self.anchor not in ANCHOR_STRENGTH:
            raise TextsiftError(f"anchor must be none, l2 or ewc, not {self.anchor!r}")
        if self.class_weight not in ("none", "balanced"):
            raise TextsiftError(f"class_weight must be none or balanced, not {self.class_weight!r}")
        if self.new_labels not in ("refuse", "allow"):
            raise TextsiftError(f"new_labels must be refuse or allow, not {self.new_labels!r}")
        if (self.anchor_strength or 0) < 0 or (self.max_forgetting or 0) < 0:
            raise TextsiftError("anchor_strength and max_forgetting must be >= 0")
        if self.out.resolve() == self.model_dir.resolve():
            raise TextsiftError(f"--out {self.out} is the model folder itself; write the update to a new folder")

    @property
    def strength(self) -> float:
        """The anchor penalty's weight the run uses."""
        return self.anchor_strength if self.anchor_strength is not None else ANCHOR_STRENGTH[self.anchor]

    def lr_for(self, strategy: str | None) -> float:
        """The learning rate for a model trained with `strategy` (the folder's)."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 3e-4 if strategy == "head" else 2e-5


@dataclass(kw_only=True)
class PretrainConfig(LoopConfig):
    """How `textsift pretrain` continues masked-LM pre-training of a backbone on unlabelled text.

    Attributes:
        train_file: Raw text: a .txt file with one text per line (blank lines are dropped and counted), or a CSV,
            TSV, JSONL or Parquet table whose text column is read; point it at a training file's own texts for
            task-adaptive pre-training.
        out: Backbone folder to write; `textsift train --backbone FOLDER` takes it.
        validation_file: Held-out text, read like the training file; without one, validation_split of the lines
            (a seeded random sample) is held out.
        validation_split: Share of the lines held out when there is no validation file.
        backbone: The encoder to pre-train further: a local Hugging Face folder, a hub name already in the local
            cache, or the built-in all-MiniLM-L6-v2 (default).
        steps: Optimiser steps; a file shorter than that many batches is read again, masked afresh each pass.
        validate_every: Steps between held-out validations (and checkpoints); each saves the backbone when its
            held-out MLM loss is the best so far.
        max_length: Texts are truncated to this many tokens.
        mlm_probability: Share of the words masked (whole words: every piece of a chosen word is masked).
        learning_rate: Peak learning rate of AdamW.
        patience: Stop after this many validations without a lower held-out MLM loss; none runs every step.
    """

    out: Path = Path("backbones/textsift")
    backbone: str = DEFAULT_BACKBONE
    steps: int = 1000
    validate_every: int = 100
    max_length: int = 128
    mlm_probability: float = 0.15
    learning_rate: float | None = 5e-5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.steps < 1 or self.validate_every < 1:
            raise TextsiftError(f"steps and validate_every must be at least 1 (got {self.steps}, "
                                f"{self.validate_every})")
        if self.max_length < 8:
            raise TextsiftError(f"max_length must be at least 8, not {self.max_length}")
        if not 0.0 < self.mlm_probability < 1.0:
            raise TextsiftError(f"mlm_probability must be in (0, 1), not {self.mlm_probability}")

    @property
    def max_steps(self) -> int:
        return self.steps


@dataclass(kw_only=True)
class TuneConfig(TrainConfig):
    """How `textsift tune` searches training settings with Optuna. Every train flag is taken too and stays fixed
    across the trials, except the parameters of the search space.

    Attributes:
        out: Folder of the search: study.db (the default study), trials/ (one model folder per trial, while it
            runs), best/ (the best trial's model folder, the stable place to point predict or serve at), tune.json
            and importance.png.
        trials: Finished (complete or pruned) trials the study should hold; running the same command again after
            an interruption runs only the rest. One tune process per study: a trial left running is taken for
            one whose process died, marked failed, and its parameters are tried again.
        study: Where the study lives, as an SQLAlchemy URL (sqlite:///tune.db, postgresql://...); default
            sqlite:///<out>/study.db.
        study_name: Name of the study in that storage; another name starts another search.
        space: JSON file overriding or adding to the strategy's search space, keyed by train flag names with
            underscores: {"learning_rate": {"low": 1e-4, "high": 1e-2, "log": true}, "batch_size": {"choices":
            [16, 32]}}; null drops a parameter (it keeps its flag's value).
        keep_trials: Keep every complete trial's model folder under trials/, not only the best one (pruned and
            failed trials' folders are always deleted).
        prune_startup: Trials that run to the end before any is pruned (the median needs a few to compare with).
        prune_warmup: Epochs every trial runs before it can be pruned.
    """

    out: Path = Path("models/tune")
    trials: int = 20
    study: str | None = None
    study_name: str = "textsift"
    space: Path | None = None
    keep_trials: bool = False
    prune_startup: int = 5
    prune_warmup: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.space is not None:
            self.space = Path(self.space)
        if self.trials < 1:
            raise TextsiftError(f"trials must be at least 1, not {self.trials}")
        if self.prune_startup < 0 or self.prune_warmup < 0:
            raise TextsiftError("prune_startup and prune_warmup must be >= 0")
        if self.resume:
            raise TextsiftError("tune resumes its study by itself (run the same command again); drop resume")
        if not self.study_name.strip():
            raise TextsiftError("study_name must not be empty")
        training_rows = self.validation_file is None and self.strategy == "fewshot"
        if training_rows or (self.validation_file is not None and self.validation_file == self.train_file):
            raise TextsiftError("tune compares trials on held-out rows; pass a --validation file other than the "
                                "training file")

    @property
    def storage(self) -> str:
        """The SQLAlchemy URL of the study."""
        return self.study or f"sqlite:///{self.out / 'study.db'}"
