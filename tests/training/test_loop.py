"""The loop on its own, with a toy objective: what any strategy that plugs into it can rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.nn import functional as F

from textsift.config import LoopConfig
from textsift.training.loop import Objective, Scores, fit, prepare


def toy(scores: list[float], saved: list[float]) -> Objective:
    """A linear model on fixed data; validation replays `scores`, saving records the score it saved at."""
    torch.manual_seed(0)
    model, x, y = torch.nn.Linear(3, 2), torch.randn(8, 3), torch.tensor([0, 1] * 4)
    replay = iter(scores)
    last: list[float] = []

    def validate() -> Scores:
        last.append(next(replay))
        return Scores("score", last[-1], {"score": last[-1]})

    return Objective(model, [5] * 8, lambda idx: F.cross_entropy(model(x[idx]), y[idx]), validate,
                     lambda: saved.append(last[-1]))


def loop_config(out: Path, **overrides) -> LoopConfig:
    settings = dict(train_file=out / "unused.csv", out=out, epochs=5, learning_rate=0.1, batch_size=4, num_threads=1)
    return LoopConfig(**{**settings, **overrides})


def test_the_best_epoch_is_saved_and_patience_stops_the_run(tmp_path: Path) -> None:
    saved: list[float] = []
    cfg = loop_config(tmp_path, patience=2)
    state = fit(toy([0.5, 0.7, 0.6, 0.65, 0.9], saved), cfg, prepare(cfg))
    assert saved == [0.5, 0.7]  # epochs 3 and 4 did not improve, so epoch 5 never ran
    assert (state.epoch, state.best_epoch, state.best_score, state.step) == (4, 2, 0.7, 8)
    assert [h["score"] for h in state.history] == [0.5, 0.7, 0.6, 0.65]


def test_without_patience_every_epoch_runs(tmp_path: Path) -> None:
    saved: list[float] = []
    cfg = loop_config(tmp_path)
    state = fit(toy([0.5, 0.7, 0.6, 0.65, 0.9], saved), cfg, prepare(cfg))
    assert saved == [0.5, 0.7, 0.9] and state.epoch == 5 and state.best_epoch == 5


def test_the_checkpoint_records_where_the_run_stands(tmp_path: Path) -> None:
    cfg = loop_config(tmp_path, epochs=2)
    fit(toy([0.1, 0.2], []), cfg, prepare(cfg))
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2 and state["step"] == 4 and state["best_name"] == "score"
    assert (tmp_path / "checkpoint" / "model.safetensors").is_file()


def test_training_lowers_the_loss(tmp_path: Path) -> None:
    objective = toy([0.0] * 5, [])
    before = objective.loss(list(range(8))).item()
    cfg = loop_config(tmp_path)
    fit(objective, cfg, prepare(cfg))
    assert objective.loss(list(range(8))).item() < before - 0.05


def test_a_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    straight = loop_config(tmp_path / "straight", epochs=4)
    fit(toy([0.1, 0.2, 0.3, 0.4], []), straight, prepare(straight))
    first = loop_config(tmp_path / "split", epochs=4)
    objective = toy([0.1, 0.2], [])
    with pytest.raises(StopIteration):  # validation runs out after epoch 2: the run dies there
        fit(objective, first, prepare(first))
    resumed = loop_config(tmp_path / "split", epochs=4, resume=True)
    state = fit(toy([0.3, 0.4], []), resumed, prepare(resumed))
    assert state.epoch == 4 and [h["score"] for h in state.history] == [0.1, 0.2, 0.3, 0.4]
    a, b = (load_file(tmp_path / run / "checkpoint" / "model.safetensors") for run in ("straight", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)
