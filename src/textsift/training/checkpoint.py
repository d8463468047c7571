"""Checkpoints of the training loop: weights (safetensors), optimiser, schedule and random generators, and the
run's state, so `--resume` continues bitwise-equal to an uninterrupted run."""

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
from safetensors.torch import load_model, save_model

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

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RunState:
        if "best_f1" in raw:  # written before the loop was shared: the best score was always macro-F1
            best = raw.pop("best_f1")
            raw.update(best_name="macro_f1", best_score=best if raw.get("best_epoch") else None)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})  # "stamp" belongs to the checkpoint, not the run


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, state: RunState) -> None:
    """Weights, optimiser and state, each written atomically and stamped with one id; state.json goes last, so a
    save cut short leaves files whose stamps disagree, which `load_checkpoint` refuses."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix=".saving-", dir=folder) as tmp:
        save_model(model, f"{tmp}/model.safetensors", metadata={"stamp": stamp})
        extra = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "rng": torch.get_rng_state(), "stamp": stamp}
        if torch.cuda.is_available():  # dropout on a GPU draws from the CUDA generators, not the CPU one
            extra["cuda_rng"] = torch.cuda.get_rng_state_all()
        torch.save(extra, f"{tmp}/optimizer.pt")
        for name in ("model.safetensors", "optimizer.pt"):
            files.publish(Path(tmp) / name, folder / name)
    files.write_text(folder / "state.json", json.dumps({**dataclasses.asdict(state), "stamp": stamp}, indent=2))


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any) -> RunState:
    """Restore a run; a damaged, mixed or mismatched checkpoint is one line saying what to do."""
    if not (folder / "state.json").is_file():
        raise TextsiftError(f"{folder}: no checkpoint to resume from; drop --resume to start a new run")
    try:
        raw = json.loads((folder / "state.json").read_text())
        # weights_only=True: tensors and plain containers only, never arbitrary pickled objects.
        extra = torch.load(folder / "optimizer.pt", weights_only=True)
        with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
            weights_stamp = (f.metadata() or {}).get("stamp")
    except Exception as e:  # noqa: BLE001 - json, pickle and safetensors each fail their own way
        raise TextsiftError(f"{folder}: the checkpoint is damaged ({type(e).__name__}); delete {folder} and start "
                            "again without --resume") from None
    if len({raw.get("stamp"), extra.get("stamp"), weights_stamp}) != 1:
        raise TextsiftError(f"{folder}: the checkpoint files come from different saves (one was cut short); delete "
                            f"{folder} and start again without --resume")
    try:
        load_model(model, str(folder / "model.safetensors"))
        optimizer.load_state_dict(extra["optimizer"])
        scheduler.load_state_dict(extra["scheduler"])
    except (RuntimeError, ValueError, KeyError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise TextsiftError(f"{folder}: the checkpoint does not fit this model ({first[:160]}); resume with the "
                            "same data and settings, or start again without --resume") from None
    torch.set_rng_state(extra["rng"])
    if "cuda_rng" in extra and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(extra["cuda_rng"])
    state = RunState.from_json(raw)
    log.info("resuming after epoch %d (best %s %s)", state.epoch, state.best_name, state.best_score)
    return state
