from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import small_config
from textsift import ModelConfig, train
from textsift.config import RehearsalConfig
from textsift.training import strategies


def test_remembered_features_pass_over_the_texts_once_for_several_head_runs(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[int] = []
    real = strategies.cache_features

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        passes.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(strategies, "cache_features", counted)
    with strategies.remembered_features():
        for run, hidden in enumerate((0, 64)):
            train(small_config(data_dir, tmp_path / str(run), strategy="head", epochs=2, learning_rate=None,
                               model=ModelConfig(head_hidden_size=hidden), rehearsal=RehearsalConfig(replay_size=0)))
    assert passes == [240, 30]  # train and validation features, once for both runs
    train(small_config(data_dir, tmp_path / "outside", strategy="head", epochs=1, learning_rate=None,
                       rehearsal=RehearsalConfig(replay_size=0)))
    assert passes == [240, 30, 240, 30]  # outside the block nothing is remembered

