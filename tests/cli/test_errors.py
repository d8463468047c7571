"""Every CLI failure a careless user can cause: exit 2, and one line (or click's usage text), never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import copy_model, run_cli

Setup = Callable[[Path, Path, Path], list[str]]  # (tmp_path, data_dir, int8 folder) -> argv


def binary_jsonl(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "x.jsonl").write_bytes(b'{"text": "a", "label": "x"}\n\xff\xfe\x00\x81 binary\n')
    return ["train", str(tmp / "x.jsonl"), "--out", str(tmp / "m")]


def garbage_parquet(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "x.parquet").write_bytes(b"PAR1 this is not really parquet")
    return ["train", str(tmp / "x.parquet"), "--out", str(tmp / "m")]


def tiny_file_without_validation(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "t.csv").write_text("text,label\ngood,pos\nfine,pos\nbad,neg\n")
    return ["train", str(tmp / "t.csv"), "--out", str(tmp / "m")]


def unwritable_train_out(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "a-file").write_text("x")
    return ["train", str(data / "train.csv"), "--out", str(tmp / "a-file" / "m")]


def unwritable_predict_out(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "a-file").write_text("x")
    return ["predict", str(onnx), str(data / "test.csv"), "--out", str(tmp / "a-file" / "p.csv")]


def predict_out_is_a_folder(tmp: Path, data: Path, onnx: Path) -> list[str]:
    return ["predict", str(onnx), str(data / "test.csv"), "--out", str(tmp)]


def truncated_tokenizer(tmp: Path, data: Path, onnx: Path) -> list[str]:
    folder = copy_model(onnx, tmp / "onnx")
    text = (folder / "tokenizer.json").read_text()
    (folder / "tokenizer.json").write_text(text[: len(text) // 2])
    return ["predict", str(folder), str(data / "test.csv")]


def null_label(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "t.csv").write_text("text,label\ngood,pos\nbad,NaN\n")
    return ["train", str(tmp / "t.csv"), "--out", str(tmp / "m")]


def nan_timeout(tmp: Path, data: Path, onnx: Path) -> list[str]:
    return ["serve", str(onnx), "--timeout-s", "nan"]


def swapped_labels(tmp: Path, data: Path, onnx: Path) -> list[str]:
    folder = copy_model(onnx, tmp / "onnx")
    settings = json.loads((folder / "textsift.json").read_text())
    settings["labels"] = settings["labels"][::-1]
    (folder / "textsift.json").write_text(json.dumps(settings))
    return ["predict", str(folder), str(data / "test.csv")]


def unknown_multi_label(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "t.csv").write_text("text,tags\na,x;y\nb,y\nc,x\nd,x;y\n")
    (tmp / "v.csv").write_text("text,tags\ne,x;z\n")
    return ["train", str(tmp / "t.csv"), "--validation", str(tmp / "v.csv"), "--task", "multi-label",
            "--label-column", "tags", "--label-sep", ";", "--out", str(tmp / "m")]


def empty_multi_label_set(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "t.jsonl").write_text('{"text": "a", "tags": ["x"]}\n{"text": "b", "tags": []}\n')
    return ["train", str(tmp / "t.jsonl"), "--task", "multi-label", "--label-column", "tags", "--out", str(tmp / "m")]


def separator_never_occurs(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "t.csv").write_text("text,tags\na,x|y\nb,y\nc,x\n")
    return ["train", str(tmp / "t.csv"), "--task", "multi-label", "--label-column", "tags", "--label-sep", ";",
            "--out", str(tmp / "m")]


def non_numeric_target(tmp: Path, data: Path, onnx: Path) -> list[str]:
    (tmp / "t.csv").write_text("text,score\na,1.5\nb,2\nc,high\n")
    return ["train", str(tmp / "t.csv"), "--task", "regression", "--label-column", "score", "--out", str(tmp / "m")]


def missing_pair_column(tmp: Path, data: Path, onnx: Path) -> list[str]:
    return ["train", str(data / "train.csv"), "--task", "pair", "--text-pair-column", "answer", "--out",
            str(tmp / "m")]


def regression_with_class_weight(tmp: Path, data: Path, onnx: Path) -> list[str]:
    return ["train", str(data / "train.csv"), "--task", "regression", "--label-column", "valence", "--class-weight",
            "balanced", "--out", str(tmp / "m")]


def rank_with_a_single_text_model(tmp: Path, data: Path, onnx: Path) -> list[str]:
    return ["rank", str(onnx), "a query", str(data / "test.csv")]


CASES: dict[str, tuple[Setup, str]] = {
    "unknown multi-label": (unknown_multi_label, "v.csv:2: label 'z' was not in the training data"),
    "empty multi-label set": (empty_multi_label_set, "t.jsonl:2: an empty label set"),
    "separator never occurs": (separator_never_occurs, "the label separator ';' occurs in no label cell"),
    "non-numeric regression target": (non_numeric_target, "t.csv:4: target 'high' in column 'score' is not a finite"),
    "missing pair column": (missing_pair_column, "train.csv:1: no column 'answer'"),
    "regression with --class-weight": (regression_with_class_weight, "a regression task has none"),
    "rank with a single-text model": (rank_with_a_single_text_model, "ranking needs a pair model"),
    "binary jsonl": (binary_jsonl, "x.jsonl:2: not UTF-8 text"),
    "garbage parquet": (garbage_parquet, "x.parquet: not a readable Parquet file"),
    "tiny file, no validation": (tiny_file_without_validation, "too few rows to hold out a stratified"),
    "unwritable train --out": (unwritable_train_out, "cannot write there"),
    "unwritable predict --out": (unwritable_predict_out, "cannot write there"),
    "predict --out is a folder": (predict_out_is_a_folder, "is a folder, not a file"),
    "truncated tokenizer.json": (truncated_tokenizer, "tokenizer.json: differs from the sha256"),
    "NaN label": (null_label, "t.csv:3: missing label ('NaN')"),
    "serve --timeout-s nan": (nan_timeout, "timeout_s must be a finite number, not nan"),
    "swapped labels": (swapped_labels, "every prediction would be mislabelled"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(case: str, tmp_path: Path, data_dir: Path, int8_model: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    setup, expected = CASES[case]
    code = run_cli(monkeypatch, *setup(tmp_path, data_dir, int8_model))
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and expected in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(("argv", "expected"), [
    (["train", "x.csv", "--bogus", "1"], "No such option: --bogus"),
    (["bogus"], "No such command 'bogus'"),
    (["train"], "Missing argument"),
])
def test_a_mistyped_command_shows_the_usage_line(argv: list[str], expected: str, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    assert run_cli(monkeypatch, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: ") and expected in err and "Traceback" not in err


def test_an_unwritable_predict_out_is_found_before_the_model_loads(data_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from textsift.inference import predict

    (tmp_path / "a-file").write_text("x")
    monkeypatch.setattr(predict, "load", lambda *a, **k: pytest.fail("the model loaded before the check"))
    assert run_cli(monkeypatch, "predict", str(tmp_path), str(data_dir / "test.csv"), "--out",
                   str(tmp_path / "a-file" / "p.csv")) == 2
