from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import textsift
from tests.helpers import run_cli
from textsift.cli import app as cli
from textsift.cli import data


def test_every_verb_has_a_command_and_a_function() -> None:
    commands = {c.name for c in cli.app.registered_commands}
    assert {"train", "evaluate", "predict"} <= commands
    for verb in commands:
        assert callable(getattr(textsift, verb)), f"textsift.{verb} should be the function behind `textsift {verb}`"
    assert {c.name for c in data.app.registered_commands} == {"list", "fetch", "clean", "leaks", "augment"}
    for function in ("clean_file", "file_leaks", "augment_file"):  # the data verbs' functions, behind the commands
        assert callable(getattr(textsift, function))
    assert callable(textsift.merge_predictions)  # behind `textsift predict merge`


def test_data_list_shows_the_catalogue(monkeypatch, capsys) -> None:
    assert run_cli(monkeypatch, "data", "list") == 0
    out = capsys.readouterr().out
    assert "movie-snippets" in out and "amazon-snippets" in out and "Hutto" in out


def test_train_evaluate_predict_through_the_cli(data_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    model = tmp_path / "m"
    code = run_cli(monkeypatch, "train", str(data_dir / "train.csv"), "--validation", str(data_dir / "validation.csv"),
                   "--out", str(model), "--strategy", "head", "--epochs", "2")
    assert code == 0 and (model / "model.safetensors").is_file()
    assert run_cli(monkeypatch, "evaluate", str(model), str(data_dir / "test.csv"), "--out", str(tmp_path / "e")) == 0
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["n"] == 30
    capsys.readouterr()
    assert run_cli(monkeypatch, "predict", str(model), str(data_dir / "test.csv"), "--top-k", "2") == 0
    assert len(capsys.readouterr().out.splitlines()) == 30


def test_predict_shards_and_merge_through_the_cli(int8_model: Path, data_dir: Path, tmp_path: Path,
                                                  monkeypatch) -> None:
    run = ("predict", str(int8_model), str(data_dir / "test.csv"), "--chunk-size", "8", "--out")
    assert run_cli(monkeypatch, *run, str(tmp_path / "one.jsonl")) == 0
    shards = [str(tmp_path / f"p-{i}.jsonl") for i in range(2)]
    for i, shard in enumerate(shards):
        assert run_cli(monkeypatch, *run, shard, "--shard", f"{i}/2") == 0
    assert run_cli(monkeypatch, "predict", "merge", *shards, "--out", str(tmp_path / "merged.jsonl")) == 0
    assert (tmp_path / "merged.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()


def test_predict_merge_has_its_own_help(monkeypatch, capsys) -> None:
    assert run_cli(monkeypatch, "predict", "merge", "--help") == 0
    out = capsys.readouterr().out
    assert "textsift predict merge [OPTIONS] {shard_files}..." in out and "--out" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("review,label\na,pos\nb,neg\n", "train.csv:1: no column 'text'"),
        ("text,label\na,pos\n,neg\n", "train.csv:3: empty text"),
        ("text,label\na,pos\nb,\n", "train.csv:3: missing label"),
        ("text,label\na,pos\nb,pos\n", "only one class ('pos')"),
    ],
)
def test_bad_training_file_gives_one_line_and_exit_2(tmp_path, monkeypatch, capsys, content, expected) -> None:
    (tmp_path / "train.csv").write_text(content)
    assert run_cli(monkeypatch, "train", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and len(err.splitlines()) == 1


def test_unknown_label_in_validation_gives_exit_2(data_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "val.csv").write_text("text,label\nfine,positive\nso so,neutral\n")
    code = run_cli(monkeypatch, "train", str(data_dir / "train.csv"), "--validation", str(tmp_path / "val.csv"),
                   "--out", str(tmp_path / "m"), "--strategy", "head")
    assert code == 2
    assert "val.csv:3: label 'neutral' was not in the training data" in capsys.readouterr().err


def test_evaluate_on_a_foreign_folder_gives_exit_2(tmp_path: Path, data_dir: Path, monkeypatch, capsys) -> None:
    assert run_cli(monkeypatch, "evaluate", str(tmp_path), str(data_dir / "test.csv")) == 2
    assert "not a textsift model folder" in capsys.readouterr().err


def test_installed_entry_point_reports_errors_without_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "textsift", "predict", str(tmp_path / "missing")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing'}: no such model folder; "
                                                "pass a folder written by `textsift train`"]
