from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from textsift.config import ModelConfig
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.training.config import TuneConfig
from textsift.training.search_space import Param, read_space
from textsift.training.tune import tune

optuna = pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def small_data(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 training rows of the movie slice and its 30 validation rows: each trial encodes them afresh."""
    out = tmp_path_factory.mktemp("tune-data")
    lines = (data_dir / "train.csv").read_text().splitlines(keepends=True)
    (out / "train.csv").write_text("".join(lines[:151]))
    shutil.copy(data_dir / "validation.csv", out / "validation.csv")
    return out


def config(data: Path, out: Path, **overrides: Any) -> TuneConfig:
    """A quick head search: two epochs per trial, short texts, two threads."""
    settings: dict[str, Any] = dict(train_file=data / "train.csv", validation_file=data / "validation.csv", out=out,
                                    strategy="head", epochs=2, trials=3, num_threads=2,
                                    model=ModelConfig(max_length=64))
    settings.update(overrides)
    return TuneConfig(**settings)


def study_of(out: Path) -> optuna.Study:
    return optuna.load_study(study_name="textsift", storage=f"sqlite:///{out / 'study.db'}")


@pytest.fixture(scope="module")
def searched(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished study of three trials (none pruned: the pruner waits for five)."""
    out = tmp_path_factory.mktemp("tune") / "search"
    tune(config(small_data, out))
    return out


def resumable(searched: Path, tmp_path: Path) -> Path:
    """A private copy of the search folder, study included, to run on."""
    return Path(shutil.copytree(searched, tmp_path / "search"))


def test_the_best_trial_folder_loads_predicts_and_scores_the_best_value(searched: Path) -> None:
    summary = json.loads((searched / "tune.json").read_text())
    best = max((row for row in summary["trials"] if row["state"] == "complete"), key=lambda row: row["value"])
    assert summary["best"]["trial"] == best["trial"] and summary["best"]["params"] == best["params"]
    metrics = json.loads((searched / "best" / "metrics.json").read_text())["validation"]
    assert metrics["macro"]["f1"] == pytest.approx(best["value"], abs=1e-9)
    assert set(load(searched / "best").predict(["a gripping, funny film", "dull and far too long"])) <= {
        "negative", "positive"}


def test_the_other_trial_folders_are_deleted(searched: Path) -> None:
    assert [row["state"] for row in json.loads((searched / "tune.json").read_text())["trials"]] == ["complete"] * 3
    assert not (searched / "trials").exists()
    assert sorted(p.name for p in searched.iterdir()) == ["best", "importance.png", "study.db", "tune.json"]


def test_the_importance_plot_is_written_for_complete_trials_with_varying_params(searched: Path) -> None:
    importance = json.loads((searched / "tune.json").read_text())["importance"]
    assert set(importance) == {"learning_rate", "head_hidden_size", "pool_layers", "batch_size"}
    assert sum(importance.values()) == pytest.approx(1.0)
    assert (searched / "importance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_interrupted_study_resumes_where_it_stopped(searched: Path, small_data: Path, tmp_path: Path) -> None:
    out = resumable(searched, tmp_path)
    before = [(t.number, t.params, t.value) for t in study_of(out).trials]
    tune(config(small_data, out, trials=4))
    trials = study_of(out).trials
    assert [(t.number, t.params, t.value) for t in trials[:3]] == before
    assert len(trials) == 4 and trials[3].state == optuna.trial.TrialState.COMPLETE
    assert trials[3].params != trials[0].params  # the sampler does not replay the first run's draws


def test_a_finished_study_runs_no_more_trials(searched: Path, small_data: Path, tmp_path: Path) -> None:
    out = resumable(searched, tmp_path)
    weights = (out / "best" / "model.safetensors").stat().st_mtime_ns
    assert tune(config(small_data, out)) == out / "best"
    assert len(study_of(out).trials) == 3 and (out / "best" / "model.safetensors").stat().st_mtime_ns == weights


def test_a_trial_left_running_is_failed_and_its_parameters_run_again(small_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "search"
    (out / "trials" / "trial-0000").mkdir(parents=True)  # what a killed process leaves behind
    study = optuna.create_study(storage=f"sqlite:///{out / 'study.db'}", study_name="textsift", direction="maximize")
    left = study.ask()
    left.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
    left.suggest_categorical("batch_size", [16, 32, 64])
    tune(config(small_data, out, trials=1))
    trials = study_of(out).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert {k: trials[1].params[k] for k in left.params} == left.params and trials[1].user_attrs["retry_of"] == 0
    assert not (out / "trials").exists() and (out / "best" / "textsift.json").is_file()


def test_a_trial_below_the_median_is_pruned_and_its_folder_deleted(searched: Path, small_data: Path,
                                                                   tmp_path: Path) -> None:
    out = resumable(searched, tmp_path)
    study = study_of(out)
    at_first_epoch = sorted(study.trials, key=lambda t: t.intermediate_values[1])
    assert at_first_epoch[0].intermediate_values[1] < at_first_epoch[1].intermediate_values[1]
    # Training is seeded, so the worst trial's parameters score the same again: below the median of three.
    study.enqueue_trial(at_first_epoch[0].params)
    tune(config(small_data, out, trials=4, prune_startup=3, prune_warmup=0))
    trials = study_of(out).trials
    assert trials[3].state == optuna.trial.TrialState.PRUNED and list(trials[3].intermediate_values) == [1]
    assert not (out / "trials").exists()
    assert json.loads((out / "tune.json").read_text())["best"] == json.loads((searched / "tune.json").read_text())[
        "best"] | {"folder": str(out / "best")}


def test_a_study_that_searched_other_settings_is_refused(searched: Path, small_data: Path, tmp_path: Path) -> None:
    out = resumable(searched, tmp_path)
    with pytest.raises(TextsiftError, match=r"searched other settings \(epochs differ\)"):
        tune(config(small_data, out, epochs=3))


@pytest.mark.parametrize(("space", "problem"), [
    ({"learning_rat": {"low": 1e-4, "high": 1e-2}}, "'learning_rat' is not a setting tune can search"),
    ({"train_file": {"choices": ["a.csv"]}}, "it is the same for every trial"),
    ({"batch_size": {"low": 16}}, "batch_size needs numbers low and high"),
    ({"batch_size": {"low": 16, "high": 64, "choices": [16]}}, "batch_size must be"),
    ({"learning_rate": {"low": 0.0, "high": 1e-2, "log": True}}, "learning_rate needs low < high, low > 0 with log"),
    ({"batch_size": {"low": 16.0, "high": 64}}, "batch_size is an integer setting"),
    ({"batch_size": {"choices": [16, 32.5]}}, "batch_size's choices must be a non-empty list of int values"),
    ({"warmup_ratio": {"low": 0.0, "high": 2.0}}, r"warmup_ratio = 2.0 is not a valid setting"),
    (["learning_rate"], "a search space is a JSON object"),
])
def test_a_bad_space_file_is_one_clear_error(space: Any, problem: str, small_data: Path, tmp_path: Path) -> None:
    file = tmp_path / "space.json"
    file.write_text(json.dumps(space))
    with pytest.raises(TextsiftError, match=f"^{re.escape(str(file))}: .*{problem}"):
        tune(config(small_data, tmp_path / "search", space=file))
    assert not (tmp_path / "search").exists()  # refused before anything is written


def test_a_space_file_overrides_and_drops_entries(tmp_path: Path) -> None:
    file = tmp_path / "space.json"
    file.write_text(json.dumps({"learning_rate": {"choices": [3e-3]}, "head_hidden_size": None, "lora_r": None,
                                "max_length": {"low": 32, "high": 128, "step": 32}}))
    space = read_space("head", file)
    assert list(space) == ["learning_rate", "pool_layers", "batch_size", "max_length"]
    assert space["learning_rate"].choices == (3e-3,) and space["pool_layers"].choices == (1, 2, 3)
    assert space["max_length"] == Param("max_length", ("model", "max_length"), "int", 32, 128, step=32)


def test_an_unusable_study_url_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: Any,
                                                      small_data: Path, tmp_path: Path) -> None:
    code = run_cli(monkeypatch, "tune", str(small_data / "train.csv"), "--strategy", "head", "--out",
                   str(tmp_path / "search"), "--study", "nosuchdb://somewhere")
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: --study nosuchdb://somewhere: cannot open the study")
    assert len(err.splitlines()) == 1
