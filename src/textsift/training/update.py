"""`update(cfg)` -> model folder: continue training a model folder on new labelled data through the same loop as
`train`, beside rehearsal rows the folder kept of its earlier data and, optionally, an anchor to its weights;
new labels grow the head. What the update did to the old data is always measured (training/forgetting.py), and
an update that forgets more than `max_forgetting` points is moved aside as <out>.rejected instead of landing.

Decisions: the best epoch is chosen on the new validation data only, so the earlier validation rows the
forgetting is measured on never steer training; a regression keeps its parent's target scaling (its outputs
must stay in the same units); the rejected folder is kept, renamed, so the run can be inspected and forced in by
hand, while --out never holds weights that failed the gate.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textsift import __version__, files
from textsift.config import to_jsonable
from textsift.data.batching import sorted_batches
from textsift.data.checks import read_training_data
from textsift.data.io import Table, read_table
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.inference.torch_backend import Classifier, collate, to_device
from textsift.modeling import lineage
from textsift.modeling.card import write_card
from textsift.modeling.extend import add_outputs
from textsift.modeling.settings import read_settings, update_settings
from textsift.tasks.base import Task
from textsift.tasks.registry import get_task
from textsift.training import replay
from textsift.training.anchor import Anchor, fisher_diagonal
from textsift.training.config import UpdateConfig
from textsift.training.forgetting import Forgetting, compare, print_forgetting, score
from textsift.training.loop import fit, prepare, write_metrics
from textsift.training.replay import CHECK_ROWS, TRAIN_ROWS, Buffer
from textsift.training.strategies import Encoded, encode, fine_tune, frozen_head, pooled_features

log = logging.getLogger("textsift")
Featurize = Callable[[list[tuple[str, str | None]]], np.ndarray]
FISHER_ROWS = 512  # rehearsal rows the Fisher information is estimated on; more add little and cost a pass each


@dataclass
class UpdateResult:
    """Where the update landed, whether it passed the forgetting gate, and what it measured."""

    folder: Path
    accepted: bool
    forgetting: Forgetting


def update(cfg: UpdateConfig) -> UpdateResult:
    """Continue training `cfg.model_dir` on `cfg.train_file`; see the module docstring."""
    started = time.perf_counter()
    device = prepare(cfg, "textsift update")
    # Everything the settings and the data can refuse is checked before the weights load.
    settings = read_settings(cfg.model_dir)
    if settings.backend != "torch":
        raise TextsiftError(f"{cfg.model_dir}: an ONNX folder cannot be updated; pass the torch model folder it "
                            "came from")
    task = get_task(settings.task)
    cfg.data = settings.data_columns(cfg.data)
    new_train, new_val = read_training_data(cfg, task, alone=False)
    added = new_labels(cfg, task, settings.labels, [new_train, new_val])
    kept = replay.read(cfg.model_dir, TRAIN_ROWS)
    check_features(cfg, settings.strategy, kept)
    model = parent_model(cfg.model_dir)
    old_check = previous_rows(cfg, model)
    featurize = features_mode(cfg, model, kept)
    to_device(model.model, device)
    old_before = score(model, old_check, cfg.batch_size)
    anchor = make_anchor(cfg, model, kept, device)  # before the head grows: new rows are not anchored
    if added:
        log.info("adding %d new label(s) to the head: %s", len(added), ", ".join(added))
        add_outputs(model.model, model.labels, added, cfg.seed)
        thresholds = model.settings.thresholds and model.settings.thresholds + [0.5] * len(added)
        model.settings = dataclasses.replace(model.settings, labels=model.labels + added, thresholds=thresholds)
    new_before = score(model, new_val, cfg.batch_size)
    rehearsal = rehearsal_sample(kept, cfg.replay, len(new_train), cfg.seed)
    model.settings = dataclasses.replace(
        model.settings, textsift_version=__version__,
        data={split: table.fingerprint(task.label_counts(table)) for split, table in (("train", new_train),
                                                                                      ("validation", new_val))})
    data, kept_features = encoded(model, new_train, new_val, rehearsal)
    balanced = cfg.class_weight == "balanced"
    batch_loss = anchor.wrap(task.loss(data.y_train, model.settings, device, balanced=balanced))
    lr = cfg.lr_for(model.settings.strategy)
    if model.settings.strategy == "head":
        objective = frozen_head(model, data, device, batch_loss, lambda: model.save(cfg.out), kept_features)
    else:
        objective = fine_tune(model, data, device, batch_loss, lambda: model.save(cfg.out))
    log.info("updating with %d new rows and %d rehearsal rows, lr %.0e, anchor %s", len(new_train),
             len(rehearsal.rows) if rehearsal else 0, lr, cfg.anchor)
    state = fit(objective, dataclasses.replace(cfg, learning_rate=lr), device)
    best = parent_model(cfg.out, cfg.device)
    forgetting = compare(task, (old_before, score(best, old_check, cfg.batch_size)),
                         (new_before, score(best, new_val, cfg.batch_size)))
    keep_rows(cfg, best, kept, new_train, new_val, featurize)
    accepted = not forgetting.rejected(cfg.max_forgetting)
    record(cfg, best, state.best_metrics, forgetting, accepted)
    write_metrics(cfg.out, state, time.perf_counter() - started)
    add_forgetting(cfg.out, forgetting, accepted)
    print_forgetting(forgetting)
    return UpdateResult(land(cfg, accepted, forgetting), accepted, forgetting)


def parent_model(folder: Path, device: str = "cpu") -> Classifier:
    """A torch model folder to update (an ONNX export has no weights to train)."""
    model = load(folder, device)
    if not isinstance(model, Classifier):
        raise TextsiftError(f"{folder}: an ONNX folder cannot be updated; pass the torch model folder it came from")
    return model


def previous_rows(cfg: UpdateConfig, model: Classifier) -> Table | Buffer:
    """The old data forgetting is measured on: --previous-validation, else the validation rows the folder kept,
    else its recorded validation file when that is not its training file."""
    columns = model.settings.data_columns(cfg.data)
    if cfg.previous_validation is not None:
        return read_table(cfg.previous_validation, columns)
    check = replay.read(cfg.model_dir, CHECK_ROWS)
    if check is not None:
        return check
    recorded = model.settings.data.get("validation")
    train = model.settings.data.get("train")
    if recorded is not None and Path(recorded.file).is_file() and (train is None or recorded.file != train.file):
        return read_table(recorded.file, columns)
    raise TextsiftError(f"{cfg.model_dir}: keeps no validation rows and its validation file is not at hand; pass "
                        "--previous-validation with a labelled file of the old data")


def check_features(cfg: UpdateConfig, strategy: str | None, kept: Buffer | None) -> None:
    """Features stand in for texts only where the encoder is frozen (a head model)."""
    wants = not cfg.rehearsal.keep_texts or (kept is not None and kept.features is not None)
    if wants and cfg.rehearsal.replay_size and strategy != "head":
        raise TextsiftError("--no-keep-texts keeps features of a frozen encoder, which a fully fine-tuned model does "
                            "not have; keep texts, or pass --replay-size 0")


def features_mode(cfg: UpdateConfig, model: Classifier, kept: Buffer | None) -> Featurize | None:
    """The featurizer when the updated folder keeps features instead of texts, else None."""
    if kept is not None and kept.features is not None:
        if cfg.rehearsal.keep_texts:
            log.warning("%s keeps features, not texts; the updated folder keeps features too", cfg.model_dir)
    elif cfg.rehearsal.keep_texts:
        return None
    return lambda rows: pooled_features(model, rows)


def new_labels(cfg: UpdateConfig, task: Task, known: list[str], tables: list[Table]) -> list[str]:
    """Labels of the new data the model does not know, sorted; refused unless `new_labels` is allow."""
    if task.name.endswith("regression"):
        return []
    seen = {name for table in tables for name in task.label_names(table)}
    added = sorted(seen - set(known))
    if added and cfg.new_labels != "allow":
        raise TextsiftError(f"{cfg.train_file}: labels the model does not know: {', '.join(added)} (it knows "
                            f"{', '.join(known)}); pass --new-labels allow to add them to the head")
    return added


def make_anchor(cfg: UpdateConfig, model: Classifier, kept: Buffer | None, device: torch.device) -> Anchor:
    """The anchor penalty towards the parent's weights; EWC estimates its Fisher weights on the rehearsal rows."""
    if cfg.anchor == "none":
        return Anchor(model.model, 0.0)
    if model.settings.strategy == "head":
        for p in model.model.encoder.parameters():  # type: ignore[union-attr]
            p.requires_grad_(False)  # the frozen encoder is not anchored, only the head that trains
    fisher = None
    if cfg.anchor == "ewc":
        if kept is None:
            raise TextsiftError(f"{cfg.model_dir}: keeps no rehearsal rows to estimate EWC's Fisher weights on; "
                                "use --anchor l2")
        fisher = estimate_fisher(model, kept.subset(list(range(min(len(kept.rows), FISHER_ROWS)))), device)
    return Anchor(model.model, cfg.strength, fisher)


