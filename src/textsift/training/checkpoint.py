"""Checkpoints of the training loop: weights (safetensors), optimiser, schedule and random generators, and the
run's state, so `--resume` continues bitwise-equal to an uninterrupted run.

When part of the model is frozen (a head on a frozen encoder, LoRA adapters) only the trainable weights are saved:
the frozen ones are rebuilt the same way by the resumed run, and writing 90 MB of unchanged weights after each of a
head's 30 sub-second epochs took most of a few-shot run."""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from textsift import files
from textsift.errors import TextsiftError

log = logging.getLogger("textsift")


@dataclass
class RunState:
    """Where a run is: epochs and steps done, the best validation score so far and the per-epoch history."""

    epoch: int = 0
    step: int = 0
    best_name: str = "score"
    best_score: float | None = None
    best_epoch: int = 0
    bad_evals: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_metrics: dict[str, Any] | None = None
    ranks: int = 1  # processes the run trains on: the global batch, and so the schedule, depends on it

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RunState:
        if "best_f1" in raw:  # written before the loop was shared: the best score was always macro-F1
            best = raw.pop("best_f1")
            raw.update(best_name="macro_f1", best_score=best if raw.get("best_epoch") else None)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})  # "stamp" belongs to the checkpoint, not the run


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, state: RunState,
                    rank_rngs: list[torch.Tensor] | None = None) -> None:
    """Weights, optimiser and state, each written atomically and stamped with one id; state.json goes last, so a
    save cut short leaves files whose stamps disagree, which `load_checkpoint` refuses. `rank_rngs` are the CPU
    generator states of every rank of a distributed run (rank 0 writes them all), so each resumes its own dropout."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix=".saving-", dir=folder) as tmp:
        trainable = trainable_weights(model)
        if trainable is None:
            save_model(model, f"{tmp}/model.safetensors", metadata={"stamp": stamp})
        else:
            save_file(trainable, f"{tmp}/model.safetensors", metadata={"stamp": stamp, "weights": "trainable"})
        extra = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "rng": torch.get_rng_state(), "stamp": stamp}
        if torch.cuda.is_available():  # dropout on a GPU draws from the CUDA generators, not the CPU one
            extra["cuda_rng"] = torch.cuda.get_rng_state_all()
        if rank_rngs is not None:
            extra["rank_rngs"] = rank_rngs
        torch.save(extra, f"{tmp}/optimizer.pt")
        for name in ("model.safetensors", "optimizer.pt"):
            files.publish(Path(tmp) / name, folder / name)
    files.write_text(folder / "state.json", json.dumps({**dataclasses.asdict(state), "stamp": stamp}, indent=2))


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, rank: int = 0,
                    ranks: int = 1) -> RunState:
    """Restore a run (as `rank` of `ranks` processes, which must be as many as wrote it); a damaged, mixed or
    mismatched checkpoint is one line saying what to do."""
    if not (folder / "state.json").is_file():
        raise TextsiftError(f"{folder}: no checkpoint to resume from; drop --resume to start a new run")
    try:
        raw = json.loads((folder / "state.json").read_text())
        # weights_only=True: tensors and plain containers only, never arbitrary pickled objects.
        extra = torch.load(folder / "optimizer.pt", weights_only=True)
        with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
            meta = f.metadata() or {}
        weights_stamp = meta.get("stamp")
    except Exception as e:  # noqa: BLE001 - json, pickle and safetensors each fail their own way
        raise TextsiftError(f"{folder}: the checkpoint is damaged ({type(e).__name__}); delete {folder} and start "
                            "again without --resume") from None
    if len({raw.get("stamp"), extra.get("stamp"), weights_stamp}) != 1:
        raise TextsiftError(f"{folder}: the checkpoint files come from different saves (one was cut short); delete "
                            f"{folder} and start again without --resume")
    written_by = RunState.from_json(dict(raw)).ranks
    if written_by != ranks:
        raise TextsiftError(f"{folder}: the run trained on {written_by} process(es), this one has {ranks}; resume "
                            f"on {written_by} (--nproc, or torchrun's --nproc-per-node): the batch, and so the "
                            "schedule, depends on it")
    try:
        load_weights(model, folder / "model.safetensors", partial=meta.get("weights") == "trainable")
        optimizer.load_state_dict(extra["optimizer"])
        scheduler.load_state_dict(extra["scheduler"])
    except (RuntimeError, ValueError, KeyError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise TextsiftError(f"{folder}: the checkpoint does not fit this model ({first[:160]}); resume with the "
                            "same data and settings, or start again without --resume") from None
    torch.set_rng_state(extra["rank_rngs"][rank] if "rank_rngs" in extra else extra["rng"])
    if "cuda_rng" in extra and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(extra["cuda_rng"])
    state = RunState.from_json(raw)
    log.info("resuming after epoch %d (best %s %s)", state.epoch, state.best_name, state.best_score)
    return state


def trainable_weights(model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """The trainable parameters by name (contiguous copies), or None when every parameter trains."""
    params = dict(model.named_parameters())
    if all(p.requires_grad for p in params.values()):
        return None
    return {name: p.detach().contiguous() for name, p in params.items() if p.requires_grad}


def load_weights(model: torch.nn.Module, path: Path, *, partial: bool) -> None:
    """Restore saved weights; a checkpoint of trainable weights must hold exactly the model's trainable ones."""
    if not partial:
        load_model(model, str(path))
        return
    saved = load_file(str(path))
    expected = set(trainable_weights(model) or {})
    if set(saved) != expected:
        raise KeyError(f"the checkpoint trains {len(saved)} tensors, this run {len(expected)}")
    model.load_state_dict(saved, strict=False)
