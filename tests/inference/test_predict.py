from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from textsift import load, predict


def test_predictions_keep_input_order_and_match_the_model(full_model: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    rows = predict(full_model, data_dir / "test.csv", out)
    with (data_dir / "test.csv").open() as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    with out.open() as f:
        written = list(csv.DictReader(f))
    assert [r["text"] for r in written] == texts == [r["text"] for r in rows]
    assert [r["label"] for r in written] == load(full_model).predict(texts)
    assert set(written[0]) == {"text", "label", "score", "p_negative", "p_positive"}


def test_top_k_lists_labels_by_probability(full_model: Path, data_dir: Path, tmp_path: Path) -> None:
    rows = predict(full_model, data_dir / "test.csv", tmp_path / "p.jsonl", top_k=5)
    first = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert first == rows[0] and len(first["top_k"]) == 2  # capped at the number of labels
    assert first["top_k"][0]["score"] >= first["top_k"][1]["score"] and first["top_k"][0]["label"] == first["label"]


def test_stdin_lines_are_predicted_to_stdout(full_model: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("loved it\nhated it\n"))
    predict(full_model)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["text"] for x in lines] == ["loved it", "hated it"]
