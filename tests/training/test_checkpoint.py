"""--resume continues only the run it belongs to, and says so in one line when it cannot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import small_config
from textsift import TextsiftError, train


@pytest.fixture(scope="module")
def run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two head epochs, so the checkpoint holds the state after epoch 2."""
    return train(small_config(data_dir, tmp_path_factory.mktemp("run"), strategy="head", epochs=2, patience=5))


def resume(data_dir: Path, out: Path, **overrides: object) -> Path:
    return train(small_config(data_dir, out, strategy="head", epochs=3, patience=5, resume=True, **overrides))


def private_copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


def test_a_checkpoint_of_mixed_saves_is_refused(run: Path, data_dir: Path, tmp_path: Path) -> None:
    out = private_copy(run, tmp_path)
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    (out / "checkpoint" / "state.json").write_text(json.dumps({**state, "stamp": "from-another-save"}))
    with pytest.raises(TextsiftError, match="the checkpoint files come from different saves"):
        resume(data_dir, out)


def test_a_truncated_optimizer_file_is_one_line_without_torchs_advice(run: Path, data_dir: Path,
                                                                      tmp_path: Path) -> None:
    out = private_copy(run, tmp_path)
    data = (out / "checkpoint" / "optimizer.pt").read_bytes()
    (out / "checkpoint" / "optimizer.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(TextsiftError, match=r"the checkpoint is damaged .*start again without --resume") as error:
        resume(data_dir, out)
    assert "weights_only" not in str(error.value) and len(str(error.value).splitlines()) == 1


def test_a_checkpoint_for_another_label_count_is_refused(run: Path, data_dir: Path, tmp_path: Path) -> None:
    out = private_copy(run, tmp_path)
    rows = (data_dir / "train.csv").read_text().splitlines()
    third = [rows[0]] + rows[1:] + [r.replace(",positive,", ",mixed,") for r in rows[1:40]]
    (tmp_path / "train.csv").write_text("\n".join(third) + "\n")
    with pytest.raises(TextsiftError, match="the checkpoint does not fit this model"):
        train(small_config(data_dir, out, strategy="head", epochs=3, resume=True, train_file=tmp_path / "train.csv"))


def test_a_new_run_removes_the_checkpoint_of_an_earlier_one(run: Path, data_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from textsift.training import loop

    out = private_copy(run, tmp_path)
    earlier_logs = {p.name for p in (out / "runs").iterdir()}
    monkeypatch.setattr(loop, "train_epoch", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):  # the new run dies in its first epoch, before any checkpoint
        train(small_config(data_dir, out, strategy="head", epochs=3))
    monkeypatch.undo()
    assert not (out / "checkpoint").exists() and not earlier_logs & {p.name for p in (out / "runs").iterdir()}
    with pytest.raises(TextsiftError, match="no checkpoint to resume from"):
        resume(data_dir, out)
    assert (out / "model.safetensors").is_file()  # the earlier model stays until a new best epoch replaces it