def estimate_fisher(model: Classifier, rows: Buffer, device: torch.device) -> dict[str, torch.Tensor]:
    task, table = model.task, rows.table()
    batch_loss = task.loss(task.targets(table, model.settings), model.settings, device, balanced=False)
    if rows.features is not None:
        feats = torch.from_numpy(rows.features).to(device)

        def loss(idx: list[int]) -> torch.Tensor:
            return batch_loss(model.model.head(feats[idx]).float(), idx)  # type: ignore[operator]
        lengths = [1] * len(rows.rows)
    else:
        ids = model.encode(table.inputs)

        def loss(idx: list[int]) -> torch.Tensor:
            inputs = collate([ids[i] for i in idx], model.tokenizer.pad_token_id, model.sep_id)
            return batch_loss(model.model(**{k: v.to(device) for k, v in inputs.items()}).logits.float(), idx)
        lengths = [len(s) for s in ids]
    return fisher_diagonal(model.model, loss, sorted_batches(lengths, 16), len(lengths))


def rehearsal_sample(kept: Buffer | None, share: float, new_rows: int, seed: int) -> Buffer | None:
    """The kept rows this run trains on: `share` of the run's rows (so share / (1 - share) per new row), a
    seeded sample of the buffer, the same every epoch."""
    if kept is None or share == 0:
        if share and kept is None:
            log.warning("the model folder keeps no rehearsal rows; updating on the new data alone")
        return None
    wanted = min(len(kept.rows), round(share / (1 - share) * new_rows))
    chosen = np.random.default_rng(seed).permutation(len(kept.rows))[:wanted]
    return kept.subset(sorted(int(i) for i in chosen))


