"""`predict`: answer new texts (or pairs) with a model folder; CSV/TSV/JSONL files or stdin lines in, CSV/JSONL/stdout
out. Each row says what the model's task answers: a label with its probability and the top k, the labels over their
thresholds, or a value."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np

from textsift import files
from textsift.config import DataConfig, PredictConfig
from textsift.data.io import Item, read_lines, read_table
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.inference.predictor import Predictor


def predict(
    model_dir: Path | str,
    inputs: Path | str | None = None,
    out: Path | str | None = None,
    *,
    top_k: int = PredictConfig.top_k,
    data: DataConfig | None = None,
    batch_size: int = PredictConfig.batch_size,
    device: str = PredictConfig.device,
) -> list[dict[str, Any]]:
    """Predict every text (or pair) of `inputs` (a table, or stdin lines when None); rows stay in input order.

    Each row holds the input and the task's answer (multi-class: label, score, top_k; multi-label: labels, top_k;
    regression: value). Written to `out` (.csv or .jsonl) when given, else to stdout as JSON lines. Columns left at
    their defaults are those the model was trained with. The options are those of `PredictConfig`.
    """
    if out is not None:
        files.writable_file(out)  # before the inference, not after it
    classifier = load(model_dir, device)
    items = _inputs(classifier, inputs, data)
    scores = classifier.scores(items, batch_size)
    task, settings = classifier.task, classifier.settings
    rows = [{**_echo(item), **task.decode(row, settings, top_k)} for item, row in zip(items, scores, strict=True)]
    if out is None:
        _write_jsonl(rows, sys.stdout)
    elif Path(out).suffix.lower() == ".jsonl":
        with files.replacing(out) as f:
            _write_jsonl(rows, f)
    else:
        _write_csv(rows, Path(out), classifier, scores)
    return rows


def _inputs(classifier: Predictor, inputs: Path | str | None, data: DataConfig | None) -> list[Item]:
    if inputs is not None:
        return read_table(inputs, classifier.settings.data_columns(data), require_labels=False).inputs
    if classifier.task.pairs:
        raise TextsiftError("a pair model reads two texts per row; pass a CSV/JSONL file with both columns")
    return list(read_lines(sys.stdin))


def _echo(item: Item) -> dict[str, str]:
    return {"text": item} if isinstance(item, str) else {"text": item[0], "text_pair": item[1]}


def _write_jsonl(rows: list[dict[str, Any]], f: IO[str]) -> None:
    for row in rows:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_csv(rows: list[dict[str, Any]], path: Path, classifier: Predictor, scores: np.ndarray) -> None:
    """The inputs, the answer (label and score, labels joined by ';', or value) and every output's score."""
    answer = {"regression": ["value"], "multi_label_classification": ["labels"]}.get(
        classifier.task.problem_type, ["label", "score"])
    inputs = ["text", "text_pair"] if classifier.task.pairs else ["text"]
    per_output = [] if answer == ["value"] else [f"p_{name}" for name in classifier.labels]
    with files.replacing(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*inputs, *answer, *per_output])
        for row, p in zip(rows, scores, strict=True):
            cells = [";".join(row[c]) if c == "labels" else row[c] for c in inputs + answer]
            writer.writerow([*cells, *([f"{x:.6f}" for x in p] if per_output else [])])
