"""Checkpoints of the training loop: weights (safetensors), optimiser, schedule and random generators, and the
run's state, so `--resume` continues bitwise-equal to an uninterrupted run."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

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
        return cls(**{k: v for k, v in raw.items() if k in known})


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, state: RunState) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, str(folder / "model.safetensors"))
    extra = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state()}
    if torch.cuda.is_available():  # dropout on a GPU draws from the CUDA generators, not the CPU one
        extra["cuda_rng"] = torch.cuda.get_rng_state_all()
    torch.save(extra, folder / "optimizer.pt")
    (folder / "state.json").write_text(json.dumps(dataclasses.asdict(state), indent=2))


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any) -> RunState:
    if not (folder / "state.json").is_file():
        raise TextsiftError(f"{folder}: no checkpoint to resume from; drop --resume to start a new run")
    load_model(model, str(folder / "model.safetensors"))
    # weights_only=True: tensors and plain containers only, never arbitrary pickled objects.
    extra = torch.load(folder / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["rng"])
    if "cuda_rng" in extra and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(extra["cuda_rng"])
    state = RunState.from_json(json.loads((folder / "state.json").read_text()))
    log.info("resuming after epoch %d (best %s %s)", state.epoch, state.best_name, state.best_score)
    return state
