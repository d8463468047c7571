"""The shape of a prediction row, one place for every writer: `predict` (JSONL, CSV, TSV, Parquet), its shards and
merge, and the Dask recipe. A JSON row nests the task's answer (top k as a list); a flat row (CSV, TSV, Parquet, a
DataFrame) has one column per value: the answer, then every output's score as p_<label>."""

from __future__ import annotations

from typing import Any

import numpy as np

from textsift.data.io import Item
from textsift.inference.predictor import Predictor


def input_columns(predictor: Predictor) -> list[str]:
    return ["text", "text_pair"] if predictor.task.pairs else ["text"]


def answer_columns(predictor: Predictor) -> list[str]:
    """label and score (multi-class), labels joined by ';' (multi-label), or value (regression)."""
    return {"regression": ["value"], "multi_label_classification": ["labels"]}.get(
        predictor.task.problem_type, ["label", "score"])


def score_columns(predictor: Predictor) -> list[str]:
    return [] if predictor.task.problem_type == "regression" else [f"p_{name}" for name in predictor.labels]


def flat_columns(predictor: Predictor) -> list[str]:
    return input_columns(predictor) + answer_columns(predictor) + score_columns(predictor)


def echo(item: Item) -> dict[str, str]:
    return {"text": item} if isinstance(item, str) else {"text": item[0], "text_pair": item[1]}


def json_row(predictor: Predictor, item: Item, scores: np.ndarray, top_k: int) -> dict[str, Any]:
    """The input and the task's answer, as predict's JSON lines and the server give it."""
    return {**echo(item), **predictor.task.decode(scores, predictor.settings, top_k)}


def flat_row(predictor: Predictor, item: Item, scores: np.ndarray) -> dict[str, Any]:
    """The input, the answer and every output's score (rounded to 6 decimals), one value per column."""
    answer = predictor.task.decode(scores, predictor.settings, 1)
    row: dict[str, Any] = echo(item)
    for column in answer_columns(predictor):
        row[column] = ";".join(answer[column]) if column == "labels" else answer[column]
    for column, value in zip(score_columns(predictor), scores, strict=False):
        row[column] = round(float(value), 6)
    return row
