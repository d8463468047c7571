"""`predict`: label new texts with a model folder; CSV/TSV/JSONL files or stdin lines in, CSV/JSONL/stdout out."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np

from textsift import files
from textsift.config import DataConfig, PredictConfig
from textsift.data.io import read_lines, read_table
from textsift.inference.load import load
from textsift.inference.predictor import rank


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
    """Predict every text of `inputs` (a table, or stdin lines when None); rows stay in input order.

    Each row holds the text, the top label, its probability and the `top_k` most probable labels. Written to
    `out` (.csv or .jsonl) when given, else to stdout as JSON lines. The options are those of `PredictConfig`.
    """
    if out is not None:
        files.writable_file(out)  # before the inference, not after it
    classifier = load(model_dir, device)
    texts = read_lines(sys.stdin) if inputs is None else read_table(inputs, data, require_labels=False).texts
    proba = classifier.predict_proba(texts, batch_size)
    k = max(1, min(top_k, len(classifier.labels)))
    rows = [{"text": text, **rank(p, classifier.labels, k)} for text, p in zip(texts, proba, strict=True)]
    if out is None:
        _write_jsonl(rows, sys.stdout)
    elif Path(out).suffix.lower() == ".jsonl":
        with files.replacing(out) as f:
            _write_jsonl(rows, f)
    else:
        _write_csv(rows, Path(out), classifier.labels, proba)
    return rows


def _write_jsonl(rows: list[dict[str, Any]], f: IO[str]) -> None:
    for row in rows:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_csv(rows: list[dict[str, Any]], path: Path, labels: list[str], proba: np.ndarray) -> None:
    with files.replacing(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "score", *[f"p_{name}" for name in labels]])
        for row, p in zip(rows, proba, strict=True):
            writer.writerow([row["text"], row["label"], row["score"], *[f"{x:.6f}" for x in p]])