def encoded(model: Classifier, new_train: Table, new_val: Table, rehearsal: Buffer | None
            ) -> tuple[Encoded, torch.Tensor | None]:
    """The run's training data: the new rows and the rehearsal rows (as texts, or as features after them)."""
    if rehearsal is None:
        return encode(model, new_train, new_val), None
    if rehearsal.features is None:
        return encode(model, concat(new_train, rehearsal.table(new_train)), new_val), None
    data = encode(model, new_train, new_val)
    y_kept = model.task.targets(rehearsal.table(new_train), model.settings)
    data = dataclasses.replace(data, y_train=np.concatenate([data.y_train, y_kept]))
    return data, torch.from_numpy(rehearsal.features)


def concat(first: Table, second: Table) -> Table:
    pairs = (first.pairs or []) + (second.pairs or []) if first.pairs is not None else None
    return Table(first.path, first.texts + second.texts, (first.labels or []) + (second.labels or []),
                 first.lines + second.lines, pairs, first.label_column, first.label_sep)


def keep_rows(cfg: UpdateConfig, model: Classifier, kept: Buffer | None, new_train: Table, new_val: Table,
              featurize: Featurize | None) -> None:
    """The updated folder's rehearsal and check rows: the parent's merged with the new data's, bounded."""
    size = cfg.rehearsal.replay_size
    if not size:
        return
    old_check = replay.read(cfg.model_dir, CHECK_ROWS)
    for name, old, table in ((TRAIN_ROWS, kept, new_train), (CHECK_ROWS, old_check, new_val)):
        buffer = replay.carry(old, Buffer(replay.rows_of(table, model.task.name)), size, featurize)
        replay.write(cfg.out, name, buffer)


def record(cfg: UpdateConfig, model: Classifier, metrics: dict[str, Any] | None, forgetting: Forgetting,
           accepted: bool) -> None:
    """Append this step to the parent's lineage in the updated folder's textsift.json."""
    summary = model.task.summary(metrics) if metrics else {}
    entry = lineage.step("update", folder=cfg.out, settings=model.settings, parent=cfg.model_dir,
                         config=to_jsonable(cfg), metrics={"backward_transfer": forgetting.backward_transfer,
                                                           "gain": forgetting.gain, **summary},
                         status="accepted" if accepted else "rejected")
    update_settings(cfg.out, lineage=lineage.extended(model.settings.lineage, entry))


def add_forgetting(out: Path, forgetting: Forgetting, accepted: bool) -> None:
    path = out / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["forgetting"] = {**forgetting.to_json(), "accepted": accepted}
    files.write_text(path, json.dumps(metrics, indent=2) + "\n")
    write_card(out)


def land(cfg: UpdateConfig, accepted: bool, forgetting: Forgetting) -> Path:
    """--out when the update passed the gate; else the folder moved to <out>.rejected."""
    if accepted:
        log.info("backward transfer %+.2f points, gain %+.2f points: written to %s", forgetting.backward_transfer,
                 forgetting.gain, cfg.out)
        return cfg.out
    rejected = Path(f"{cfg.out}.rejected")
    if rejected.exists():
        shutil.rmtree(rejected)
    cfg.out.rename(rejected)
    log.error("the update forgot %.2f points of %s on the old data (more than --max-forgetting %.2f): moved to %s",
              -forgetting.backward_transfer, forgetting.metric, cfg.max_forgetting or 0, rejected)
    return rejected
