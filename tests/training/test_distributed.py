"""Training on two CPU processes (gloo): the same run as one process with twice the batch, rank 0 alone writes, and
a rank that dies stops the run (or, under torchrun's --max-restarts, is restarted from the last checkpoint)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import small_config
from textsift import TextsiftError, load, train
from textsift.config import TrainConfig
from textsift.training import distributed
from textsift.training.distributed import Ranks

# A killed rank is noticed by the agent within its monitor interval and the others are stopped; the bound leaves
# room for a loaded CI machine, far below torch's 30-minute collective timeout that a hang would wait out.
DEATH_BOUND_S = 60


def loss_curve(folder: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "runs"))
    events.Reload()
    return [e.value for e in events.Scalars("train/loss")]


def config(data_dir: Path, out: Path, **overrides: object) -> TrainConfig:
    return small_config(data_dir, out, **{"epochs": 2, **overrides})


@pytest.fixture(scope="module")
def one_process(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(config(data_dir, tmp_path_factory.mktemp("one"), batch_size=32))


@pytest.fixture(scope="module")
def two_processes(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(config(data_dir, tmp_path_factory.mktemp("two"), batch_size=16, nproc=2))


def test_two_processes_of_batch_16_follow_the_loss_curve_of_one_of_batch_32(one_process: Path,
                                                                              two_processes: Path) -> None:
    one, two = loss_curve(one_process), loss_curve(two_processes)
    assert len(one) == len(two) == 16  # 240 rows in global batches of 32, two epochs
    # Same data order, same initial weights; only dropout masks and float summation order differ.
    assert max(abs(a - b) for a, b in zip(one, two, strict=True)) < 0.03


def test_two_processes_end_with_the_validation_scores_of_one(one_process: Path, two_processes: Path,
                                                            data_dir: Path) -> None:
    with (data_dir / "validation.csv").open() as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    p_one, p_two = load(one_process).scores(texts), load(two_processes).scores(texts)
    assert float(np.abs(p_one - p_two).mean()) < 0.03
    accuracy = [json.loads((f / "metrics.json").read_text())["validation"]["accuracy"]
                for f in (one_process, two_processes)]
    assert abs(accuracy[0] - accuracy[1]) <= 0.1  # 3 of the 30 validation rows


def test_only_rank_zero_writes_the_folder(two_processes: Path) -> None:
    assert len(list((two_processes / "runs").glob("events.out.tfevents.*"))) == 1  # one writer, not one per rank
    state = json.loads((two_processes / "checkpoint" / "state.json").read_text())
    assert state["ranks"] == 2 and state["epoch"] == 2
    history = json.loads((two_processes / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def test_resuming_on_another_number_of_processes_is_refused(two_processes: Path, data_dir: Path,
                                                          tmp_path: Path) -> None:
    folder = Path(shutil.copytree(two_processes, tmp_path / "model"))
    with pytest.raises(TextsiftError, match="trained on 2 process"):
        train(config(data_dir, folder, batch_size=16, epochs=3, resume=True))


def test_early_stopping_is_decided_alike_on_every_rank(data_dir: Path, tmp_path: Path) -> None:
    # A zero learning rate never improves on the first epoch, so patience 1 stops after the second on both ranks;
    # a rank that went on alone would wait for its peer's gradients until the collective timed out.
    out = train(config(data_dir, tmp_path, batch_size=16, nproc=2, epochs=5, patience=1, learning_rate=0.0))
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 2


@pytest.mark.parametrize("strategy", ["head", "lora"])
def test_other_strategies_train_on_two_processes(strategy: str, data_dir: Path, tmp_path: Path) -> None:
    rate = {"head": 1e-3, "lora": 5e-4}[strategy]
    out = train(config(data_dir, tmp_path, batch_size=16, nproc=2, epochs=1, strategy=strategy, learning_rate=rate))
    settings = json.loads((out / "textsift.json").read_text())
    assert settings["strategy"] == strategy and settings["parameters"]["trainable"] < settings["parameters"]["total"]
    assert load(out).predict(["a gripping, beautifully acted story"])[0] in {"negative", "positive"}


def test_fewshot_refuses_several_processes(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="fewshot strategy"):
        train(config(data_dir, tmp_path, strategy="fewshot", nproc=2, shots=8))


def test_verbs_without_rank_aware_writes_refuse_to_run_under_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(TextsiftError, match="textsift distill runs in one process"):
        distributed.single_process("textsift distill")


def test_each_rank_takes_every_other_row_weighted_by_its_share() -> None:
    batch = list(range(5))
    assert distributed.share(batch, Ranks(0, 2)) == ([0, 2, 4], 1.2)
    assert distributed.share(batch, Ranks(1, 2)) == ([1, 3], 0.8)  # weights average to 1: the batch's mean loss


def test_a_rank_left_without_rows_trains_one_at_weight_zero() -> None:
    assert distributed.share([7], Ranks(1, 2)) == ([7], 0.0)


# The process tests below run the command line, as a user would.
def textsift(*args: str) -> list[str]:
    return [sys.executable, "-m", "textsift", *args]


def torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "--monitor-interval", "0.5", *args]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc: the ranks are grandchildren of the launcher)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rank_process(launcher: int, rank: int) -> int | None:
    """The process of `rank`: torchrun hands RANK to a worker's environment when it starts it; the --nproc launcher
    sets it inside the worker it spawned, so there the last worker started stands for a rank other than 0."""
    spawned = []
    for pid in descendants(launcher):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and b"LOCAL_WORLD_SIZE=2" in environ:
            return pid
        if b"spawn_main" in command:
            spawned.append(pid)
    return max(spawned) if spawned and rank > 0 else None


def kill_rank_after_first_checkpoint(process: subprocess.Popen[str], out: Path, rank: int) -> None:
    deadline = time.monotonic() + 300
    while not (out / "checkpoint" / "state.json").is_file():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.2)
    pid = rank_process(process.pid, rank)
    assert pid is not None, "rank process not found"
    os.kill(pid, signal.SIGKILL)


def run_args(data_dir: Path, out: Path, epochs: int) -> list[str]:
    return ["train", str(data_dir / "train.csv"), "--validation", str(data_dir / "validation.csv"), "--out", str(out),
            "--epochs", str(epochs), "--batch-size", "16", "--learning-rate", "1e-4", "--patience", "100"]


def test_a_killed_rank_stops_the_run_with_one_line_within_a_bound(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    process = subprocess.Popen(textsift(*run_args(data_dir, out, 50), "--nproc", "2"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    kill_rank_after_first_checkpoint(process, out, rank=1)
    killed = time.monotonic()
    _, stderr = process.communicate(timeout=DEATH_BOUND_S + 30)
    assert time.monotonic() - killed < DEATH_BOUND_S
    assert process.returncode == 2
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr
    assert re.match(r"error: training process [01] of 2 died \(signal SIGKILL\)", errors[0]) and "--resume" in errors[0]


def test_torchrun_restarts_resume_from_the_last_checkpoint(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    command = torchrun("--max-restarts", "1", "-m", "textsift", *run_args(data_dir, out, 3))
    # A store per round: torchrun's shared one can hand a restarted rank the last round's addresses (README).
    environment = {**os.environ, "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    kill_rank_after_first_checkpoint(process, out, rank=1)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-2000:]
    assert "resuming after epoch" in stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
