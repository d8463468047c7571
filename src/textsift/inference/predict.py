"""`predict`: answer new texts (or pairs) with a model folder; CSV/TSV/JSONL/Parquet files or stdin lines in,
CSV/TSV/JSONL/Parquet files or stdout out. Each row says what the model's task answers: a label with its probability
and the top k, the labels over their thresholds, or a value.

Streamed: `chunk_size` rows are read, predicted and written at a time, so memory stays flat in the file's size.
With `shard="i/n"` a run reads the whole file but predicts only its own chunks (textsift.inference.shards), for
`merge_predictions` to join.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from textsift import files
from textsift.config import DataConfig, PredictConfig
from textsift.data.io import Item, iter_lines, read_inputs
from textsift.data.rows import RowWriter, output_format
from textsift.errors import TextsiftError
from textsift.inference import shards
from textsift.inference.load import load
from textsift.inference.outputs import flat_columns, flat_row, json_row
from textsift.inference.predictor import Predictor

Shape = Callable[[Item, np.ndarray], dict[str, Any]]


def predict(
    model_dir: Path | str,
    inputs: Path | str | None = None,
    out: Path | str | None = None,
    *,
    top_k: int = PredictConfig.top_k,
    data: DataConfig | None = None,
    batch_size: int = PredictConfig.batch_size,
    device: str = PredictConfig.device,
    chunk_size: int = PredictConfig.chunk_size,
    shard: str | None = PredictConfig.shard,
) -> int:
    """Predict every text (or pair) of `inputs` (a table, or stdin lines when None), in input order; returns the
    number of rows written.

    Each row holds the input and the task's answer (multi-class: label, score, top_k; multi-label: labels, top_k;
    regression: value). Written to `out` when given (.jsonl: JSON rows; .csv, .tsv, .parquet: one column per value
    and every output's score), which appears only when every row is written; else to stdout as JSON lines, chunk by
    chunk. Columns left at their defaults are those the model was trained with. The options are `PredictConfig`'s.
    """
    spec = None if shard is None else shards.parse_shard(shard)
    if spec is not None and (inputs is None or out is None):
        raise TextsiftError("--shard needs an input FILE and --out: each shard reads the file and writes its own part")
    if chunk_size < 1:
        raise TextsiftError(f"chunk_size must be at least 1, not {chunk_size}")
    out = None if out is None else files.writable_file(out)  # before the inference, not after it
    as_json = out is None or output_format(out) == "jsonl"
    classifier = load(model_dir, device)
    shape: Shape = ((lambda item, scores: json_row(classifier, item, scores, top_k)) if as_json
                    else (lambda item, scores: flat_row(classifier, item, scores)))
    chunks = _answered_chunks(classifier, _inputs(classifier, inputs, data), shape, chunk_size, spec, batch_size)
    if out is None:
        return _print(chunks)
    if spec is None:
        return _write(out, flat_columns(classifier), chunks)[0]
    assert inputs is not None  # a shard run reads a file, checked above
    shards.manifest_path(out).unlink(missing_ok=True)  # this run replaces the shard; merge refuses it until it ends
    written, input_rows = _write(out, [shards.ROW, *flat_columns(classifier)], chunks)
    columns = classifier.settings.data_columns(data)
    options = {"batch_size": batch_size, "top_k": top_k, "columns": [columns.text_column, columns.text_pair_column]}
    shards.write_manifest(out, shards.Manifest(spec.index, spec.count, written, input_rows, chunk_size, options,
                                               shards.input_fingerprint(Path(inputs)),
                                               shards.model_fingerprint(Path(model_dir))))
    return written


def _inputs(classifier: Predictor, inputs: Path | str | None, data: DataConfig | None) -> Iterator[Item]:
    if inputs is not None:
        return read_inputs(inputs, classifier.settings.data_columns(data))
    if classifier.task.pairs:
        raise TextsiftError("a pair model reads two texts per row; pass a CSV/JSONL file with both columns")
    return iter_lines(sys.stdin)


def _answered_chunks(classifier: Predictor, items: Iterator[Item], shape: Shape, chunk_size: int,
                     spec: shards.ShardSpec | None, batch_size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(input rows read so far, the rows to write) per chunk of the input. A shard run reads and checks every
    chunk but tokenizes and predicts only its own; its rows start with their input row's index."""
    read = 0
    for k, chunk in enumerate(iter(lambda: list(itertools.islice(items, chunk_size)), [])):
        start, read = read, read + len(chunk)
        if spec is not None and not spec.owns(k):
            yield read, []
            continue
        rows = [shape(item, scores) for item, scores in zip(chunk, classifier.scores(chunk, batch_size), strict=True)]
        yield read, rows if spec is None else [{shards.ROW: start + i, **row} for i, row in enumerate(rows)]


def _write(out: Path, columns: list[str], chunks: Iterator[tuple[int, list[dict[str, Any]]]]) -> tuple[int, int]:
    """Rows written and input rows read; the file appears only once every row is written."""
    input_rows = 0
    with RowWriter(out, columns) as writer:
        for read, rows in chunks:
            input_rows = read
            for row in rows:
                writer.write(row)
    return writer.rows, input_rows


def _print(chunks: Iterator[tuple[int, list[dict[str, Any]]]]) -> int:
    written = 0
    for _, rows in chunks:
        sys.stdout.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        written += len(rows)
    return written
